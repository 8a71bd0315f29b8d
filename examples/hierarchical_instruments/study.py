"""Recipe ablation: which part of the training recipe decides whether ResAtt beats the flat baseline.

    python study.py run --data DATA_DIR --out runs/hier_study [--seeds 3] [--optional] [--threads 1]
    python study.py curves --data DATA_DIR --out runs/hier_study      # paired differences against epochs
    python study.py attention --data DATA_DIR --out runs/hier_study   # how GMP-like ResAtt's maps are
    python study.py summarize --out runs/hier_study                   # results.md from the runs finished so far
    python study.py export --out runs/hier_study                      # scores and histories (no models) -> results/

Zhong et al. (ICASSP 2023, §5, Table 1) find that training the coarse level jointly through the
bottom-up heads helps: ResAtt ≈ GMP > flat at the coarse level, and LP fails. With the example's
original recipe (``BASE_RECIPE``) GMP beat flat but ResAtt was only level with it. This study
changes **one factor at a time** from that recipe (:func:`study_cells`):

* the embedding width that feeds ResAtt's ``N_fine·N_coarse``-way attention (64 → 256, 512),
* λ of Eq. 2: fixed 0.8 against the paper's grid {0.70, …, 0.90} chosen by the lowest validation
  fine BCE (§4.2; :func:`kaudio.training.tuning.lambda_grid_search`, run once per head on seed 0
  and reused for the other seeds),
* the optimiser: AdamW with a 1-epoch warm-up against plain Adam (no warm-up, no weight decay),
* SpecAugment on against off,
* (``--optional``) ResAtt's softmax restricted to each family's children (not in the paper),

and trains ``flat`` and ``resatt`` in every cell (``gmp`` and ``lp`` too in the first and the last
cell, ``recipe``: the example specs' final defaults), on the same splits, batches and seeds, so
every head is compared with flat **paired by seed**. The flat/resatt pairs of every cell are trained
first, cell by cell in :func:`study_cells` order, and gmp and lp after them. A run's configuration is what differs from
``BASE_RECIPE``; runs with the same head, configuration and seed are trained once and shared
between cells (flat ignores λ, so the λ cell reuses the base cell's flat runs).

Every run has the same budget (``BUDGET``: at most ``train.epochs`` epochs, early stopping on the
validation loss); a run counts as converged when its best epoch comes before its last. A run whose best
epoch is its last is continued ``EXTENSION`` epochs at a time (up to ``MAX_EPOCHS``) until it converges:
runs are ``train.extendable``, so the continuation starts from the run's final state and gives what a run
with the larger budget would have given (a run finished before that state was kept is trained again from
the start with the larger budget). Each run
directory also keeps the best model so far at the epochs of ``MILESTONES``
(``milestones/best_at_NN.keras``): ``curves`` scores them, showing how the paired differences
move with the training budget. Seconds per epoch are measured by a callback (training and
validation of each epoch; ``epoch_seconds.json``).

Runs are resumable (an interrupted run continues from its backup, a finished one is read back) and
two ``run`` processes may share ``--out`` (each claims a run before training it). ``run`` trains each run
in a child process of its own: memory that TensorFlow keeps after a run (it grew by about 1 GB per run in
one long-lived process) is returned when the child exits. ``OUT/results.md``
and ``OUT/results.csv`` are rewritten after every finished run. ``export`` copies what the tables are made of
(each finished run's test scores, history and timings, a few kB, no models) into ``results/`` beside this script,
so that the published numbers can be checked and the study continued elsewhere (copy ``results/`` into a new
``--out``; finished runs are not trained again). The pieces shared with
``compare.py`` (data per seed, train and score one run) come from there.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kaudio.claim import Claim  # noqa: E402
from compare import FINISHED, HERE, SeedData, read_finished, score_text, spec_path, train_and_score  # noqa: E402

ALL_HEADS = ("flat", "gmp", "lp", "resatt")
PAIRED_HEADS = ("flat", "resatt")
BASELINE = "flat"
LEVELS = ("coarse", "fine")
METRICS = ("roc_auc", "pr_auc", "f1")
METRIC_TITLES = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "f1": "F1"}

#: The example's recipe before this study (the specs as first shipped), pinned here so that the
#: study means the same after the specs' defaults change.
BASE_RECIPE: dict[str, Any] = {
    "backbone.embedding_size": 64,
    "backbone.dropout": 0.1,
    "backbone.embedding_dropout": 0.0,
    "loss.fine_weight": 0.8,
    "train.learning_rate": 1.0e-3,
    "train.weight_decay": 1.0e-4,
    "train.warmup_epochs": 1.0,
    "train.spec_augment.enabled": True,
}
#: The same training budget for every run. The validation loss of this small set (153 clips) plateaus for 3–4
#: epochs and then improves again (flat, seed 0: best 0.243 at epoch 23, 0.192 at 36), so a patience of 5 stopped
#: some runs long before others (flat, seed 1, at epoch 24) and made the pairs unequal; 10 lets every run reach its
#: plateau. A cap of 40 epochs was too low: the base cell's best epochs were 37, 39 and 40 of 40 for both heads,
#: and the validation loss was still falling (flat, seed 2: 0.204 at epoch 32, 0.195 at 40).
BUDGET: dict[str, Any] = {"train.epochs": 60, "train.early_stopping_patience": 10}
#: A run whose best epoch is its last (not converged) is continued this many epochs at a time, up to MAX_EPOCHS.
EXTENSION = 10
MAX_EPOCHS = 100
#: Run settings that change no result: no per-epoch checkpoints (resuming uses the backup folder), and the final
#: training state kept so that a run that has not converged can be continued (``EXTENSION``).
QUIET: dict[str, Any] = {"train.keep_checkpoints": 0, "train.extendable": True}
#: Exit status of ``run --one`` when every remaining work item is held by another process.
IDLE = 3
#: The environment variables that cap the threads of TensorFlow's two thread pools and of OpenMP (oneDNN); read by
#: TensorFlow when its runtime starts, so they must be set before the training child imports it.
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def thread_environment(threads: "int | None", base: "Mapping[str, str] | None" = None) -> "dict[str, str] | None":
    """The environment of a training child that uses at most ``threads`` threads per pool (``None``: inherit).

    On a 2-core machine two ``run`` processes with one thread each took 68–78 s per epoch each, against 85–104 s
    with TensorFlow's default (all cores per process: four busy threads on two cores)."""
    if threads is None:
        return None
    if threads < 1:
        raise ValueError(f"expected a number of threads >= 1, got {threads}")
    env = dict(os.environ if base is None else base)
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    return env


