"""Benchmark ``kaudio downstream``: time per fold with the features computed vs read from the cache,
and one fold process vs two.

Setting: a synthetic dataset made with ``tests/downstream/synthetic.py`` (class-specific tones in
noise, 16 kHz WAV; by default 3 classes × 4 folds × 6 clips of 2 s = 72 clips, 11 windows each
at hop 0.1 s); the features of ``--model`` (default ``openl3_mel256_music`` with random weights —
the time does not depend on the weights — 6144-d) and of ``logmel``; the MLP protocol with
``--grid`` (quick) and ``--epochs`` (10) so that a fold takes seconds, not minutes.

Each setting runs the command line in a fresh process (``kaudio downstream DATASET --out …``),
so the times include the process start and TensorFlow's import, as a user sees them:

1. ``cold``: empty feature cache — decoding, resampling and embedding every clip, then the folds;
2. ``cached``: the same command again — features read from the cache, then the folds;
3. ``cached, 2 jobs``: as 2 with ``--jobs 2`` (two spawned fold processes, one thread each).

Reported per run: wall and CPU seconds of the command (CPU: user + system of the process and its
fold workers, summed over cores), feature seconds and mean seconds per fold (both from the
report), and the 1-minute load average before the run (``os.getloadavg``: other work on the
machine slows every number down). Run from the repository root::

    .venv/bin/python benchmarks/downstream.py
    .venv/bin/python benchmarks/downstream.py --clips-per-class 10 --seconds 4 --grid full --epochs 50

A markdown table goes to stdout, progress to stderr; ``--json PATH`` saves the rows. Nothing
asserts on any number.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from common import progress  # noqa: E402  (benchmarks/common.py)


def kaudio_command() -> list[str]:
    exe = Path(sys.executable).with_name("kaudio")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "kaudio"]


def run(dataset: Path, out: Path, cache: Path, model: str, args, jobs: int) -> dict:
    command = kaudio_command() + ["downstream", str(dataset), "--model", model, "--out", str(out), "--cache",
                                  str(cache), "--grid", args.grid, "--epochs", str(args.epochs), "--jobs", str(jobs),
                                  "--overwrite", "--quiet"]
    if model != "logmel":
        command += ["--weights", "none", "--embedding-size", str(args.embedding_size)]
    load = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    report = json.loads(out.read_text())
    folds = report["folds"]
    return {"features": model, "jobs": jobs, "cache": "cold" if report["features"]["computed_clips"] else "cached",
            "clips": report["dataset"]["clips"], "windows": report["features"]["windows"],
            "dimension": report["features"]["dimension"], "folds": len(folds), "wall_s": wall, "cpu_s": cpu,
            "feature_s": report["features"]["seconds"], "fold_s": sum(f["seconds"] for f in folds) / len(folds),
            "accuracy": report["accuracy"]["mean"], "load_before": load}


def table(rows) -> str:
    lines = ["| features | cache | jobs | clips (windows) | command wall s | command CPU s | features s | s per fold | "
             "accuracy | load avg before |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['features']} {r['dimension']}-d | {r['cache']} | {r['jobs']} | "
                     f"{r['clips']} ({r['windows']}) | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['feature_s']:.1f} | "
                     f"{r['fold_s']:.1f} | {100 * r['accuracy']:.1f} % | {r['load_before']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="openl3_mel256_music", help="embedding model (random weights)")
    parser.add_argument("--embedding-size", type=int, default=6144)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--clips-per-class", type=int, default=6, help="per class and fold")
    parser.add_argument("--seconds", type=float, default=2.0, help="clip length")
    parser.add_argument("--grid", choices=("quick", "full"), default="quick")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--no-logmel", action="store_true", help="skip the logmel baseline")
    parser.add_argument("--json", help="save the rows here")
    args = parser.parse_args()

    from tests.downstream.synthetic import make_tone_dataset

    import tensorflow as tf

    print(f"machine: {os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, Python {sys.version.split()[0]}; "
          f"{args.folds} folds x 3 classes x {args.clips_per_class} clips of {args.seconds:g} s; grid {args.grid}, "
          f"{args.epochs} epochs")
    rows = []
    with tempfile.TemporaryDirectory(prefix="kaudio-bench-downstream-") as scratch:
        scratch = Path(scratch)
        dataset = make_tone_dataset(scratch / "tones", folds=tuple(range(1, args.folds + 1)),
                                    clips_per_class=args.clips_per_class, seconds=args.seconds)
        models = [args.model] + ([] if args.no_logmel else ["logmel"])
        for model in models:
            cache = scratch / f"cache_{model}"
            for jobs in (1, 1, 2):  # cold, cached, cached with two fold processes
                progress(f"{model}: jobs {jobs}, cache {'cold' if not cache.exists() else 'warm'} ...")
                rows.append(run(dataset, scratch / f"{model}.json", cache, model, args, jobs))
                progress(f"  {rows[-1]['wall_s']:.1f} s")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
