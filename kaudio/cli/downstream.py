"""``kaudio downstream DATASET --out REPORT.json``: the L3 paper's downstream evaluation of an embedding;
``kaudio downstream compare A.json B.json``: the Wilcoxon signed-rank test between two reports.

The protocol (Cramer et al., "Look, Listen and Learn More", ICASSP 2019, §3.2–3.3) is documented in
:mod:`kaudio.downstream.protocol`; datasets (a ``labels.csv`` folder with ``file,label,fold``,
UrbanSound8K, ESC-50) in :mod:`kaudio.downstream.datasets`. Features are cached per clip in
``--cache`` (default: ``REPORT.features/`` beside the report), so a second run with the same model
(e.g. another ``--grid``) does not embed again; a cache made with another model, weights, hop or
dataset is refused with the difference named. ``--model FILE.keras`` embeds with an audio embedding
model saved as a file (``kaudio avc export RUN --keras-out FILE.keras``: any trained AVC audio tower)
at its own window and rate; its cache key holds the file's sha256, and ``--weights none`` draws the
same network's weights afresh with ``--seed``. The report is written only when every fold is done
(``REPORT.json`` and the table ``REPORT.md``). Exit status: 0, 2 for bad arguments or inputs, 1 when
an output cannot be written, 130 after Ctrl-C (cached features stay complete and are reused).
"""
from __future__ import annotations

import sys
from pathlib import Path

from kaudio.cli.arguments import positive
from kaudio.cli.main import EXIT_INTERRUPTED

COMMAND = "downstream"
HELP = "evaluate an embedding with the L3 paper's downstream protocol (MLP per fold), or compare two reports"


def add_arguments(parser) -> None:
    parser.usage = ("kaudio downstream DATASET --out REPORT.json [options]\n"
                    "       kaudio downstream compare A.json B.json")
    parser.add_argument("targets", nargs="+", metavar="DATASET",
                        help="a dataset folder (labels.csv with file,label,fold; UrbanSound8K; ESC-50), or "
                             "`compare A.json B.json`")
    parser.add_argument("--out", "-o", metavar="REPORT.json", help="the report to write (required for a dataset)")
    parser.add_argument("--model", "-m", default="openl3_mel256_music",
                        help="an audio embedding model, a .keras embedding model file (kaudio avc export RUN "
                             "--keras-out FILE.keras), or 'logmel' for the log-mel baseline (default: %(default)s)")
    parser.add_argument("--embedding-size", "-s", type=positive(int),
                        help="embedding size (default: 6144; a .keras model: its own)")
    parser.add_argument("--weights", default="pretrained",
                        help="'pretrained' (default; a .keras model: its own weights), a weight file, or 'none' for "
                             "random weights (a .keras model: its network re-initialised with --seed)")
    parser.add_argument("--cache", metavar="DIR",
                        help="feature cache folder (default: REPORT.features beside the report)")
    parser.add_argument("--grid", choices=("full", "quick"), default="full",
                        help="full: lr x wd in {1e-5,1e-4,1e-3}^2 (the paper); quick: lr 1e-3, wd 1e-4 (default: full)")
    parser.add_argument("--epochs", type=positive(int), default=50, help="most epochs per MLP (default: %(default)s)")
    parser.add_argument("--patience", type=positive(int), default=20,
                        help="early-stopping patience on the validation loss (default: %(default)s)")
    parser.add_argument("--jobs", "-j", type=positive(int),
                        help="folds trained in parallel processes (default: 1; measured not faster on 2 cores)")
    parser.add_argument("--hop-size", type=positive(float), default=0.1,
                        help="seconds between 1-s windows (default: %(default)s)")
    parser.add_argument("--batch-size", "-b", type=positive(int), default=32,
                        help="windows per embedding forward pass (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="validation splits, weights, shuffling, a .keras model's random weights (default: 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def run(args) -> int:
    from kaudio.errors import KaudioError

    if args.targets[0] == "compare":
        if len(args.targets) != 3:
            raise KaudioError(f"compare takes two reports: kaudio downstream compare A.json B.json (got "
                              f"{len(args.targets) - 1})")
        return _compare(*args.targets[1:])
    if len(args.targets) != 1:
        raise KaudioError(f"give one dataset folder (got {len(args.targets)}: {' '.join(args.targets)}); to compare "
                          "reports: kaudio downstream compare A.json B.json")
    return _evaluate(args)


def _compare(first: str, second: str) -> int:
    from kaudio.downstream.compare import compare_reports

    comparison = compare_reports(first, second)
    print(comparison.text())
    print()
    print(comparison.markdown(), end="")
    return 0


def _evaluate(args) -> int:
    from kaudio.errors import KaudioError
    from kaudio.writable import ensure_writable_file

    if not args.out:
        raise KaudioError("--out REPORT.json is required: where to write the report")
    out = Path(args.out)
    if out.suffix.lower() != ".json":
        raise KaudioError(f"--out {out}: the report is JSON; give a name ending in .json (the table goes beside it "
                          "as .md)")
    ensure_writable_file(out, args.overwrite, "report")
    ensure_writable_file(out.with_suffix(".md"), True, "report table")
    weights = None if args.weights.lower() == "none" else args.weights
    cache = Path(args.cache) if args.cache else out.with_suffix(".features")

    from kaudio.downstream.datasets import load_downstream_dataset
    from kaudio.downstream.protocol import ProtocolSettings, default_jobs, run_downstream
    from kaudio.downstream.report import write_report

    dataset = load_downstream_dataset(args.targets[0])
    protocol = ProtocolSettings.from_grid(args.grid, epochs=args.epochs, patience=args.patience, seed=args.seed)
    folds = len(dataset.fold_names)
    jobs = min(args.jobs, folds) if args.jobs else default_jobs(folds)
    print(f"dataset {dataset.root} ({dataset.layout}): {len(dataset)} clips, {len(dataset.classes)} classes, "
          f"{folds} folds; features {args.model}; grid {len(protocol.grid)} point(s), at most {args.epochs} epochs; "
          f"{jobs} job(s); feature cache {cache}", flush=True)
    done = []

    def on_fold(result: dict) -> None:
        done.append(result)
        print(f"fold {result['fold']} ({len(done)}/{folds}): accuracy {100 * result['accuracy']:.2f} % of "
              f"{result['test_clips']} clips (lr {result['learning_rate']:g}, wd {result['weight_decay']:g}, "
              f"{result['epochs']} epochs), {result['seconds']:.1f} s", flush=True)

    try:
        report = run_downstream(dataset, args.model, args.embedding_size, weights, cache=cache, protocol=protocol,
                                jobs=jobs, hop_size=args.hop_size, batch_size=args.batch_size,
                                progress=not args.quiet, on_fold=on_fold)
    except KeyboardInterrupt:
        print(f"kaudio downstream: interrupted after {len(done)} of {folds} fold(s); no report was written; the "
              f"cached features in {cache} are complete (nothing partial is left) and are reused by the next run",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    json_path, markdown = write_report(report, out)
    accuracy = report["accuracy"]
    print(f"clip accuracy {100 * accuracy['mean']:.2f} ± {100 * accuracy['std']:.2f} % over {accuracy['folds']} folds "
          f"({report['features']['computed_clips']} clip(s) embedded, {report['features']['cached_clips']} from the "
          f"cache; {report['seconds']:.1f} s)")
    print(f"wrote {json_path} and {markdown}")
    return 0