#: Epochs at which each run keeps its best-so-far model (for ``curves``).
MILESTONES = (5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60)
#: Keys a head ignores: flat trains the fine level only, so λ does not change its run.
IGNORED_KEYS = {"flat": frozenset({"loss.fine_weight"})}


def uses_lambda(head: str) -> bool:
    """Whether λ (``loss.fine_weight``) changes ``head``'s run (not flat's, which trains the fine level only)."""
    return head in ALL_HEADS and "loss.fine_weight" not in IGNORED_KEYS.get(head, ())


#: The example specs' defaults chosen from the study (None until chosen: the cell is skipped). SpecAugment off
#: is the one change from ``BASE_RECIPE`` that is the best setting of every factor tried for both flat and
#: ResAtt (coarse PR-AUC 95.8 and 94.6 against at most 94.6 and 93.4 elsewhere): the recipe that holds no
#: head back. The 512-d embedding raised flat but lowered ResAtt, 256-d and plain Adam changed neither beyond
#: the noise. λ stays 0.8 until the λ cell's three seeds show whether the grid's choice (0.90 on seed 0) helps.
RECIPE: "dict[str, Any] | None" = {"train.spec_augment.enabled": False}


@dataclass(frozen=True)
class Cell:
    """One cell of the study: ``overrides`` (on top of ``BASE_RECIPE``) for every head,
    ``head_overrides`` for some, or λ chosen by grid (``lambda_grid``)."""

    name: str
    factor: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    heads: tuple[str, ...] = PAIRED_HEADS
    head_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    lambda_grid: bool = False
    optional: bool = False


def study_cells(recipe: "Mapping[str, Any] | None" = RECIPE) -> tuple[Cell, ...]:
    """The cells in the order they are run, by what they are expected to tell: after ``base``, the factors in
    which an independent minimal implementation, where ResAtt did beat flat, differed from the base recipe
    (a 256-d embedding, plain Adam, no SpecAugment; it kept λ 0.8), then the λ grid and the 512-d embedding;
    ``recipe`` last."""
    cells = [
        Cell("base", "original recipe: 64-d embedding, λ 0.8, AdamW 1e-3 + 1 warm-up epoch, SpecAugment", {},
             ALL_HEADS),
        Cell("emb256", "embedding width 256", {"backbone.embedding_size": 256}),
        Cell("adam", "Adam 1e-3: no warm-up, no weight decay", {"train.weight_decay": 0.0, "train.warmup_epochs": 0.0}),
        Cell("no_specaug", "SpecAugment off", {"train.spec_augment.enabled": False}),
        Cell("lambda_grid", "λ by grid {0.70 … 0.90}, lowest validation fine BCE (seed 0)", lambda_grid=True),
        Cell("emb512", "embedding width 512", {"backbone.embedding_size": 512}),
        Cell("restrict", "ResAtt softmax restricted to each family's children (not in the paper)",
             head_overrides={"resatt": {"head.restrict_to_children": True}}, optional=True),
    ]
    if recipe is not None:
        cells.append(Cell("recipe", "the example specs' defaults: " + describe(recipe), dict(recipe), ALL_HEADS))
    return tuple(cells)


# --- bookkeeping (pure) -----------------------------------------------------------------------


def describe(changes: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(changes.items())) or "base"


def run_changes(cell: Cell, head: str, fine_weight: "float | None" = None) -> dict[str, Any]:
    """What a head's run in ``cell`` changes from ``BASE_RECIPE`` (keys the head ignores and values
    equal to the base dropped), with λ set to ``fine_weight`` when the cell chooses it by grid."""
    changes = {**cell.overrides, **cell.head_overrides.get(head, {})}
    if fine_weight is not None:
        changes["loss.fine_weight"] = float(fine_weight)
    ignored = IGNORED_KEYS.get(head, frozenset())
    return {key: value for key, value in sorted(changes.items())
            if key not in ignored and not (key in BASE_RECIPE and BASE_RECIPE[key] == value)}


def slug(changes: Mapping[str, Any]) -> str:
    """The folder name of a configuration: ``base`` or ``key=value+key=value`` (sorted)."""
    return "+".join(f"{key}={value}" for key, value in sorted(changes.items())) or "base"


@dataclass(frozen=True)
class Run:
    cell: str
    head: str
    seed: int
    changes: tuple[tuple[str, Any], ...]

    @property
    def key(self) -> tuple[str, str, int]:
        """Runs with the same key are one training run."""
        return self.head, slug(dict(self.changes)), self.seed

    def overrides(self, epochs: "int | None" = None) -> list[str]:
        """``--set`` overrides of the run's spec: the base recipe, its changes and the budget (``train.epochs``
        raised to ``epochs`` when given)."""
        values = {**BASE_RECIPE, **dict(self.changes), **BUDGET, **QUIET}
        if epochs is not None:
            values["train.epochs"] = int(epochs)
        return [f"{key}={json.dumps(value)}" for key, value in values.items()]


def epochs_to_train(finished: "Mapping[str, Any] | None") -> "int | None":
    """The ``train.epochs`` a run still needs: the budget when it has not finished, ``EXTENSION`` more than it ran
    when it finished with its best epoch as its last (not converged) and below ``MAX_EPOCHS``, else None (done)."""
    if finished is None:
        return int(BUDGET["train.epochs"])
    epochs, best = int(finished["epochs"]), int(finished["best_epoch"])
    if best >= epochs and epochs < MAX_EPOCHS:
        return min(epochs + EXTENSION, MAX_EPOCHS)
    return None


def plan(cells: Sequence[Cell], seeds: int, chosen_lambda: "Mapping[str, float] | None" = None) -> list[Run]:
    """Every cell's runs, cell by cell, seed by seed. A λ-grid cell's non-flat heads appear only once
    their λ is in ``chosen_lambda`` (``{head: λ}``)."""
    runs = []
    for cell in cells:
        for seed in range(seeds):
            for head in cell.heads:
                weight = None
                if cell.lambda_grid and uses_lambda(head):
                    if head not in (chosen_lambda or {}):
                        continue
                    weight = chosen_lambda[head]
                runs.append(Run(cell.name, head, seed, tuple(run_changes(cell, head, weight).items())))
    return runs


