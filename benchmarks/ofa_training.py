"""Benchmark: once-for-all supernet training and search costs (Lin et al., ICASSP 2023; kaudio's ``ofa`` trainer
and ``kaudio ofa search``), on the CPU.

1. **Training step** (forward + backward + Adam update, one compiled ``train_on_batch`` on the same batch): the
   ``ofa`` trainer on the bundled ``ofa_cnn10`` supernet with K = 1 and K = 4 sampled sub-networks per step (no
   warm phase, SpecAugment on), against one plain CNN10 step (the ``kd`` trainer on ``panns_cnn10``: the same
   teacher pass, one student). The teacher is a randomly initialised ``panns_cnn10`` (its weights do not change the
   cost). Input: ``--batch-size`` (8) clips of ``--seconds`` (2) at 32 kHz — 201 × 64 log-mel — so it runs on a CPU;
   the first call (the trace) is reported apart, then the median of ``--steps`` (5) calls after one warm-up.
2. **Candidate evaluation** in the search (:class:`kaudio.training.ofa_search.CandidateScorer`: extraction as a
   plain model, BN re-calibration, validation mAP) for the smallest, a middle and the largest sub-network, with
   ``--calibration-batches`` (4) batches and without: seconds per candidate on ``--val-clips`` (32) clips of the
   same length (random audio and labels: the numbers are costs, not accuracies).
3. **TFLite latency per budget**: for each budget of the paper (0.8M, 1.8M, 2.8M, 3.8M ± 0.2M) one in-budget
   sub-network (the first of the search's seeded draw), extracted from ``ofa_cnn10`` at ``--latency-seconds`` (10)
   s and 32 kHz, converted to float32 TFLite (waveform input), median of 20 calls on 1 thread
   (:mod:`kaudio.deploy.tflite`).

``--tables training scoring latency`` chooses the parts (default all).

Nothing asserts on the numbers. Run: ``.venv/bin/python benchmarks/ofa_training.py [--batch-size 8 --seconds 2]``
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks.common import progress  # noqa: E402

PAPER_BUDGETS = ("0.8M", "1.8M", "2.8M", "3.8M")


def student_spec(kind: str, seconds: float, **train) -> dict:
    """``ofa_cnn10`` (``kind="ofa"``) or ``panns_cnn10`` (``"kd"``) with a random CNN10 teacher, ``seconds`` long."""
    import kaudio

    teacher = {"spec": "panns_cnn10", "weights": None, "overrides": [f"input.duration={seconds}"]}
    spec = kaudio.spec.load_spec("ofa_cnn10" if kind == "ofa" else "panns_cnn10",
                                 [f"input.duration={seconds}"]).to_dict()
    spec.pop("train", None)
    spec.update(teacher=teacher, train={"type": kind, **train})
    return spec


def time_steps(spec: dict, batch, steps: int) -> tuple[float, float]:
    """(first call s, median step s) of ``train_on_batch`` with the spec's trainer wrapper."""
    from kaudio.training.fit import training_spec
    from kaudio.training.trainer import trainer_for

    trainer = trainer_for(training_spec(spec))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "learns from a randomly initialised teacher"
        model = trainer.build_model()
        trainer.prepare(model, Path(tempfile.gettempdir()), resuming=False, verbose=0)
    wrapper = trainer.training_model(model)
    wrapper.compile(optimizer=trainer.optimizer(steps_per_epoch=1000))
    x, y = batch
    start = time.perf_counter()
    wrapper.train_on_batch(x, y)
    first = time.perf_counter() - start
    wrapper.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        wrapper.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def random_batch(count: int, samples: int, classes: int = 527, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((count, samples, 1)) * 0.1).astype("float32")
    labels = (rng.random((count, classes)) < 0.02).astype("float32")
    labels[np.arange(count), rng.integers(0, classes, count)] = 1
    return x, {"labels": labels, "labels_mask": np.ones_like(labels)}


