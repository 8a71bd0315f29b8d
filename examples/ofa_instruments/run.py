"""Once-for-all on the rendered instrument set: one supernet against per-size training from scratch and by KD.

    python examples/ofa_instruments/run.py run --data DATA_DIR --work runs/ofa_instruments [--seeds 3]
    python examples/ofa_instruments/run.py summarize --data DATA_DIR --work runs/ofa_instruments

Lin et al. (ICASSP 2023, §3, Table 1) train one weight-sharing supernet by distillation from a teacher,
search it for the best sub-network under each parameter budget without retraining, and compare the
searched sub-networks with the same sizes trained one by one from scratch (BCE + SpecAugment) and by
knowledge distillation from the teacher (KD). This script runs that protocol at the scale of the
16-instrument set of ``examples/hierarchical_instruments`` (1,200 clips of 4 s at 16 kHz):

1. ``teacher``: ``specs/teacher.yaml`` (a 4-block PANNs CNN, 312k parameters), seed 0; its split
   (``split.json``: the test rows of ``labels.csv``, 15 % of the training rows as validation) is used by
   every later run, so the teacher never saw a validation or test clip of a student.
2. ``supernet`` per seed: ``specs/supernet.yaml`` (``train.type: ofa``, K = 4, started from the
   teacher's weights), then ``kaudio ofa search`` at :data:`BUDGETS` ± :data:`EPSILON` with
   population 25 (BN re-calibrated on training batches), and the chosen sub-network of each budget
   (``search/best_<N>.keras``) is scored on the test set.
3. ``scratch`` and ``kd`` per budget and seed: the paper's individual models, one width ratio for every
   dynamic block and depth 2 (:data:`BASELINE_WIDTHS`: 0.4 / 0.6 / 0.8 give 52,709 / 113,711 / 200,069
   parameters, which is where the budgets sit), trained from scratch with ``specs/scratch.yaml`` or by
   distillation with ``specs/kd.yaml``.

Every model is scored like ``kaudio evaluate``: test macro PR-AUC (mAP over the 16 instruments),
macro ROC-AUC and F1 with thresholds tuned on the validation set. ``summarize`` writes
``WORK/results.md`` (mean ± std over seeds, converged runs), ``WORK/results.csv`` and
``WORK/pareto.png`` (test mAP against parameters), and ``kaudio ofa plot`` draws each search.

Work items run in order, each resumable (an interrupted training continues from its backup, a finished
one is read back from ``result.json``); two ``run`` processes may share ``--work`` (each claims an item
before working on it, :class:`kaudio.claim.Claim`), which uses two CPU cores better than one process.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
SPECS = HERE / "specs"
#: Search budgets (trainable parameters) and tolerance: around the baselines' sizes, with at least 25
#: sub-networks inside each range (29 in the tightest, at 200k), as the paper's population needs.
BUDGETS = ("53k", "114k", "200k")
EPSILON = "15k"
POPULATION = 25
CALIBRATION_BATCHES = 10
#: Width ratio of every dynamic block (depth 2, fc1 the same ratio) of the individually trained model
#: of each budget (the paper's "width ratio = 0.4, depth = 2" models).
BASELINE_WIDTHS = {"53k": 0.4, "114k": 0.6, "200k": 0.8}
#: Rows per budget: the searched sub-network, the baseline's architecture cut from the supernet, KD, scratch.
METHODS = {"ofa": "OFA, searched", "ofa_fixed": "OFA, the baselines' architecture", "kd": "KD",
           "scratch": "from scratch"}
RESULT = "result.json"
#: Seconds of each epoch (training and validation), appended across resumes.
EPOCH_SECONDS = "epoch_seconds.json"


@dataclass(frozen=True)
class Item:
    """One unit of work: ``kind`` is teacher, supernet, search, scratch or kd."""

    kind: str
    seed: int = 0
    budget: "str | None" = None

    @property
    def name(self) -> str:
        return self.kind + (f" {self.budget}" if self.budget else "") + f" seed {self.seed}"


class Work:
    """The example's folder: ``teacher/``, ``supernet/seed<k>/`` (with ``search/``),
    ``<scratch|kd>/<budget>/seed<k>/``, results and figures."""

    def __init__(self, root: Path, data: Path, seeds: int = 3, verbose: int = 2):
        self.root, self.data, self.seeds, self.verbose = Path(root), Path(data), seeds, verbose

    # --- layout ---------------------------------------------------------------------------------
    @property
    def teacher_dir(self) -> Path:
        return self.root / "teacher"

    def run_dir(self, item: Item) -> Path:
        if item.kind == "teacher":
            return self.teacher_dir
        if item.kind in ("supernet", "search"):
            return self.root / "supernet" / f"seed{item.seed}"
        return self.root / item.kind / item.budget / f"seed{item.seed}"

    def items(self) -> list[Item]:
        """In the order they are worked on: the teacher, then seed by seed the supernet, its search and the
        baselines (a run cut short still has whole seeds)."""
        out = [Item("teacher")]
        for seed in range(self.seeds):
            out += [Item("supernet", seed), Item("search", seed)]
            out += [Item(kind, seed, budget) for budget in BUDGETS for kind in ("kd", "scratch")]
        return out

    def needs(self, item: Item) -> list[Item]:
        if item.kind in ("supernet", "kd"):
            return [Item("teacher")]
        if item.kind == "search":
            return [Item("supernet", item.seed)]
        return [Item("teacher")] if item.kind == "scratch" else []  # the teacher's split

    def done(self, item: Item) -> bool:
        if item.kind == "search":
            return all((self.run_dir(item) / "search" / f"test_{label}.json").is_file()
                       for label in (*BUDGETS, "largest", *(f"{b}_fixed" for b in BUDGETS)))
        return (self.run_dir(item) / RESULT).is_file()

    # --- specs ----------------------------------------------------------------------------------
    def teacher_overrides(self) -> dict[str, Any]:
        best = str((self.teacher_dir / "best.keras").resolve())
        return {"teacher.spec": str((self.teacher_dir / "spec.yaml").resolve()), "teacher.weights": best}

    def spec_and_overrides(self, item: Item) -> tuple[Path, dict[str, Any]]:
        overrides: dict[str, Any] = {"train.seed": item.seed}
        if item.kind == "teacher":
            return SPECS / "teacher.yaml", overrides
        if item.kind == "supernet":
            init = str((self.teacher_dir / "best.keras").resolve())
            return SPECS / "supernet.yaml", overrides | self.teacher_overrides() | {"train.init_from": init}
        overrides |= baseline_sizes(BASELINE_WIDTHS[item.budget])
        overrides["name"] = f"ofa_instruments_{item.kind}_{item.budget}"
        if item.kind == "kd":
            overrides |= self.teacher_overrides()
        return SPECS / f"{item.kind}.yaml", overrides

    # --- work -----------------------------------------------------------------------------------
    def data_for(self, spec):
        """The dataset folder read for ``spec`` with the teacher's split."""
        from kaudio.training.trainer import trainer_for

        split = self.teacher_dir / "split.json"
        return trainer_for(spec).load_data(self.data, split_file=split if split.is_file() else None)

    def train(self, item: Item) -> dict:
        from kaudio.training import fit
        from kaudio.training.callbacks import EpochSeconds
        from kaudio.training.fit import training_spec
        from kaudio.training.trainer import trainer_for

        spec_file, overrides = self.spec_and_overrides(item)
        spec = training_spec(spec_file, overrides)
        run_dir = self.run_dir(item)
        data = self.data_for(spec)
        data.save_split(run_dir / "split.json")
        seed = item.seed
        finished = finished_training(run_dir, spec.train["epochs"])
        if finished is None:
            result = fit(spec, data.dataset("train", seed), data.dataset("val", seed), run_dir=run_dir,
                         overrides=overrides, verbose=self.verbose, callbacks=[EpochSeconds(run_dir / EPOCH_SECONDS)])
            epochs, best_epoch = len(result.history.get("loss", [])), result.best_epoch
        else:  # trained before (e.g. the teacher by `kaudio train`), not scored yet
            epochs, best_epoch = finished
        model = load(run_dir / "best.keras")  # a supernet is scored as saved: its largest network
        evaluation = trainer_for(spec).evaluate(model, data.dataset("val", seed), data.dataset("test", seed), run_dir)
        saved = {"kind": item.kind, "budget": item.budget, "seed": seed, "params": trainable_params(model),
                 "epochs": epochs, "best_epoch": best_epoch, "test": single_row(evaluation["rows"])}
        timed = read_json(run_dir / EPOCH_SECONDS) or []
        if timed:
            saved["seconds_per_epoch"] = round(sum(timed) / len(timed), 1)
        write_json(run_dir / RESULT, saved)
        return saved

    def search(self, item: Item) -> None:
        """``kaudio ofa search`` on the supernet of ``item.seed``, then each chosen sub-network on the test set; and
        the largest network and, per budget, the baselines' architecture extracted with BN re-calibrated the
        same way (the supernet's shared statistics are those of the sampled mix, see the README), scored as
        ``test_largest.json`` and ``test_<N>_fixed.json``."""
        from kaudio.models.ofa.subnet import ofa_space
        from kaudio.training.ofa_search import OBJECTIVE

        run_dir = self.run_dir(item)
        search_dir = run_dir / "search"
        calibration = ["--data", str(self.data), "--calibration-batches", str(CALIBRATION_BATCHES),
                       "--seed", str(item.seed)]
        subprocess.run([sys.executable, "-m", "kaudio", "ofa", "search", str(run_dir), "--params", *BUDGETS,
                        "--epsilon", EPSILON, "--population", str(POPULATION), *calibration], check=True)
        summary = json.loads((search_dir / "summary.json").read_text())
        data = self.data_for(load_spec_of(run_dir))
        for budget in BUDGETS:
            chosen = next(c for c in summary["constraints"] if c["label"] == budget)
            self.score_subnet(search_dir / f"best_{budget}.keras", data, item.seed, budget,
                              config=chosen["best"]["config"], val_map=chosen["best"][OBJECTIVE])
        largest = ofa_space(load(run_dir / "best.keras")).largest()
        fixed = {f"{budget}_fixed": baseline_config(largest, BASELINE_WIDTHS[budget]) for budget in BUDGETS}
        for label, config in {"largest": largest, **fixed}.items():
            subprocess.run([sys.executable, "-m", "kaudio", "ofa", "extract", str(run_dir), json.dumps(config),
                            "--out", str(search_dir / f"{label}.keras"), "--overwrite", *calibration], check=True)
            self.score_subnet(search_dir / f"{label}.keras", data, item.seed, label, config=config)

    @staticmethod
    def score_subnet(path: Path, data, seed: int, label: str, **extra) -> None:
        """Test metrics of an extracted sub-network (thresholds tuned on the validation set) → ``test_<label>.json``."""
        from kaudio.training.evaluate import evaluate_model

        model = load(path)
        evaluation = evaluate_model(model, data.dataset("val", 0), data.dataset("test", 0))
        write_json(path.parent / f"test_{label}.json",
                   {"kind": "ofa", "budget": label, "seed": seed, "params": trainable_params(model), **extra,
                    "test": single_row(evaluation["rows"])})

    def work(self, wait_seconds: float = 30.0) -> None:
        """Work the items in order until every one is done, waiting while the rest are claimed or blocked."""
        from kaudio.claim import Claim

        while True:
            pending = [item for item in self.items() if not self.done(item)]
            if not pending:
                return
            ready = [item for item in pending if all(self.done(need) for need in self.needs(item))]
            for item in ready:
                claim = Claim(self.run_dir(item) / (".search" if item.kind == "search" else ""))
                if not claim.acquire():
                    continue
                try:
                    if self.done(item):
                        continue
                    print(f"run.py: {item.name}", flush=True)
                    self.search(item) if item.kind == "search" else self.train(item)
                finally:
                    claim.release()
                break
            else:
                time.sleep(wait_seconds)

    # --- results --------------------------------------------------------------------------------
    def results(self) -> list[dict]:
        out = []
        for item in self.items():
            if item.kind == "search":
                labels = (*BUDGETS, "largest", *(f"{b}_fixed" for b in BUDGETS))
                out += [read_json(self.run_dir(item) / "search" / f"test_{label}.json") for label in labels]
            else:
                out.append(read_json(self.run_dir(item) / RESULT))
        return [r for r in out if r is not None]