def unique_runs(runs: Iterable[Run]) -> list[Run]:
    """The runs to train: the first of each key, in order."""
    seen, out = set(), []
    for run in runs:
        if run.key not in seen:
            seen.add(run.key)
            out.append(run)
    return out


def paired_differences(scores: Mapping[tuple[str, int], float], head: str, baseline: str = BASELINE) -> dict:
    """``head − baseline`` per seed where both have a score (``scores[(head, seed)]``).

    Returns:
        ``{"seeds", "diffs", "n", "mean", "std" (ddof 1; 0 for one pair), "wins" (diffs > 0)}``;
        mean and std are NaN without pairs.
    """
    seeds = sorted(seed for (name, seed) in scores if name == head and (baseline, seed) in scores)
    diffs = [scores[(head, seed)] - scores[(baseline, seed)] for seed in seeds]
    n = len(diffs)
    mean = sum(diffs) / n if n else math.nan
    std = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) if n > 1 else (0.0 if n else math.nan)
    return {"seeds": seeds, "diffs": diffs, "n": n, "mean": mean, "std": std, "wins": sum(d > 0 for d in diffs)}


def choose_lambda(trials: Mapping[float, float]) -> float:
    """The λ with the lowest validation fine BCE (ties: the smaller λ)."""
    if not trials:
        raise ValueError("no λ trials")
    return min(sorted(trials), key=lambda weight: trials[weight])


def metric(rows: Sequence[Mapping], level: str, name: str) -> float:
    return next(float(row[name]) for row in rows if row["level"] == level)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    return mean, (math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0)


def percent(value: float, std: "float | None" = None, signed: bool = False) -> str:
    if math.isnan(value):
        return "–"
    text = f"{100 * value:+.1f}" if signed else f"{100 * value:.1f}"
    return text + (f" ± {100 * std:.1f}" if std is not None else "")


def seconds_text(seconds: float) -> str:
    return "–" if math.isnan(seconds) else f"{seconds:.1f}"


def cell_rows(cell: Cell, results: Mapping[tuple[str, int], dict]) -> list[dict]:
    """One row per head of ``cell`` with results: means ± std per level/metric, paired differences to
    flat, best epochs, epochs run, converged runs and seconds per epoch. ``results[(head, seed)]`` is a
    run's saved result (``test_metrics.json``, with ``epoch_seconds`` added by the study)."""
    rows = []
    for head in cell.heads:
        seeds = sorted(seed for (name, seed) in results if name == head)
        if not seeds:
            continue
        runs = [results[(head, seed)] for seed in seeds]
        row = {"cell": cell.name, "head": head, "seeds": seeds, "best_epochs": [r["best_epoch"] for r in runs],
               "epochs": [r["epochs"] for r in runs],
               "converged": sum(r["best_epoch"] < r["epochs"] for r in runs)}
        seconds = [s for r in runs for s in r.get("epoch_seconds", [])]
        row["seconds_per_epoch"] = sum(seconds) / len(seconds) if seconds else math.nan
        for level in LEVELS:
            for name in METRICS:
                values = {(h, s): metric(results[(h, s)]["rows"], level, name) for (h, s) in results}
                row[f"{level}_{name}"] = mean_std([values[(head, seed)] for seed in seeds])
                if head != BASELINE:
                    row[f"{level}_{name}_diff"] = paired_differences(values, head)
        rows.append(row)
    return rows


def markdown_tables(cells: Sequence[Cell], rows_by_cell: Mapping[str, list[dict]]) -> str:
    """Per level: the heads' scores per cell (mean ± std over seeds) and their paired differences to
    flat (mean ± std, wins / pairs); then the runs' epochs and seconds per epoch."""
    parts = []
    for level in LEVELS:
        header = (["Cell", "Head", "Runs"] + [f"{METRIC_TITLES[m]}" for m in METRICS]
                  + [f"Δ {METRIC_TITLES[m]} vs flat (wins)" for m in METRICS])
        lines = [f"**{level.capitalize()} level** (test set, macro %, mean ± std over seeds; Δ = head − flat "
                 "paired by seed, mean ± std, wins = seeds where the head is above flat)", "",
                 "| " + " | ".join(header) + " |", "|" + "---|" * 2 + "---:|" * (len(header) - 2)]
        for cell in cells:
            for row in rows_by_cell.get(cell.name, []):
                cells_text = [cell.name, row["head"], str(len(row["seeds"]))]
                cells_text += [percent(*row[f"{level}_{m}"]) for m in METRICS]
                for m in METRICS:
                    diff = row.get(f"{level}_{m}_diff")
                    cells_text.append("" if diff is None else "–" if not diff["n"] else
                                      f"{percent(diff['mean'], diff['std'], signed=True)} ({diff['wins']}/{diff['n']})")
                lines.append("| " + " | ".join(cells_text) + " |")
        parts.append("\n".join(lines))
    lines = ["**Runs per cell** (best epoch = lowest validation loss; converged = best epoch before the last; "
             "seconds per epoch = training + validation, mean over the cell's runs)", "",
             "| Cell | Head | Seeds | Best epochs | Epochs run | Converged | Seconds / epoch |",
             "|---|---|---|---|---|---:|---:|"]
    for cell in cells:
        for row in rows_by_cell.get(cell.name, []):
            lines.append(f"| {cell.name} | {row['head']} | {','.join(map(str, row['seeds']))} | "
                         f"{','.join(map(str, row['best_epochs']))} | {','.join(map(str, row['epochs']))} | "
                         f"{row['converged']}/{len(row['seeds'])} | {seconds_text(row['seconds_per_epoch'])} |")
    parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def run_state(finished: "dict | None", epochs_done: int, best_epoch: "int | None", claimed: bool) -> str:
    """``finished``, ``training`` (claimed by a live process), ``stopped`` (interrupted; resumes) or ``not started``."""
    if finished is not None:
        return "finished"
    if claimed:
        return "training"
    return "stopped" if epochs_done else "not started"