def training_table(args) -> list[str]:
    samples = int(32000 * args.seconds)
    batch = random_batch(args.batch_size, samples)
    rows = []
    for label, spec in (("plain CNN10 (kd trainer, 1 student)", student_spec("kd", args.seconds)),
                        ("ofa_cnn10, K = 1", student_spec("ofa", args.seconds, subnets_per_step=1,
                                                           warmup_largest_steps=0)),
                        ("ofa_cnn10, K = 4", student_spec("ofa", args.seconds, subnets_per_step=4,
                                                           warmup_largest_steps=0))):
        progress(f"training step: {label}")
        rows.append((label, *time_steps(spec, batch, args.steps)))
    base = rows[0][2]
    lines = ["| training step | first call (trace) | median step | vs plain CNN10 |", "|---|---:|---:|---:|"]
    lines += [f"| {label} | {first:.1f} s | {step:.2f} s | {step / base:.2f}× |" for label, first, step in rows]
    return lines


def scoring_table(args) -> list[str]:
    import tensorflow as tf

    import kaudio
    from kaudio.training.ofa_search import CandidateScorer

    samples = int(32000 * args.seconds)
    supernet = kaudio.build("ofa_cnn10", [f"input.duration={args.seconds}"])
    space = supernet.backbone.space
    x, y = random_batch(args.val_clips, samples, seed=1)
    val = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch_size).cache()
    cx, _ = random_batch(args.calibration_batches * args.batch_size, samples, seed=2)
    calibration = tf.data.Dataset.from_tensor_slices(cx).batch(args.batch_size).cache()
    configs = {"smallest": space.smallest(), "widths 0.6/0.8/0.6, fc 0.6": {"widths": [0.6, 0.8, 0.6],
                                                                          "depths": [2, 2, 2], "fc_width": 0.6},
               "largest": space.largest()}
    lines = [f"| candidate ({args.val_clips} validation clips) | trainable params | no calibration | "
             f"BN calibration ({args.calibration_batches} batches) |", "|---|---:|---:|---:|"]
    for name, config in configs.items():
        times = []
        for batches in (None, calibration):
            scorer = CandidateScorer(supernet, val, batches, report=lambda line: None)
            scorer(config)  # warm: dataset caches, first traces of the ops
            start = time.perf_counter()
            scorer(config)
            times.append(time.perf_counter() - start)
        params = space.count_params(config, 527).trainable
        progress(f"candidate {name}: {times[0]:.1f} s / {times[1]:.1f} s")
        lines.append(f"| {name} | {params:,} | {times[0]:.1f} s | {times[1]:.1f} s |")
    return lines


def latency_table(args) -> list[str]:
    import kaudio
    from kaudio.deploy import tflite
    from kaudio.models.ofa import config_label, extract_subnet
    from kaudio.training.ofa_search import draw_population, in_budget, parse_budgets

    supernet = kaudio.build("ofa_cnn10", [f"input.duration={args.latency_seconds}"])
    space = supernet.backbone.space
    lines = [f"| budget | sub-network (first of the seeded draw) | trainable params | float32 size | "
             f"latency per {args.latency_seconds:g}-s clip |", "|---|---|---:|---:|---:|"]
    for budget in parse_budgets(PAPER_BUDGETS, "0.2M"):
        config, params = draw_population(in_budget(space, 527, budget), 1, seed=0)[0]
        progress(f"TFLite {budget.label}: {config_label(config)}")
        plain = extract_subnet(supernet, config)
        with tempfile.TemporaryDirectory() as folder:
            export = tflite.convert(plain, Path(folder) / "m.tflite", "float32", "waveform")
            latency = tflite.measure_latency(export.path, threads=1, runs=20)
        lines.append(f"| {budget.label} ± 0.2M | {config_label(config)} | {params:,} | "
                     f"{export.size_bytes / 1e6:.2f} MB | {latency.median_ms:.0f} ms |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0, help="clip length of the training and scoring parts")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--val-clips", type=int, default=32)
    parser.add_argument("--calibration-batches", type=int, default=4)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--tables", nargs="+", choices=("training", "scoring", "latency"),
                        default=["training", "scoring", "latency"], help="which parts to measure (default all)")
    args = parser.parse_args(argv)
    import keras
    import tensorflow as tf

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start, TensorFlow {tf.__version__}, "
          f"Keras {keras.__version__}; batch {args.batch_size} × {args.seconds:g} s at 32 kHz")
    tables = {"training": training_table, "scoring": scoring_table, "latency": latency_table}
    for table in (tables[name] for name in args.tables):
        print()
        print("\n".join(table(args)))
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
