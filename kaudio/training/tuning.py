"""The λ grid of Zhong et al. §4.2 as a keras-tuner ``GridSearch``, and repeated runs over seeds.

* :func:`lambda_grid_search` tries ``loss.fine_weight`` (λ of Eq. 2) in {0.70, 0.75, 0.80, 0.85,
  0.90} and keeps the λ with the lowest validation *fine* BCE (the paper selects λ on the fine
  level, which every method shares; the total loss is not comparable across λ). Each trial is a
  full :func:`kaudio.fit` run in ``<run_dir>/lambda_<λ>``; an interrupted search resumes: every
  call walks the whole grid, a trial that finished with the same spec is read back from its folder
  and an interrupted one resumes from its backup. (keras-tuner's own reload is not used: its
  ``GridSearch`` oracle does not save which grid points it has visited, so a reloaded search either
  ends after the trials it finished, silently skipping the rest of the grid, or fails with a
  ``KeyError`` once a resumed trial ends; seen with keras-tuner 1.4.8.)
* :func:`run_seeds` repeats fit + evaluate with seeds 0..N−1 and reports mean ± std
  (:func:`kaudio.metrics.summarize_runs`) in ``<run_dir>/metrics.md`` / ``metrics.csv``.

Datasets may be given as ``tf.data`` datasets or as callables ``seed -> dataset`` (so that the
training shuffle follows the run's seed).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from kaudio.errors import KaudioError
from kaudio.metrics import summarize_runs, to_markdown, write_table

LAMBDA_GRID = (0.70, 0.75, 0.80, 0.85, 0.90)
OBJECTIVE = "val_fine_bce"


def _dataset(source, seed: int):
    return source(seed) if callable(source) else source


def lambda_grid_search(spec, train_ds, val_ds, run_dir: "str | os.PathLike", grid: Sequence[float] = LAMBDA_GRID,
                       overrides=None, verbose: int = 1) -> dict:
    """keras-tuner ``GridSearch`` over ``loss.fine_weight`` minimising ``val_fine_bce``.

    Returns:
        ``{"best_fine_weight", "best_run_dir", "trials": [{"fine_weight", "val_fine_bce", "run_dir"}]}``
        (also written to ``<run_dir>/lambda_grid.json``).
    """
    import keras
    import keras_tuner

    from kaudio.training.fit import finished_run, fit, read_history, training_spec

    grid = [float(v) for v in grid]
    bad = [v for v in grid if not 0.0 <= v <= 1.0]
    if not grid or bad:
        raise KaudioError(f"the λ grid must be non-empty values in [0, 1], got {grid}")
    spec = training_spec(spec, overrides)
    if not getattr(spec.component("head"), "trains_coarse", True):
        raise KaudioError(f"the {spec.head['type']!r} head trains the fine level only, so λ (loss.fine_weight) has "
                          "no effect and every grid point would train the same model; drop --lambda-grid")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    trials: dict[float, dict] = {}

    class LambdaHyperModel(keras_tuner.HyperModel):
        def build(self, hp):
            hp.Choice("fine_weight", grid)
            # keras-tuner wants a Model here; kaudio.fit builds the trial's real model (with its seed)
            # in `fit`, so an empty placeholder avoids building e.g. CNN14's 80 M weights twice.
            return keras.Sequential(name="lambda_trial_placeholder")

        def fit(self, hp, model, *args, callbacks=None, **kwargs):
            weight = float(hp.get("fine_weight"))
            trial_dir = run_dir / f"lambda_{weight:.2f}"
            trial_spec = training_spec(spec, {"loss.fine_weight": weight})
            if finished_run(trial_dir, trial_spec):
                history = read_history(trial_dir / "history.csv")
                if verbose:
                    print(f"λ = {weight:.2f}: finished earlier with this spec, read back from {trial_dir}", flush=True)
            else:
                seed = spec.train["seed"]
                history = fit(trial_spec, _dataset(train_ds, seed), _dataset(val_ds, seed), run_dir=trial_dir,
                              verbose=verbose, callbacks=callbacks).history
            value = float(min(history[OBJECTIVE]))
            trials[weight] = {"fine_weight": weight, OBJECTIVE: value, "run_dir": str(trial_dir)}
            return {OBJECTIVE: value}

    tuner = keras_tuner.GridSearch(LambdaHyperModel(), objective=keras_tuner.Objective(OBJECTIVE, "min"),
                                   max_trials=len(grid), directory=str(run_dir), project_name="lambda_grid",
                                   overwrite=True)  # a fresh oracle: finished trials are read back by `fit`
    tuner.search(verbose=verbose)
    missing = [w for w in grid if w not in trials]
    if missing:  # never choose λ from part of the grid
        raise KaudioError(f"the λ grid search in {run_dir} ended without trying λ = {missing} "
                          f"(tried: {sorted(trials)}); run it again: finished trials are read back")
    best = min(sorted(trials), key=lambda weight: trials[weight][OBJECTIVE])
    out = {"best_fine_weight": best, "best_run_dir": str(run_dir / f"lambda_{best:.2f}"),
           "trials": [trials[w] for w in sorted(trials)]}
    (run_dir / "lambda_grid.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


def finished_run_model(run_dir: Path, spec):
    """The best model of a run in ``run_dir`` that finished training and evaluation with exactly ``spec``
    (no ``backup/`` left, ``best.keras`` and the run's ``metrics.csv`` present, the same ``spec.yaml``), else None.

    Re-running an interrupted multi-seed command then keeps the seeds that finished instead of
    training them again from scratch (an unfinished seed resumes from its backup as usual)."""
    from kaudio.training.fit import finished_run, load_best_model

    run_dir = Path(run_dir)
    if not ((run_dir / "metrics.csv").is_file() and finished_run(run_dir, spec)):
        return None
    return load_best_model(run_dir)


def run_seeds(spec, train_ds, val_ds, test_ds, run_dir: "str | os.PathLike", seeds: int = 3, overrides=None,
              method: str | None = None, verbose: int = 1, trainer=None, split: str = "test") -> dict:
    """Fit and evaluate with ``train.seed`` = 0..seeds−1 (runs in ``<run_dir>/seed_<i>``), then report
    mean ± std over the runs in ``<run_dir>/metrics.md`` and ``metrics.csv``. ``trainer``: the trainer
    that read the data (its evaluation may use the folder, e.g. SED's events.csv), scoring ``split``.

    Returns:
        ``{"runs": [rows per seed], "summary": summarize_runs rows, "markdown": table, "run_dirs": [...]}``.
    """
    from kaudio.training.fit import fit, training_spec
    from kaudio.training.trainer import trainer_for

    if seeds < 1:
        raise KaudioError(f"seeds must be >= 1, got {seeds}")
    spec = training_spec(spec, overrides)
    trainer = trainer or trainer_for(spec)  # the trainer that read the data (for data-aware evaluation)
    method = method or spec.head["type"]
    run_dir = Path(run_dir)
    runs, run_dirs = [], []
    for seed in range(seeds):
        seed_dir = run_dir / f"seed_{seed}"
        model = finished_run_model(seed_dir, training_spec(spec, {"train.seed": seed}))
        if model is not None:
            print(f"{seed_dir.name}: finished earlier with this spec; evaluating its best.keras again", flush=True)
        else:
            model = fit(spec, _dataset(train_ds, seed), _dataset(val_ds, seed), run_dir=seed_dir,
                        overrides={"train.seed": seed}, verbose=verbose).model
        evaluation = trainer.evaluate(model, _dataset(val_ds, seed), _dataset(test_ds, seed), seed_dir,
                                      split=split)
        runs.append(evaluation["rows"])
        run_dirs.append(str(seed_dir))
    summary = summarize_runs({method: runs})
    write_table({method: runs}, run_dir / "metrics")
    return {"runs": runs, "summary": summary, "markdown": to_markdown(summary), "run_dirs": run_dirs}


__all__ = ["LAMBDA_GRID", "OBJECTIVE", "finished_run_model", "lambda_grid_search", "run_seeds"]