def run_status_table(entries: Sequence[Mapping[str, Any]], max_epochs: int) -> str:
    """Every run started so far, one line each (``entries``: ``cells``, ``head``, ``seed``, ``state``, ``epochs``,
    ``best_epoch``, ``seconds_per_epoch``, and for finished runs ``coarse_pr_auc`` / ``fine_pr_auc``), then how
    many have not started. A finished run is converged when its best epoch comes before its last, and stopped
    early when early stopping ended it before ``max_epochs`` (a run that converged without stopping early was
    still close to improving at the cap); an unfinished one shows its progress and best epoch so far."""
    started = [e for e in entries if e["state"] != "not started"]
    lines = [f"**Runs**: {sum(e['state'] == 'finished' for e in entries)} of {len(entries)} finished "
             f"({max_epochs} epochs at most, early stopping on the validation loss; best epoch = lowest validation "
             "loss; converged = best epoch before the last; stopped early = ended by early stopping before the cap; "
             "test macro PR-AUC in %)", "",
             "| Cells | Head | Seed | State | Epochs | Best epoch | Converged | Stopped early | Seconds / epoch | "
             "Coarse PR-AUC | Fine PR-AUC |", "|---|---|---:|---|---:|---:|---|---|---:|---:|---:|"]
    for e in started:
        finished = e["state"] == "finished"
        converged = ("yes" if e["best_epoch"] < e["epochs"] else "no") if finished else "–"
        stopped = ("yes" if e["epochs"] < max_epochs else "no") if finished else "–"
        best = "–" if e["best_epoch"] is None else str(e["best_epoch"])
        seconds = seconds_text(e["seconds_per_epoch"])
        scores = [percent(e[k]) if finished else "–" for k in ("coarse_pr_auc", "fine_pr_auc")]
        lines.append(f"| {', '.join(e['cells'])} | {e['head']} | {e['seed']} | {e['state']} | "
                     f"{e['epochs']}{'' if finished else f'/{max_epochs}'} | {best} | {converged} | {stopped} | "
                     f"{seconds} | " + " | ".join(scores) + " |")
    waiting = len(entries) - len(started)
    if waiting:
        lines += ["", f"{waiting} more run(s) not started."]
    return "\n".join(lines) + "\n"


def curve_rows(scores: Mapping[tuple[str, int], Mapping[int, Mapping[str, float]]], heads: Sequence[str],
               milestones: Sequence[int], level: str = "coarse", name: str = "pr_auc") -> list[dict]:
    """Paired differences to flat at each milestone: ``scores[(head, seed)][epoch][f"{level}_{name}"]``."""
    out = []
    for epoch in milestones:
        values = {key: by_epoch[epoch][f"{level}_{name}"] for key, by_epoch in scores.items() if epoch in by_epoch}
        row = {"epoch": epoch}
        for head in heads:
            if head != BASELINE:
                row[head] = paired_differences(values, head)
        out.append(row)
    return out


def attention_summary(attention, fine, membership) -> dict[str, float]:
    """How GMP-like ResAtt's attention maps are (Fig. 4 of Zhong et al.: "all maps are similar to the GMP
    operation"), from maps ``attention (n, N_fine, N_coarse)`` (columns sum to 1), fine probabilities
    ``(n, N_fine)`` and the 0/1 ``membership (N_fine, N_coarse)``:

    * ``child_mass``: attention a coarse tag puts on its own children (GMP and GAP: 1; uniform: children/N_fine),
    * ``argmax_child``: share of (clip, coarse tag) whose most attended fine tag is one of its children,
    * ``top_child``: attention on the child with the highest fine probability, as a share of the children's
      (GMP: 1; GAP: 1/children),
    * ``gmp_gap``: mean |P_coarse − GMP(P_fine)| (0 for GMP).
    """
    import numpy as np

    w, p, m = (np.asarray(a, np.float64) for a in (attention, fine, membership))
    member = m > 0
    child_attention = w * member[None]
    child_mass = child_attention.sum(axis=1)  # (n, C)
    argmax = w.argmax(axis=1)  # (n, C): fine index
    argmax_child = member[argmax, np.arange(m.shape[1])[None, :]]
    child_probs = np.where(member[None], p[:, :, None], -np.inf)  # (n, F, C)
    top = child_probs.argmax(axis=1)  # (n, C): the child with the highest probability
    top_attention = np.take_along_axis(w, top[:, None, :], axis=1)[:, 0, :]
    coarse = np.einsum("nfc,nf->nc", w, p)
    gmp = child_probs.max(axis=1)
    return {"child_mass": float(child_mass.mean()), "argmax_child": float(argmax_child.mean()),
            "top_child": float((top_attention / np.maximum(child_mass, 1e-12)).mean()),
            "gmp_gap": float(np.abs(coarse - gmp).mean())}


# --- running ------------------------------------------------------------------------------------


