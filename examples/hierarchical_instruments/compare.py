"""Train the flat, GMP, LP and ResAtt heads on the rendered instrument dataset and compare them.

    python compare.py --data DATA_DIR --out runs/instruments [--seeds 3] [--epochs 15]

For every head spec in ``specs/`` (``instruments_<head>.yaml``) and every seed this script

1. trains with :func:`kaudio.fit` (the same small CNN, data, batches and seed for every head;
   the best epoch is the one with the lowest validation loss),
2. tunes one F1 threshold per tag on the validation set and scores the test set at the fine
   (instrument) and coarse (GM family) level: macro ROC-AUC, PR-AUC and F1
   (``kaudio.training.evaluate.evaluate_model``, the same evaluation as ``kaudio evaluate``;
   each run directory gets ``thresholds.json`` and ``metrics.md``),

then prints the Table-1-style comparison (mean ± std over seeds) and writes ``OUT/results.md``
and ``OUT/results.csv``. Run directories are ``OUT/<head>_seed<k>/`` (``best.keras``,
``history.csv``, TensorBoard ``logs/``, ...); an interrupted run resumes where it stopped, and a
finished one (``test_metrics.json`` present) is reused unless ``--retrain`` — so ``--seeds 3`` after
a one-seed run trains only seeds 1 and 2.

The split is the dataset's ``split`` column: ``test`` rows are the test set, and the validation set
is the given ``val`` rows or, when there are none (render_dataset.py's default), 15% of the
training rows chosen by iterative stratification (``kaudio.data.split_indices``).

``study.py`` (the recipe ablation) reuses :class:`SeedData` and :func:`train_and_score`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
SPECS = HERE / "specs"
HEADS = ("flat", "gmp", "lp", "resatt")
FINISHED = "test_metrics.json"  # written into a run directory once the run is trained and scored


def spec_path(head: str) -> Path:
    return SPECS / f"instruments_{head}.yaml"


@dataclass
class SeedData:
    """The dataset folder's clips and, per seed, its split and ``tf.data`` datasets (every run of a seed
    sees the same split and batches)."""

    table: object
    val_fraction: float
    batch_size: int
    sample_rate: int
    samples: int
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, data: Path, head: str = "flat", overrides: Sequence[str] = (), limit: "int | None" = None):
        """Read ``data/labels.csv`` with the hierarchy and input of ``head``'s spec (+ ``overrides``);
        ``limit``: only the first N clips."""
        from kaudio.data import load_tagging_folder
        from kaudio.training.fit import training_spec

        base = training_spec(spec_path(head), list(overrides))
        settings = base.params("train")
        table = load_tagging_folder(data, base.params("head")["hierarchy"])
        if limit:
            table = table.subset(np.arange(min(limit, len(table))))
        sample_rate = int(base.params("input")["sample_rate"])
        return cls(table, settings["val_fraction"], settings["batch_size"], sample_rate,
                   int(round(float(base.params("input")["duration"]) * sample_rate)))

    def split(self, seed: int) -> dict:
        """``{"train", "val", "test", "test_name"}`` of ``seed`` (the validation rows follow the seed)."""
        from kaudio.data import split_indices

        split = dict(split_indices(self.table, val_fraction=self.val_fraction, seed=seed))
        split["test_name"] = "test"
        if len(split["test"]) == 0:
            split["test"], split["test_name"] = split["val"], "val"
        return split

    def datasets(self, seed: int) -> tuple:
        """``(train_ds, val_ds, test_ds)`` of ``seed``. The training set is built anew for every call, under the
        global seed ``seed``: ``tf.data``'s shuffle order depends on the global seed set when a dataset is built
        and on how many passes were made over it before, so a dataset shared between runs (or built after
        another run set a seed) would give each head of a seed other batches. The validation and test sets (not
        shuffled) are built once per seed and cached in memory."""
        import tensorflow as tf

        from kaudio.data import make_dataset

        split = self.split(seed)
        make = lambda rows, **kw: make_dataset(self.table, rows, self.sample_rate, self.samples,  # noqa: E731
                                               self.batch_size, cache="memory", **kw)
        if seed not in self._cache:
            self._cache[seed] = (make(split["val"]), make(split["test"]))
        tf.random.set_seed(seed)
        return (make(split["train"], shuffle=True, seed=seed), *self._cache[seed])


def read_finished(run_dir: Path) -> "dict | None":
    """The saved result of a finished run (``{"rows", "head", "seed", "epochs", "best_epoch", ...}``), or None."""
    path = Path(run_dir) / FINISHED
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def train_and_score(spec, method: str, seed: int, data: SeedData, run_dir: Path, overrides: Sequence[str] = (),
                    verbose: int = 2, retrain: bool = False, callbacks: "list | None" = None) -> dict:
    """Train ``spec`` with ``train.seed = seed`` on that seed's split (resuming an interrupted run), score the test
    set like ``kaudio evaluate`` and write ``run_dir/test_metrics.json``; a finished run is read back instead
    unless ``retrain``.

    Returns:
        ``{"rows": metric rows, "head", "seed", "epochs", "best_epoch", "seconds", "seconds_per_epoch"}``.
    """
    from kaudio.training import fit
    from kaudio.training.evaluate import evaluate_model

    finished = None if retrain else read_finished(run_dir)
    if finished is not None:
        return finished
    train_ds, val_ds, test_ds = data.datasets(seed)
    started = time.perf_counter()
    result = fit(spec, train_ds, val_ds, run_dir=run_dir, overrides=list(overrides) + [f"train.seed={seed}"],
                 verbose=verbose, callbacks=callbacks)
    seconds = time.perf_counter() - started
    rows = evaluate_model(result.model, val_ds, test_ds, run_dir=run_dir, method=method)["rows"]
    epochs = len(next(iter(result.history.values()), []))
    saved = {"rows": rows, "head": method, "seed": seed, "epochs": epochs, "best_epoch": result.best_epoch,
             "seconds": round(seconds, 1), "seconds_per_epoch": round(seconds / max(epochs, 1), 1)}
    Path(run_dir, FINISHED).write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
    return saved


def score_text(rows: list[dict]) -> str:
    return ", ".join(f"{r['level']} ROC-AUC {100 * r['roc_auc']:.1f} PR-AUC {100 * r['pr_auc']:.1f} "
                     f"F1 {100 * r['f1']:.1f}" for r in rows)


def main(argv: "Sequence[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", required=True, type=Path, help="dataset folder written by render_dataset.py")
    parser.add_argument("--out", type=Path, default=Path("runs/instruments"), help="folder of the runs and results")
    parser.add_argument("--heads", nargs="+", default=list(HEADS), choices=HEADS, help="heads to compare")
    parser.add_argument("--seeds", type=int, default=1, help="runs per head (seeds 0..N-1)")
    parser.add_argument("--epochs", type=int, default=None, help="override train.epochs of the specs")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="more spec overrides for every head, e.g. --set loss.fine_weight=0.9")
    parser.add_argument("--retrain", action="store_true",
                        help=f"train again even where OUT/<head>_seed<k>/{FINISHED} shows a finished run")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N clips (a quick smoke run)")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras output while training")
    args = parser.parse_args(argv)

    import kaudio
    import kaudio.models.panns  # noqa: F401  (registers the panns_cnn backbone)
    from kaudio.metrics import summarize_runs, to_markdown, write_csv
    from kaudio.training.fit import training_spec

    overrides = list(args.overrides) + ([f"train.epochs={args.epochs}"] if args.epochs else [])
    try:
        data = SeedData.load(args.data, args.heads[0], overrides, args.limit)
        epochs = training_spec(spec_path(args.heads[0]), overrides).params("train")["epochs"]
    except kaudio.KaudioError as err:
        print(f"compare.py: error: {err}", file=sys.stderr)
        return 2
    print(data.table.summary())

    runs: dict[str, list[list[dict]]] = {head: [] for head in args.heads}
    timings: list[dict] = []
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in range(args.seeds):
        split = data.split(seed)
        if split["test_name"] == "val":
            print("compare.py: the data has no test rows; scoring the validation set instead", file=sys.stderr)
        print(f"\nseed {seed}: {len(split['train'])} train / {len(split['val'])} val / {len(split['test'])} "
              f"{split['test_name']} clips")
        for head in args.heads:
            run_dir = args.out / f"{head}_seed{seed}"
            reused = not args.retrain and read_finished(run_dir) is not None
            print(f"\n=== {head} (seed {seed})" + (f": finished earlier, reusing {run_dir / FINISHED}" if reused
                                                   else f" -> {run_dir}"))
            saved = dict(train_and_score(spec_path(head), head, seed, data, run_dir, overrides, args.verbose,
                                         args.retrain))
            runs[head].append(saved.pop("rows"))
            timings.append(saved)
            if not reused:
                print(f"{head} seed {seed}: best epoch {saved['best_epoch']}/{saved['epochs']}, "
                      f"{saved['seconds']:.0f} s; " + score_text(runs[head][-1]))

    summary = summarize_runs(runs)
    title = (f"Test set ({len(split['test'])} clips), macro scores in %, {args.seeds} seed(s) per head, "
             f"{epochs} epochs")
    table_md = to_markdown(summary, digits=1, title=title)
    timing_md = "\n".join(["| Head | Seed | Epochs run | Best epoch | Seconds | Seconds / epoch |",
                           "|---|---:|---:|---:|---:|---:|"]
                          + [f"| {t['head']} | {t['seed']} | {t['epochs']} | {t['best_epoch']} | {t['seconds']} | "
                             f"{t['seconds_per_epoch']} |" for t in timings]) + "\n"
    (args.out / "results.md").write_text(table_md + "\n" + timing_md, encoding="utf-8")
    write_csv(summary, args.out / "results.csv")
    print("\n" + table_md + "\n" + timing_md)
    print(f"wrote {args.out / 'results.md'} and {args.out / 'results.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