def finished_training(run_dir: Path, epochs: int) -> "tuple[int, int] | None":
    """``(epochs run, best epoch)`` of a run folder whose training ended (best.keras, a full history.csv, no
    backup/ to resume from), else None."""
    from kaudio.training.fit import read_history

    run = len(read_history(run_dir / "history.csv").get("loss", []))
    best = read_json(run_dir / "best.json")
    if (run_dir / "backup").exists() or not (run_dir / "best.keras").is_file() or best is None or run != epochs:
        return None
    return run, int(best["epoch"])


def baseline_config(largest: dict, ratio: float) -> dict:
    """The sub-network configuration of the individual model with ``ratio`` (every dynamic block at that width and
    depth 2, fc1 at that ratio): the baselines' architecture, as a supernet configuration."""
    return {**largest, "widths": [ratio] * len(largest["widths"]), "fc_width": ratio}


def baseline_sizes(ratio: float) -> dict[str, Any]:
    """``backbone.filters`` / ``embedding_size`` of the individual model with ``ratio`` in every dynamic block
    (⌊r·D⌋ channels, as the supernet's sub-networks)."""
    from kaudio.models.ofa.space import scaled_width
    from kaudio.spec import load_spec

    teacher = load_spec(SPECS / "teacher.yaml").backbone
    filters = teacher["filters"]
    return {"backbone.filters": [filters[0]] + [scaled_width(ratio, f) for f in filters[1:]],
            "backbone.embedding_size": scaled_width(ratio, teacher["embedding_size"])}