class Milestones:
    """Keras callback (built lazily, so that importing this module needs no Keras): at the ``MILESTONES``, a
    copy of the best model so far."""

    def __new__(cls, run_dir: Path, milestones: Sequence[int] = MILESTONES):
        import keras

        class _Milestones(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if epoch + 1 in milestones and (run_dir / "best.keras").is_file():
                    (run_dir / "milestones").mkdir(exist_ok=True)
                    shutil.copyfile(run_dir / "best.keras", run_dir / "milestones" / f"best_at_{epoch + 1:02d}.keras")

        return _Milestones()


class Study:
    """The study's folder ``out``: run directories ``runs/<head>/<configuration>/seed<k>``, λ grids
    ``lambda_grid/<head>``, ``results.md`` / ``results.csv`` / ``curves.md``."""

    def __init__(self, out: Path, seeds: int = 3, optional: bool = False, verbose: int = 2,
                 train_cells: "Sequence[str] | None" = None):
        self.out, self.seeds, self.verbose = Path(out), seeds, verbose
        self.cells = tuple(c for c in study_cells() if optional or not c.optional)
        names = [c.name for c in self.cells]
        unknown = sorted(set(train_cells or ()) - set(names))
        if unknown:
            raise ValueError(f"unknown cell(s) {', '.join(unknown)}; the cells are {', '.join(names)}")
        #: The cells whose runs ``run`` trains (all by default); the summary covers every cell either way.
        self.train_cells = tuple(train_cells) if train_cells else tuple(names)

    # folders and results

    def run_dir(self, run: Run) -> Path:
        head, config, seed = run.key
        grid_dir = self.grid_trial_dir(run)
        return grid_dir if grid_dir is not None else self.out / "runs" / head / config / f"seed{seed}"

    def grid_trial_dir(self, run: Run) -> "Path | None":
        """A λ-grid trial is seed 0 of its λ's run: its folder is used instead of training it again."""
        changes = dict(run.changes)
        if run.seed != 0 or set(changes) != {"loss.fine_weight"}:
            return None
        trial = self.out / "lambda_grid" / run.head / f"lambda_{changes['loss.fine_weight']:.2f}"
        return trial if (trial / "best.keras").is_file() or (trial / FINISHED).is_file() else None

    def chosen_lambda(self) -> dict[str, float]:
        chosen = {}
        for head in ALL_HEADS:
            path = self.out / "lambda_grid" / head / "chosen.json"
            if path.is_file():
                chosen[head] = json.loads(path.read_text())["fine_weight"]
        return chosen

    def give_lambda(self, head: str, fine_weight: float) -> None:
        """Take ``head``'s λ for the λ cell as given (``run --lambda``: e.g. the grid's choice from an earlier copy
        of the study) instead of searching the grid in this folder; ``chosen.json`` records that it was given.

        Raises:
            ValueError: an unknown head, one that ignores λ, a λ outside (0, 1), or a different λ already chosen.
        """
        if not uses_lambda(head):
            raise ValueError(f"{head!r} has no λ to choose; heads with λ: "
                             + ", ".join(filter(uses_lambda, ALL_HEADS)))
        if not 0.0 < fine_weight < 1.0:
            raise ValueError(f"λ of {head} must lie between 0 and 1, got {fine_weight}")
        path = self.out / "lambda_grid" / head / "chosen.json"
        if path.is_file():
            known = json.loads(path.read_text())["fine_weight"]
            if abs(known - fine_weight) > 1e-9:
                raise ValueError(f"λ of {head} is already {known:.2f} in {path}; remove that file to give another")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"fine_weight": float(fine_weight), "given": True}, indent=2) + "\n")

    def runs(self) -> list[Run]:
        return plan(self.cells, self.seeds, self.chosen_lambda())

    def result(self, run: Run) -> "dict | None":
        saved = read_finished(self.run_dir(run))
        if saved is not None:
            path = self.run_dir(run) / "epoch_seconds.json"
            saved["epoch_seconds"] = json.loads(path.read_text()) if path.is_file() else saved.get("epoch_seconds", [])
        return saved

    def cells_by_key(self) -> dict[tuple, list[str]]:
        """The cells each training run belongs to (a run shared between cells is one run), by run key."""
        cells_of: dict[tuple, list[str]] = {}
        for run in self.runs():
            cells_of.setdefault(run.key, []).append(run.cell)
        return cells_of

    def run_entries(self) -> list[dict]:
        """One entry per training run of the plan (runs shared between cells once, with all their cells) for
        :func:`run_status_table`."""
        from kaudio.training.fit import read_history

        cells_of = self.cells_by_key()
        entries = []
        for run in unique_runs(self.runs()):
            run_dir, saved = self.run_dir(run), self.result(run)
            seconds = saved["epoch_seconds"] if saved else (
                json.loads((run_dir / "epoch_seconds.json").read_text())
                if (run_dir / "epoch_seconds.json").is_file() else [])
            if saved is not None:
                epochs, best = saved["epochs"], saved["best_epoch"]
            else:
                epochs = len(next(iter(read_history(run_dir / "history.csv").values()), []))
                best = json.loads((run_dir / "best.json").read_text())["epoch"] if (run_dir / "best.json").is_file() \
                    else None
            entry = {"cells": cells_of[run.key], "head": run.head, "seed": run.seed, "epochs": epochs,
                     "best_epoch": best, "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else math.nan,
                     "state": run_state(saved, epochs, best, Claim(run_dir).holder() is not None)}
            if saved is not None:
                entry.update({f"{level}_pr_auc": metric(saved["rows"], level, "pr_auc") for level in LEVELS})
            entries.append(entry)
        return entries

    def write_summary(self) -> Path:
        """``results.md`` and ``results.csv`` from whatever runs have finished (pairs only where both runs of a
        seed finished), with every started run's state, epochs and convergence."""
        rows_by_cell = {}
        for cell in self.cells:
            results = {}
            for run in self.runs():
                if run.cell == cell.name and (saved := self.result(run)) is not None:
                    results[(run.head, run.seed)] = saved
            rows_by_cell[cell.name] = cell_rows(cell, results)
        entries = self.run_entries()
        done = sum(e["state"] == "finished" for e in entries)
        text = ["# Hierarchical heads: recipe ablation (examples/hierarchical_instruments/study.py)", "",
                f"Budget: {describe(BUDGET)}; base recipe: {describe(BASE_RECIPE)}; seeds 0–{self.seeds - 1}.", ""]
        if done < len(entries):
            text += [f"**Partial results**: {done} of {len(entries)} runs finished; the tables below use only "
                     "finished runs, and a paired difference only seeds where both runs finished"
                     + ("" if self.chosen_lambda() else
                        " (the λ cell's resatt runs are counted once its λ is chosen)")
                     + ".", ""]
        text += ["Cells (one factor changed from the base recipe each):", ""]
        text += [f"* `{c.name}`: {c.factor}" + (" (optional)" if c.optional else "") for c in self.cells]
        text += ["", self.lambda_text(), markdown_tables(self.cells, rows_by_cell),
                 run_status_table(entries, BUDGET["train.epochs"])]
        path = self.out / "results.md"
        self.out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text("\n".join(text), encoding="utf-8")
        tmp.replace(path)
        self.write_csv(rows_by_cell)
        return path

    def lambda_text(self) -> str:
        lines = []
        for head in ALL_HEADS:
            path = self.out / "lambda_grid" / head / "chosen.json"
            if path.is_file():
                info = json.loads(path.read_text())
                if info.get("given"):
                    lines.append(f"* {head}: λ = {info['fine_weight']:.2f} given with `run --lambda` (no grid searched "
                                 "in this folder)")
                    continue
                trials = ", ".join(f"λ {float(w):.2f}: {v:.4f}" for w, v in sorted(info["trials"].items()))
                lines.append(f"* {head}: λ = {info['fine_weight']:.2f} chosen (minimum validation fine BCE, seed 0: "
                             f"{trials})")
        return ("λ grid (Zhong et al. §4.2):\n\n" + "\n".join(lines) + "\n") if lines else ""

    def write_csv(self, rows_by_cell: Mapping[str, list[dict]]) -> None:
        import csv

        columns = ["cell", "head", "runs", "converged", "seconds_per_epoch"]
        for level in LEVELS:
            for name in METRICS:
                columns += [f"{level}_{name}_mean", f"{level}_{name}_std", f"{level}_{name}_diff_mean",
                            f"{level}_{name}_diff_std", f"{level}_{name}_wins", f"{level}_{name}_pairs"]
        with open(self.out / "results.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            for rows in rows_by_cell.values():
                for row in rows:
                    out = {"cell": row["cell"], "head": row["head"], "runs": len(row["seeds"]),
                           "converged": row["converged"], "seconds_per_epoch": round(row["seconds_per_epoch"], 2)}
                    for level in LEVELS:
                        for name in METRICS:
                            key = f"{level}_{name}"
                            out[f"{key}_mean"], out[f"{key}_std"] = (round(v, 4) for v in row[key])
                            diff = row.get(f"{key}_diff")
                            if diff is not None and diff["n"]:
                                out.update({f"{key}_diff_mean": round(diff["mean"], 4),
                                            f"{key}_diff_std": round(diff["std"], 4),
                                            f"{key}_wins": diff["wins"], f"{key}_pairs": diff["n"]})
                    writer.writerow(out)

    # training

    def work_items(self) -> list[tuple[str, Any]]:
        """What is left to do: first the ``PAIRED_HEADS`` (flat and resatt, the pairs every cell is about) cell
        by cell, then the other heads (gmp, lp) of the cells that train them; ``("grid", head)`` for a λ grid
        still to run (at its cell's turn), ``("run", run)`` for every training run not yet finished (each key
        once)."""
        chosen, planned = self.chosen_lambda(), self.runs()
        items, seen = [], set()
        for paired in (True, False):
            for cell in self.cells:
                if cell.name not in self.train_cells:
                    continue
                if cell.lambda_grid:
                    items += [("grid", head) for head in cell.heads
                              if (head in PAIRED_HEADS) == paired and head not in chosen
                              and uses_lambda(head)]
                for run in planned:
                    if run.cell == cell.name and (run.head in PAIRED_HEADS) == paired and run.key not in seen:
                        seen.add(run.key)
                        if epochs_to_train(read_finished(self.run_dir(run))) is not None:
                            items.append(("run", run))
        return items

    def run_lambda_grid(self, head: str, data: SeedData) -> bool:
        """λ by :func:`~kaudio.training.tuning.lambda_grid_search` on seed 0 (False when blocked). λ = 0.8 is the
        base cell's seed-0 run (the same run), so its validation fine BCE is read from that run instead of
        training it again."""
        from kaudio.training.fit import read_history
        from kaudio.training.tuning import LAMBDA_GRID, OBJECTIVE, lambda_grid_search

        base_run = Run("base", head, 0, tuple(run_changes(self.cells[0], head).items()))
        base_dir = self.run_dir(base_run)
        if read_finished(base_dir) is None:
            return False  # wait for the base run (λ = 0.8, seed 0)
        grid_dir = self.out / "lambda_grid" / head
        claim = Claim(grid_dir)
        if not claim.acquire():
            return False
        try:
            known = {BASE_RECIPE["loss.fine_weight"]: min(read_history(base_dir / "history.csv")[OBJECTIVE])}
            grid = [w for w in LAMBDA_GRID if not any(abs(w - k) < 1e-9 for k in known)]
            print(f"\n=== λ grid for {head} (seed 0): {grid} -> {grid_dir}", flush=True)
            overrides = base_run.overrides() + ["train.seed=0"]
            _, val_ds, _ = data.datasets(0)
            train_ds = lambda seed: data.datasets(seed)[0]  # noqa: E731  (a fresh one per trial: same batches)
            found = lambda_grid_search(spec_path(head), train_ds, val_ds, grid_dir, grid=grid, overrides=overrides,
                                       verbose=self.verbose)
            trials = {**known, **{t["fine_weight"]: t[OBJECTIVE] for t in found["trials"]}}
            chosen = choose_lambda(trials)
            (grid_dir / "chosen.json").write_text(json.dumps(
                {"fine_weight": chosen, "objective": OBJECTIVE, "seed": 0,
                 "trials": {f"{w:.2f}": v for w, v in sorted(trials.items())},
                 "from_base_run": {f"{w:.2f}": str(base_dir) for w in known}}, indent=2) + "\n")
            print(f"λ grid for {head}: chose {chosen:.2f} ({OBJECTIVE} {trials[chosen]:.4f})", flush=True)
        finally:
            claim.release()
        return True

    def train(self, run: Run, data: SeedData) -> "dict | None":
        """Train and score ``run`` unless another process holds it (None then)."""
        run_dir = self.run_dir(run)
        claim = Claim(run_dir)
        if not claim.acquire():
            return None
        try:
            finished = read_finished(run_dir)
            epochs = epochs_to_train(finished)
            if epochs is None:  # finished by another process meanwhile
                return finished
            extending = finished is not None
            print(f"\n=== {run.cell}: {run.head} seed {run.seed} ({describe(dict(run.changes))}) -> {run_dir}"
                  + (f": best epoch {finished['best_epoch']} of {finished['epochs']}, continued to {epochs} epochs"
                     if extending else ""), flush=True)
            if run_dir.parent.parent.name == "lambda_grid" and not extending:  # a λ-grid trial: score it
                saved = score_trained(run_dir, run.head, run.seed, data)
            else:
                from kaudio.training.callbacks import EpochSeconds

                callbacks = [EpochSeconds(run_dir / "epoch_seconds.json"), Milestones(run_dir)]
                saved = train_and_score(spec_path(run.head), run.head, run.seed, data, run_dir, run.overrides(epochs),
                                        self.verbose, retrain=extending, callbacks=callbacks)
            print(f"{run.cell} {run.head} seed {run.seed}: best epoch {saved['best_epoch']}/{saved['epochs']}; "
                  + score_text(saved["rows"]), flush=True)
            return saved
        finally:
            claim.release()

    def work_one(self, data: SeedData) -> bool:
        """Do the first work item no other process holds (and rewrite the summary); False when there was none."""
        for kind, item in self.work_items():
            done = self.run_lambda_grid(item, data) if kind == "grid" else self.train(item, data) is not None
            if done:
                self.write_summary()
                return True
        return False

    def work(self, child_command: Sequence[str], wait_seconds: float = 60.0,
             env: "Mapping[str, str] | None" = None) -> int:
        """Do the work items until none is left, each in a child process (``child_command``: ``run --one``, with
        environment ``env``; ``None``: this one's), waiting while the remaining ones are claimed by another process
        or wait for a run another process is training. Returns the exit status (a child's, when one failed; 130 on
        Ctrl-C, 143 on SIGTERM, passed on to the child)."""
        child, stopping = None, []

        def stop(signum, frame):  # no waiting here: the loop below may be inside child.wait(), which holds a lock
            stopping.append(signum)
            if child is None or child.returncode is not None:
                raise SystemExit(128 + signum)  # between children: stop now
            child.send_signal(signum)  # the child stops; the loop returns once it has

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            while self.work_items():
                child = subprocess.Popen(list(child_command), env=env)
                status = child.wait()
                if stopping:
                    return 128 + stopping[0]
                if status == IDLE:
                    time.sleep(wait_seconds)
                elif status != 0:
                    return status
        except KeyboardInterrupt:
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGINT)
                child.wait()
            return 130
        finally:
            signal.signal(signal.SIGTERM, previous)
        return 0


