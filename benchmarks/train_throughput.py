"""Benchmark training throughput of the hierarchical taggers: PANNs CNN10 / CNN14 + ResAtt head.

Setting (issue #4, "Speed"): the paper's input — 10 s of 16 kHz mono audio through the
``panns_16k`` log-mel front end (64 mels, hop 160) — a ``panns_cnn`` backbone (preset ``cnn10``
or ``cnn14``), the ``resatt`` head on the bundled OpenMIC tone hierarchy, the masked λ-BCE loss,
AdamW with the warm-up schedule and kapre SpecAugment (``--no-spec-augment`` turns it off):
exactly the train step :func:`kaudio.fit` runs (:class:`kaudio.training.HierarchicalTrainer`).

Data: random audio (Gaussian, σ 0.1) and random fine labels (coarse by the max rule, every entry
known), one batch of ``--batch-size`` (16) reused, so no input pipeline is timed. For each model
and each XLA setting (``--jit off on``: ``compile(jit_compile=...)``), ``--warmup`` (2) untimed
steps (the first traces / compiles) are followed by ``--steps`` (5) timed ``train_on_batch``
calls. Reported: seconds per step (median and best), training examples per second (from the
median step), parameters, and the compile time of the first step. All weights are random.

Run (from the repository root)::

    .venv/bin/python benchmarks/train_throughput.py                          # cnn10 + cnn14, XLA off/on
    .venv/bin/python benchmarks/train_throughput.py --models cnn10 --steps 2 --jit off
    .venv/bin/python benchmarks/train_throughput.py --json new.json --baseline old.json

The first printed line is the machine info; a markdown table follows on stdout; progress goes
to stderr. ``--json PATH`` saves the results; ``--baseline PATH`` (a JSON from an earlier run)
adds a ratio column (this run's examples/s ÷ the baseline's). Nothing asserts on any number.
CPU threads: TensorFlow's defaults (all cores); set ``TF_NUM_INTEROP_THREADS`` /
``TF_NUM_INTRAOP_THREADS`` to pin them.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import kaudio  # noqa: E402
from kaudio.hierarchy import Hierarchy  # noqa: E402
from kaudio.losses import loss_from_spec  # noqa: E402
from kaudio.spec import load_spec  # noqa: E402
from kaudio.training import HierarchicalTrainer, WarmupSchedule  # noqa: E402
from kaudio.training.model import spec_augment_layer  # noqa: E402

SR = 16000
SECONDS = 10.0


def benchmark_spec(preset: str) -> dict:
    return {
        "name": f"bench_{preset}_resatt",
        "description": f"PANNs {preset} + ResAtt on OpenMIC tone families (throughput benchmark)",
        "input": {"type": "audio", "sample_rate": SR, "duration": SECONDS, "channels": 1},
        "frontend": {"type": "mel", "preset": "panns_16k"},
        "backbone": {"type": "panns_cnn", "preset": preset},
        "head": {"type": "resatt", "hierarchy": "openmic_tone"},
        "loss": {"type": "hierarchical_bce", "fine_weight": 0.8},
        "train": {"type": "supervised"},
    }


def random_batch(spec, batch_size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    samples = spec.input["samples"]
    hierarchy = Hierarchy.from_mapping(spec.head["hierarchy"])
    audio = (0.1 * rng.standard_normal((batch_size, samples, 1))).astype(np.float32)
    fine = (rng.random((batch_size, hierarchy.n_fine)) < 0.2).astype(np.float32)
    mask = np.ones_like(fine)
    coarse, coarse_mask = hierarchy.coarse_from_fine(fine, mask)
    return audio, {"fine": fine, "coarse": np.asarray(coarse, np.float32), "fine_mask": mask,
                   "coarse_mask": np.asarray(coarse_mask, np.float32)}


def machine_info():
    return {"cpu_count": os.cpu_count(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "python": sys.version.split()[0], "kaudio": getattr(kaudio, "__version__", "?"),
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


def progress(message):
    print(message, file=sys.stderr, flush=True)


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def measure(preset: str, jit: bool, args) -> dict:
    keras.utils.set_random_seed(0)
    spec = load_spec(benchmark_spec(preset))
    model = kaudio.build(spec)
    settings = spec.params("train")
    augment = None
    if args.spec_augment:
        shape = tuple(model.frontend.compute_output_shape(tuple(model.input.shape))[1:])
        augment = spec_augment_layer(spec, settings["spec_augment"], shape)
    trainer = HierarchicalTrainer(model, loss_from_spec(spec), augment)
    optimizer = keras.optimizers.AdamW(WarmupSchedule(settings["learning_rate"], 100),
                                       weight_decay=settings["weight_decay"])
    trainer.compile(optimizer=optimizer, jit_compile=jit)
    audio, targets = random_batch(spec, args.batch_size)
    x, y = tf.constant(audio), {k: tf.constant(v) for k, v in targets.items()}
    start = time.perf_counter()
    trainer.train_on_batch(x, y)
    first = time.perf_counter() - start
    for _ in range(max(args.warmup - 1, 0)):
        trainer.train_on_batch(x, y)
    times = []
    for step in range(args.steps):
        start = time.perf_counter()
        loss = trainer.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
        progress(f"  {preset} jit={'on' if jit else 'off'} step {step + 1}/{args.steps}: {times[-1]:.2f} s")
    loss = float(np.ravel(loss)[0])
    if not np.isfinite(loss):
        raise SystemExit(f"{preset}: the loss is not finite ({loss})")
    median = statistics.median(times)
    return {"model": f"{preset}+resatt", "jit": "on" if jit else "off", "params": model.count_params(),
            "batch_size": args.batch_size, "steps": args.steps, "first_step_s": first, "median_step_s": median,
            "best_step_s": min(times), "examples_per_s": args.batch_size / median, "loss": loss}


def result_table(results, baseline=None):
    base = {(r["model"], r["jit"]): r for r in (baseline or {}).get("results", [])}
    header = ["model", "XLA", "params", "batch", "first step (s)", "s/step median", "s/step best", "examples/s"]
    if baseline:
        header.append("vs baseline")
    rows = []
    for r in results:
        row = [r["model"], r["jit"], f"{r['params']:,}", r["batch_size"], f"{r['first_step_s']:.1f}",
               f"{r['median_step_s']:.2f}", f"{r['best_step_s']:.2f}", f"{r['examples_per_s']:.2f}"]
        if baseline:
            old = base.get((r["model"], r["jit"]))
            row.append(f"{r['examples_per_s'] / old['examples_per_s']:.2f}x" if old else "n/a")
        rows.append(row)
    return table(header, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["cnn10", "cnn14"], choices=["cnn10", "cnn14"])
    parser.add_argument("--jit", nargs="+", default=["off", "on"], choices=["off", "on"], help="XLA settings")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per setting")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (the first compiles)")
    parser.add_argument("--no-spec-augment", dest="spec_augment", action="store_false")
    parser.add_argument("--json", help="save the results here")
    parser.add_argument("--baseline", help="a JSON of an earlier run to compare with")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.batch_size < 1:
        parser.error("--steps and --batch-size must be >= 1")
    info = machine_info()
    print(f"machine: {json.dumps(info)}", flush=True)
    baseline = None
    if args.baseline:
        with open(args.baseline) as handle:
            baseline = json.load(handle)
        print(f"baseline: {args.baseline}", flush=True)
    results = []
    for preset in args.models:
        for jit in args.jit:
            progress(f"{preset} + resatt, XLA {jit}: building and compiling …")
            results.append(measure(preset, jit == "on", args))
    print(f"\nTraining throughput: {SECONDS:.0f} s at {SR} Hz, batch {args.batch_size}, "
          f"SpecAugment {'on' if args.spec_augment else 'off'}, random data\n")
    print(result_table(results, baseline), flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": info, "settings": {k: v for k, v in vars(args).items() if k not in ("json", "baseline")},
                       "results": results}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
