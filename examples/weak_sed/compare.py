"""Make the example's weak-label set and compare 2APAE with the GAP and GMP baselines over seeds.

    python compare.py --work runs/weak_sed --seeds 3

Steps (each skipped when its output exists, so an interrupted comparison continues):

1. ``make_sounds.py``: 8 synthetic event classes and 8 background scenes;
2. ``kaudio mix``: 480 clips of 4 s at 16 kHz, 3 events per clip, SNR −20 / −10 / 0 dB (the paper's
   0 / 10 / 20 dB made the synthetic classes too easy: clip AP 100 %), 4 folds (fold 3 validation,
   fold 4 test);
3. ``kaudio train SPEC --seeds N`` for ``specs/weak_sed_{2apae,2apae_conv,gap,gmp}.yaml``;
4. ``results.md``: every model's table (mean ± std over the seeds, overall and per SNR) and each
   run's best epoch, so a reader can check that the runs converged (best epoch before the last).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
KAUDIO = [sys.executable, "-m", "kaudio"]
MODELS = ("2apae", "gap", "gmp", "2apae_conv")  # the baselines the comparison needs first


def run(command: list[str]) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="runs/weak_sed", help="folder for the data and the runs")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--clips", type=int, default=480)
    parser.add_argument("--epochs", type=int, help="override train.epochs of the specs")
    args = parser.parse_args(argv)
    work = Path(args.work)
    sounds, data = work / "sounds", work / "set"
    if not (sounds / "events").is_dir():
        run([sys.executable, str(HERE / "make_sounds.py"), "--out", str(sounds)])
    run(KAUDIO + ["mix", str(sounds / "events"), str(sounds / "backgrounds"), "--out", str(data),
                  "--clips", str(args.clips), "--clip-seconds", "4", "--sample-rate", "16000",
                  "--events-per-clip", "3", "--snr", "-20", "-10", "0", "--max-event-seconds", "1", "--mono",
                  "--val-fold", "3", "--test-fold", "4", "--quiet"])
    sections = []
    for model in MODELS:
        out = work / model
        if not (out / "metrics.md").is_file():
            command = KAUDIO + ["train", str(HERE / "specs" / f"weak_sed_{model}.yaml"), "--data", str(data),
                                "--out", str(out), "--seeds", str(args.seeds), "-q"]
            if args.epochs:
                command += ["--epochs", str(args.epochs)]
            run(command)
        best = []
        for seed_dir in sorted(out.glob("seed_*")):
            info = json.loads((seed_dir / "best.json").read_text())
            epochs = len((seed_dir / "history.csv").read_text().splitlines()) - 1
            best.append(f"{seed_dir.name}: best epoch {info['epoch']} of {epochs} ({info['monitor']} "
                        f"{info['value']:.3f})")
        sections.append(f"### {model}\n\n{(out / 'metrics.md').read_text()}\n" + "\n".join(f"- {b}" for b in best))
    (work / "results.md").write_text("\n\n".join(sections) + "\n")
    print((work / "results.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