#: What ``export`` keeps of a run folder: its scores, history and timings (a few kB), no models.
EXPORTED_FILES = (FINISHED, "epoch_seconds.json", "history.csv", "best.json", "milestones/scores.json")


def export_results(study: Study, to: Path) -> list[Path]:
    """Copy the small files of every finished run (``EXPORTED_FILES``) and every chosen λ into ``to``, in the
    study folder's own layout, and write ``to/results.md`` / ``results.csv`` from them.

    ``to`` is then a study folder without models: ``summarize`` reads it, ``curves`` reads the test scores of
    the milestones it had scored, and a copy of it into a new ``--out`` lets ``run`` go on where the
    exported study stopped (finished, converged runs are not trained again). Files of runs already in ``to``
    are replaced by the study's. Returns the run folders written."""
    to = Path(to)
    written = []
    sources = [study.run_dir(run) for run in unique_runs(study.runs()) if study.result(run) is not None]
    sources += sorted(path.parent for path in (study.out / "lambda_grid").glob(f"*/lambda_*/{FINISHED}"))
    for source in dict.fromkeys(sources):  # a λ-grid trial can also be seed 0 of the λ cell: once
        target = to / source.relative_to(study.out)
        for name in EXPORTED_FILES:
            if (source / name).is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / name, target / name)
        written.append(target)
    for chosen in sorted((study.out / "lambda_grid").glob("*/chosen.json")):
        target = to / chosen.relative_to(study.out)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(chosen, target)
    Study(to, study.seeds, optional=any(c.optional for c in study.cells)).write_summary()
    return written


