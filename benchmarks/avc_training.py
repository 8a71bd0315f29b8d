"""Benchmark AVC training: examples (audio–frame pairs) per second of the ``avc`` trainer's train step.

Models: ``l3_avc_m256`` (the reference network: 224x224 frames, 1 s at 48 kHz through mel256, 9.5M
parameters), ``small_vision`` (the same audio tower with a 64x64 vision input and vision filters
16/32/64/128 — the set-up of examples/avc_synthetic), and ``tiny`` (the tests' 2,570-parameter
network: 32x32 frames, 1 s at 8 kHz, 16 mels, filters 4/8). The step is exactly what
:func:`kaudio.fit` runs, built by the trainer hooks (``build_model``, ``training_model``: cross-entropy
+ the L2 regularisers, accuracy; ``optimizer``: Adam). Data: one random batch (frames U[-1, 1],
audio N(0, 0.1²), random labels) reused, so no input pipeline is timed (``avc_pipeline.py`` times
that). ``--warmup`` untimed steps, then ``--steps`` timed ``train_on_batch`` calls; reported: the
median step's wall time, CPU time (all cores) and examples per second.

Run (from the repository root)::

    .venv/bin/python benchmarks/avc_training.py                       # tiny, small_vision, l3_avc_m256, batch 16
    .venv/bin/python benchmarks/avc_training.py --models tiny --batch-size 64 --steps 10

Nothing asserts on any number.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import progress  # noqa: E402

SMALL_VISION = ["towers.vision.input.height=64", "towers.vision.input.width=64",
                "towers.vision.backbone.filters=[16, 32, 64, 128]"]


def load(model: str):
    from kaudio.training.fit import training_spec

    if model == "tiny":
        from tests.training.avc_data import tiny_avc_spec

        return training_spec(tiny_avc_spec())
    if model == "small_vision":
        return training_spec("l3_avc_m256", SMALL_VISION)
    return training_spec(model)


def measure(model_name: str, batch_size: int, warmup: int, steps: int) -> dict:
    import numpy as np

    from kaudio.training.trainer import trainer_for

    spec = load(model_name)
    trainer = trainer_for(spec)
    model = trainer.build_model()
    wrapper = trainer.training_model(model)
    wrapper.compile(optimizer=trainer.optimizer(steps))
    rng = np.random.default_rng(0)
    x = {name: (rng.uniform(-1, 1, (batch_size, *t.shape[1:])) if name == "vision"
                else 0.1 * rng.standard_normal((batch_size, *t.shape[1:]))).astype("float32")
         for name, t in model.input.items()}
    y = {"correspondence": np.eye(2, dtype="float32")[rng.integers(0, 2, batch_size)]}
    for _ in range(warmup):
        wrapper.train_on_batch(x, y)
    walls, cpus = [], []
    for i in range(steps):
        wall, cpu = time.perf_counter(), time.process_time()
        wrapper.train_on_batch(x, y)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        progress(f"{model_name}: step {i + 1}/{steps} {walls[-1]:.2f} s")
    wall = statistics.median(walls)
    return {"model": model_name, "params": model.count_params(), "batch": batch_size, "wall_s": wall,
            "cpu_s": statistics.median(cpus), "examples_per_s": batch_size / wall}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "small_vision", "l3_avc_m256"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"CPUs: {os.cpu_count()}, load average at start: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    rows = [measure(m, args.batch_size, args.warmup, args.steps) for m in args.models]
    print(f"load average at end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print("| model | parameters | batch | s/step (wall) | s/step (CPU) | examples/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['params']:,} | {r['batch']} | {r['wall_s']:.3f} | {r['cpu_s']:.3f} | "
              f"{r['examples_per_s']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