def load(path: Path):
    """A model kaudio wrote (kaudio's layers registered); a clear error for a missing or corrupt file."""
    from kaudio.training.init_weights import load_source_model

    return load_source_model(path, key="run.py")


def load_spec_of(run_dir: Path):
    from kaudio.spec import load_spec

    return load_spec(run_dir / "spec.yaml")


def trainable_params(model) -> int:
    return sum(math.prod(w.shape) for w in model.trainable_weights)


def single_row(rows: Sequence[dict]) -> dict:
    (row,) = rows
    return {key: float(row[key]) for key in ("roc_auc", "pr_auc", "f1")}


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def read_json(path: Path) -> "dict | None":
    return json.loads(path.read_text()) if path.is_file() else None


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    import numpy as np

    return float(np.mean(values)), float(np.std(values)) if len(values) > 1 else 0.0


def converged_text(rows: Sequence[dict]) -> str:
    trained = [r for r in rows if "best_epoch" in r]
    if not trained:
        return ""
    ok = sum(r["best_epoch"] < r["epochs"] for r in trained)
    return f"{ok}/{len(trained)} (best epochs {', '.join(str(r['best_epoch']) for r in trained)} of {trained[0]['epochs']})"


def summary_rows(results: Sequence[dict], supernets: Sequence[dict]) -> list[dict]:
    """One row per (budget, method): seeds, mean trainable parameters, test metrics mean ± std, convergence."""
    rows = []
    for budget in BUDGETS:
        for method in METHODS:
            kind, label = ("ofa", f"{budget}_fixed") if method == "ofa_fixed" else (method, budget)
            runs = sorted((r for r in results if r["kind"] == kind and r["budget"] == label), key=lambda r: r["seed"])
            if not runs:
                continue
            row = {"budget": budget, "method": method, "seeds": [r["seed"] for r in runs],
                   "params": mean_std([r["params"] for r in runs])[0],
                   "converged": converged_text(supernets if kind == "ofa" else runs)}
            for metric in ("pr_auc", "roc_auc", "f1"):
                row[metric] = mean_std([r["test"][metric] for r in runs])
            if method == "ofa":
                row["configs"] = [config_text(r["config"]) for r in runs]
            rows.append(row)
    return rows