def score_trained(run_dir: Path, method: str, seed: int, data: SeedData) -> dict:
    """Score a run trained elsewhere (a λ-grid trial) like :func:`compare.train_and_score` and save it; the seconds
    are the files' time span (spec written at the start, history at the end)."""
    import keras

    from kaudio.training.evaluate import evaluate_model
    from kaudio.training.fit import read_history

    _, val_ds, test_ds = data.datasets(seed)
    model = keras.saving.load_model(run_dir / "best.keras")
    rows = evaluate_model(model, val_ds, test_ds, run_dir=run_dir, method=method)["rows"]
    epochs = len(next(iter(read_history(run_dir / "history.csv").values()), []))
    seconds = (run_dir / "history.csv").stat().st_mtime - (run_dir / "spec.yaml").stat().st_mtime
    saved = {"rows": rows, "head": method, "seed": seed, "epochs": epochs,
             "best_epoch": json.loads((run_dir / "best.json").read_text())["epoch"], "seconds": round(seconds, 1),
             "seconds_per_epoch": round(seconds / max(epochs, 1), 1),
             "epoch_seconds": [round(seconds / max(epochs, 1), 2)] * epochs}
    (run_dir / FINISHED).write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
    return saved


def milestone_scores(run_dir: Path, saved: dict, data: SeedData, seed: int,
                     milestones: Sequence[int] = MILESTONES) -> dict[int, dict[str, float]]:
    """Test scores of the best model so far at each milestone (the final best model for milestones past the
    run's last epoch), cached in ``milestones/scores.json``."""
    import keras

    from kaudio.training.evaluate import evaluate_model

    cache = run_dir / "milestones" / "scores.json"
    scores = {int(k): v for k, v in json.loads(cache.read_text()).items()} if cache.is_file() else {}
    _, val_ds, test_ds = data.datasets(seed)
    for epoch in milestones:
        if epoch in scores:
            continue
        path = run_dir / "milestones" / f"best_at_{epoch:02d}.keras"
        if epoch > saved["epochs"]:
            path = run_dir / "best.keras"
        if not path.is_file():  # not kept, or an exported run (scores only)
            continue
        rows = evaluate_model(keras.saving.load_model(path), val_ds, test_ds)["rows"]
        scores[epoch] = {f"{level}_{name}": metric(rows, level, name) for level in LEVELS for name in METRICS}
    cache.parent.mkdir(exist_ok=True)
    cache.write_text(json.dumps(scores, indent=1))
    return scores


