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
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
SPECS = HERE / "specs"
HEADS = ("flat", "gmp", "lp", "resatt")


def spec_path(head: str) -> Path:
    return SPECS / f"instruments_{head}.yaml"


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
                        help="train again even where OUT/<head>_seed<k>/test_metrics.json shows a finished run")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N clips (a quick smoke run)")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras output while training")
    args = parser.parse_args(argv)

    import kaudio
    import kaudio.models.panns  # noqa: F401  (registers the panns_cnn backbone)
    from kaudio.data import load_tagging_folder, make_dataset, split_indices
    from kaudio.metrics import summarize_runs, to_markdown, write_csv
    from kaudio.training import fit
    from kaudio.training.evaluate import evaluate_model
    from kaudio.training.fit import training_spec

    overrides = list(args.overrides) + ([f"train.epochs={args.epochs}"] if args.epochs else [])
    try:
        base = training_spec(spec_path(args.heads[0]), overrides)
        settings = base.params("train")
        table = load_tagging_folder(args.data, base.params("head")["hierarchy"])
        if args.limit:
            table = table.subset(np.arange(min(args.limit, len(table))))
        sample_rate = int(base.params("input")["sample_rate"])
        samples = int(round(float(base.params("input")["duration"]) * sample_rate))
    except kaudio.KaudioError as err:
        print(f"compare.py: error: {err}", file=sys.stderr)
        return 2
    print(table.summary())

    runs: dict[str, list[list[dict]]] = {head: [] for head in args.heads}
    timings: list[dict] = []
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in range(args.seeds):
        split = split_indices(table, val_fraction=settings["val_fraction"], seed=seed)
        test_name = "test"
        if len(split["test"]) == 0:
            print("compare.py: the data has no test rows; scoring the validation set instead", file=sys.stderr)
            split["test"], test_name = split["val"], "val"
        print(f"\nseed {seed}: {len(split['train'])} train / {len(split['val'])} val / {len(split['test'])} "
              f"{test_name} clips")
        batch = settings["batch_size"]
        train_ds = make_dataset(table, split["train"], sample_rate, samples, batch, shuffle=True, seed=seed,
                                cache="memory")
        val_ds = make_dataset(table, split["val"], sample_rate, samples, batch, cache="memory")
        test_ds = make_dataset(table, split["test"], sample_rate, samples, batch, cache="memory")
        for head in args.heads:
            run_dir = args.out / f"{head}_seed{seed}"
            finished = run_dir / "test_metrics.json"
            if finished.is_file() and not args.retrain:  # a finished run (e.g. before adding seeds) is reused
                saved = json.loads(finished.read_text(encoding="utf-8"))
                runs[head].append(saved.pop("rows"))
                timings.append(saved)
                print(f"\n=== {head} (seed {seed}): finished earlier, reusing {finished}")
                continue
            print(f"\n=== {head} (seed {seed}) -> {run_dir}")
            started = time.perf_counter()
            result = fit(spec_path(head), train_ds, val_ds, run_dir=run_dir,
                         overrides=overrides + [f"train.seed={seed}"], verbose=args.verbose)
            seconds = time.perf_counter() - started
            rows = evaluate_model(result.model, val_ds, test_ds, run_dir=run_dir, method=head)["rows"]
            runs[head].append(rows)
            epochs = len(next(iter(result.history.values()), []))
            timings.append({"head": head, "seed": seed, "epochs": epochs, "best_epoch": result.best_epoch,
                            "seconds": round(seconds, 1), "seconds_per_epoch": round(seconds / max(epochs, 1), 1)})
            (run_dir / "test_metrics.json").write_text(json.dumps({"rows": rows, **timings[-1]}, indent=2) + "\n",
                                                       encoding="utf-8")
            print(f"{head} seed {seed}: best epoch {result.best_epoch}/{epochs}, {seconds:.0f} s; " + ", ".join(
                f"{r['level']} ROC-AUC {100 * r['roc_auc']:.1f} PR-AUC {100 * r['pr_auc']:.1f} F1 {100 * r['f1']:.1f}"
                for r in rows))

    summary = summarize_runs(runs)
    title = (f"Test set ({len(split['test'])} clips), macro scores in %, {args.seeds} seed(s) per head, "
             f"{settings['epochs']} epochs")
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