def config_text(config: dict) -> str:
    from kaudio.models.ofa.subnet import config_label

    return config_label(config)


def markdown(rows: Sequence[dict], teacher: "dict | None", supernets: Sequence[dict], largest: Sequence[dict],
             seeds: int) -> str:
    """The results table: the teacher, the supernet's largest network (as saved, and extracted with BN
    re-calibrated), then per budget OFA, KD and scratch; mean ± std over seeds."""
    def pct(pair):
        return f"{100 * pair[0]:.1f} ± {100 * pair[1]:.1f}"

    def whole_row(label: str, runs: Sequence[dict], converged: str) -> str:
        values = {m: mean_std([r["test"][m] for r in runs]) for m in ("pr_auc", "roc_auc", "f1")}
        return (f"| - | {label} | {len(runs)} | {runs[0]['params']:,} | {pct(values['pr_auc'])} | "
                f"{pct(values['roc_auc'])} | {pct(values['f1'])} | {converged} |")

    lines = ["| budget | method | seeds | trainable params | test mAP (%) | ROC-AUC (%) | F1 (%) | converged |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    if teacher is not None:
        lines.append(whole_row("teacher", [teacher], converged_text([teacher])))
    if supernets:
        lines.append(whole_row("supernet, largest, shared BN statistics", supernets, converged_text(supernets)))
    if largest:
        lines.append(whole_row("supernet, largest, BN re-calibrated", largest, ""))
    for row in rows:
        lines.append(f"| {row['budget']} ± {EPSILON} | {METHODS[row['method']]} | {len(row['seeds'])} | {row['params']:,.0f} | "
                     f"{pct(row['pr_auc'])} | {pct(row['roc_auc'])} | {pct(row['f1'])} | {row['converged']} |")
    searched = [f"* {row['budget']}: " + "; ".join(f"seed {s}: {c}" for s, c in zip(row["seeds"], row["configs"]))
                for row in rows if row["method"] == "ofa"]
    complete = sum(len(r["seeds"]) for r in rows) == len(BUDGETS) * len(METHODS) * seeds
    head = [] if complete else ["**Partial results**: not every run has finished; rows show the finished ones.", ""]
    return "\n".join(head + lines + (["", "Searched sub-networks (per supernet seed):", *searched] if searched else [])) + "\n"


def figure(rows: Sequence[dict], teacher: "dict | None", path: Path) -> Path:
    """Test mAP against trainable parameters, mean ± std over seeds, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    styles = {"ofa": ("o-", "OFA, searched (no retraining)"), "ofa_fixed": ("D-.", "OFA, the baselines' architecture"),
              "kd": ("s--", "KD"), "scratch": ("^:", "from scratch")}
    for method, (style, label) in styles.items():
        mine = [r for r in rows if r["method"] == method]
        if mine:
            ax.errorbar([r["params"] for r in mine], [100 * r["pr_auc"][0] for r in mine],
                        yerr=[100 * r["pr_auc"][1] for r in mine], fmt=style, capsize=3, label=label)
    if teacher is not None:
        ax.plot([teacher["params"]], [100 * teacher["test"]["pr_auc"]], "k*", markersize=10, label="teacher")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel("test mAP (%)")
    ax.set_title("16 GM instruments: OFA vs individually trained models")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def summarize(work: Work) -> Path:
    """``WORK/results.md``, ``results.csv`` and ``pareto.png`` from the finished runs; ``kaudio ofa plot`` per search."""
    import csv

    results = work.results()
    teacher = next((r for r in results if r["kind"] == "teacher"), None)
    supernets = [r for r in results if r["kind"] == "supernet"]
    largest = [r for r in results if r["kind"] == "ofa" and r["budget"] == "largest"]
    rows = summary_rows(results, supernets)
    (work.root / "results.md").write_text(markdown(rows, teacher, supernets, largest, work.seeds), encoding="utf-8")
    with open(work.root / "results.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["kind", "budget", "seed", "params", "epochs", "best_epoch", "test_pr_auc", "test_roc_auc",
                         "test_f1", "seconds_per_epoch"])
        for r in results:
            writer.writerow([r["kind"], r.get("budget") or "", r["seed"], r["params"], r.get("epochs", ""),
                             r.get("best_epoch", ""), *(f"{r['test'][m]:.4f}" for m in ("pr_auc", "roc_auc", "f1")),
                             r.get("seconds_per_epoch", "")])
    if rows:
        figure(rows, teacher, work.root / "pareto.png")
    for seed in range(work.seeds):
        search_dir = work.run_dir(Item("search", seed)) / "search"
        if (search_dir / "summary.json").is_file():
            subprocess.run([sys.executable, "-m", "kaudio", "ofa", "plot", str(search_dir.parent)], check=True)
    return work.root / "results.md"


def main(argv: "Sequence[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("run", "summarize"))
    parser.add_argument("--data", type=Path, required=True, help="the folder written by "
                        "examples/hierarchical_instruments/render_dataset.py")
    parser.add_argument("--work", type=Path, default=Path("runs/ofa_instruments"), help="folder of runs and results")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the supernet and of each baseline")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras output while training")
    args = parser.parse_args(argv)
    work = Work(args.work, args.data, args.seeds, args.verbose)
    try:
        if args.command == "run":
            work.work()
        print(summarize(work).read_text(), end="")
    except KeyboardInterrupt:
        print("run.py: interrupted; run it again to continue where it stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