def write_curves(study: Study, data: SeedData) -> Path:
    """``curves.md``: the paired differences to flat at each milestone, for every cell where a head other than
    flat has finished runs (a pair counts where both runs kept their milestone models)."""
    lines = ["# Paired differences to flat against the training budget", "",
             "Test-set scores of each run's best model (lowest validation loss) among its first N epochs "
             "(a run stopped early keeps its final best); Δ = head − flat paired by seed, mean ± std (wins / pairs).",
             ""]
    for cell in study.cells:
        runs = [r for r in study.runs() if r.cell == cell.name]
        scores = {}
        for run in runs:
            saved = study.result(run)
            if saved is not None:
                scores[(run.head, run.seed)] = milestone_scores(study.run_dir(run), saved, data, run.seed)
        heads = [h for h in cell.heads if h != BASELINE and any(k[0] == h for k in scores)]
        if not heads:
            continue
        for level in LEVELS:
            rows = curve_rows(scores, heads, MILESTONES, level)
            if not any(row[h]["n"] for row in rows for h in heads):
                continue  # no pair kept its milestone models (e.g. exported runs): nothing to show
            lines += [f"**{cell.name}, {level} PR-AUC**", "",
                      "| Epochs | " + " | ".join(f"Δ {h}" for h in heads) + " |", "|---:|" + "---:|" * len(heads)]
            for row in rows:
                lines.append(f"| {row['epoch']} | " + " | ".join(
                    "–" if not row[h]["n"] else
                    f"{percent(row[h]['mean'], row[h]['std'], signed=True)} ({row[h]['wins']}/{row[h]['n']})"
                    for h in heads) + " |")
            lines.append("")
    path = study.out / "curves.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_attention(study: Study, data: SeedData) -> Path:
    """``attention.md``: :func:`attention_summary` of every finished resatt run on its test clips."""
    import numpy as np

    from kaudio.cli.evaluate import load_run
    from kaudio.cli.plot_attention import attention_model
    from kaudio.hierarchy import Hierarchy

    lines = ["# How GMP-like the ResAtt attention maps are (test clips)", "",
             "child mass = attention a family puts on its own instruments (GMP/GAP 1, uniform 2/16 = 0.125); "
             "argmax child = the most attended instrument is a child; top child = share of the children's attention "
             "on the most probable child (GMP 1, GAP 0.5); |coarse − GMP| = mean absolute difference of the "
             "coarse probabilities from GMP of the same fine probabilities.", "",
             "| Cells | Seed | Child mass | Argmax child | Top child | |coarse − GMP| |", "|---|---:|---:|---:|---:|---:|"]
    cells_of = study.cells_by_key()
    for run in unique_runs(study.runs()):
        if run.head != "resatt" or study.result(run) is None:
            continue
        if not (study.run_dir(run) / "best.keras").is_file():  # an exported run: scores only
            print(f"attention: no model in {study.run_dir(run)} (exported run), skipped", flush=True)
            continue
        spec, model = load_run(study.run_dir(run))
        model = attention_model(spec, model)
        _, _, test_ds = data.datasets(run.seed)
        maps, fine = [], []
        for audio, _ in test_ds:
            out = model(audio, training=False)
            maps.append(np.asarray(out["attention"]))
            fine.append(np.asarray(out["fine"]))
        membership = Hierarchy.from_mapping(spec.head["hierarchy"]).membership
        summary = attention_summary(np.concatenate(maps), np.concatenate(fine), membership)
        lines.append(f"| {', '.join(cells_of[run.key])} | {run.seed} | {summary['child_mass']:.3f} | {summary['argmax_child']:.3f} | "
                     f"{summary['top_child']:.3f} | {summary['gmp_gap']:.3f} |")
    path = study.out / "attention.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: "Sequence[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("command", choices=("run", "curves", "attention", "summarize", "export"),
                        help="run: train what is missing; curves: paired differences against epochs; attention: how "
                             "GMP-like the resatt maps are; summarize: results.md from the runs finished so far; "
                             "export: the finished runs' scores and histories (no models) into --to")
    parser.add_argument("--data", type=Path, help="dataset folder written by render_dataset.py (run, curves)")
    parser.add_argument("--out", type=Path, default=Path("runs/hier_study"), help="folder of the study")
    parser.add_argument("--to", type=Path, default=HERE / "results",
                        help="export: folder to copy the finished runs' small files into")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per head and cell (0..N-1)")
    parser.add_argument("--optional", action="store_true", help="also run the optional cells (restrict)")
    parser.add_argument("--lambda", dest="given_lambda", action="append", default=[], metavar="HEAD=λ",
                        help="run: take HEAD's λ for the λ cell as given (e.g. chosen by the grid in an earlier copy "
                             "of the study) instead of searching the grid; repeatable")
    parser.add_argument("--cells", default=None,
                        help="run: train only these cells (comma-separated names, e.g. recipe); default: every cell")
    parser.add_argument("--threads", type=int, default=None,
                        help="run: threads per TensorFlow thread pool (and OpenMP) of each training child; default: "
                             "TensorFlow's (all cores). On 2 cores, two runs with --threads 1 train faster together")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N clips (a smoke run)")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras output while training")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # run: one work item (a child)
    args = parser.parse_args(argv)
    cells = [name.strip() for name in args.cells.split(",") if name.strip()] if args.cells else None
    try:
        study = Study(args.out, args.seeds, args.optional, args.verbose, cells)
    except ValueError as err:
        print(f"study.py: error: --cells: {err}", file=sys.stderr)
        return 2
    if args.command == "summarize":
        print(f"wrote {study.write_summary()}")
        return 0
    if args.command == "export":
        written = export_results(study, args.to)
        print(f"exported {len(written)} finished run(s) to {args.to} (results.md, results.csv)")
        return 0
    if args.data is None:
        print(f"study.py: error: {args.command} needs --data DATA_DIR", file=sys.stderr)
        return 2
    if args.command == "run" and not args.one:  # the parent: no TensorFlow here, each work item in a child
        for given in args.given_lambda:
            head, _, value = given.partition("=")
            try:
                try:
                    fine_weight = float(value)
                except ValueError:
                    raise ValueError(f"expected HEAD=λ, e.g. resatt=0.90, got {given!r}") from None
                study.give_lambda(head.strip(), fine_weight)
            except ValueError as err:
                print(f"study.py: error: --lambda {given}: {err}", file=sys.stderr)
                return 2
        try:
            env = thread_environment(args.threads)
        except ValueError as err:
            print(f"study.py: error: --threads: {err}", file=sys.stderr)
            return 2
        child = [sys.executable, str(Path(__file__).resolve()), "run", "--one", "--data", str(args.data),
                 "--out", str(args.out), "--seeds", str(args.seeds), "--verbose", str(args.verbose)]
        child += (["--optional"] if args.optional else []) + (["--limit", str(args.limit)] if args.limit else [])
        child += ["--cells", args.cells] if args.cells else []
        status = study.work(child, env=env)
        if status == 0:
            print(f"wrote {study.write_summary()}")
        return status

    import kaudio
    import kaudio.models.panns  # noqa: F401  (registers the panns_cnn backbone)

    try:
        data = SeedData.load(args.data, "flat", Run("base", "flat", 0, ()).overrides(), args.limit)
    except kaudio.KaudioError as err:
        print(f"study.py: error: {err}", file=sys.stderr)
        return 2
    if args.command in ("curves", "attention"):
        print(f"wrote {(write_curves if args.command == 'curves' else write_attention)(study, data)}")
        return 0
    print(data.table.summary(), flush=True)
    return 0 if study.work_one(data) else IDLE


if __name__ == "__main__":
    sys.exit(main())
