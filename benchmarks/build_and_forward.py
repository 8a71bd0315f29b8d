"""Benchmark building and CPU forward passes of the bundled kaudio specs.

For each spec this measures:

* build time: wall-clock seconds spent in ``kaudio.build(name)``;
* total parameters and multiply-adds per example (from ``kaudio.model_card``);
* CPU forward throughput (examples/s) at a fixed batch size on random float32
  input, best and median over ``--repeats`` timed calls after warm-up;
* CPU seconds per example (``time.process_time``) for the best timed call.

The forward pass goes through one ``tf.function`` per model, created once with
a fixed ``input_signature``, so it is traced during warm-up and never retraced.

Examples::

    python benchmarks/build_and_forward.py
    python benchmarks/build_and_forward.py --specs l3_m256 l3_image --repeats 2 --batch-size 8
    python benchmarks/build_and_forward.py --json new.json --baseline old.json
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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs", nargs="+", default=None,
                        help="spec names to benchmark (default: all bundled specs)")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="examples per forward call (default: 32)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed forward calls per spec (default: 3)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed forward calls before timing (default: 1, minimum 1)")
    parser.add_argument("--seed", type=int, default=0, help="random input seed")
    parser.add_argument("--json", metavar="PATH", help="write results as JSON to PATH")
    parser.add_argument("--baseline", metavar="PATH",
                        help="JSON from an earlier run; adds a best-throughput ratio column")
    args = parser.parse_args(argv)
    if args.batch_size < 1 or args.repeats < 1:
        parser.error("--batch-size and --repeats must be at least 1")
    return args


def machine_info():
    return {
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": sys.version.split()[0],
    }


def random_input(model, batch_size, rng):
    """Random float32 batch for each model input (audio: normal × 0.1; images: uniform [0, 1));
    a dict for a model with towers."""
    def one(tensor):
        shape = (batch_size,) + tuple(tensor.shape[1:])
        x = rng.standard_normal(shape) * 0.1 if len(shape) == 3 else rng.random(shape)
        return tf.constant(x, dtype=tf.float32)

    return {name: one(t) for name, t in model.input.items()} if isinstance(model.input, dict) else one(model.input)


def benchmark_spec(name, batch_size, repeats, warmup, rng):
    start = time.perf_counter()
    model = kaudio.build(name)
    build_s = time.perf_counter() - start

    card = kaudio.model_card(model)
    x = random_input(model, batch_size, rng)

    # Created once; the fixed input signature means a single trace.
    forward = tf.function(
        lambda inputs: model(inputs, training=False),
        input_signature=[tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, tf.float32), x)],
    )

    for _ in range(max(1, warmup)):
        forward(x).numpy()

    runs = []  # (wall seconds, cpu seconds)
    for _ in range(repeats):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        forward(x).numpy()
        runs.append((time.perf_counter() - wall0, time.process_time() - cpu0))

    walls = [wall for wall, _ in runs]
    best_wall, best_cpu = min(runs)
    result = {
        "spec": name,
        "build_s": build_s,
        "params": int(card.total_params),
        "multiply_adds": int(card.multiply_adds),
        "batch_size": batch_size,
        "repeats": repeats,
        "examples_per_s_best": batch_size / best_wall,
        "examples_per_s_median": batch_size / statistics.median(walls),
        "cpu_s_per_example": best_cpu / batch_size,
    }
    del forward, model
    keras.backend.clear_session()
    return result


def load_baseline(path):
    with open(path) as f:
        data = json.load(f)
    return {r["spec"]: r for r in data["results"]}


def markdown_table(results, baseline=None):
    header = ["spec", "build s", "params", "GMACs/example", "examples/s (best)",
              "examples/s (median)", "CPU s/example"]
    if baseline is not None:
        header.append("best vs baseline")
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for r in results:
        row = [
            r["spec"],
            f"{r['build_s']:.2f}",
            f"{r['params']:,}",
            f"{r['multiply_adds'] / 1e9:.3f}",
            f"{r['examples_per_s_best']:.2f}",
            f"{r['examples_per_s_median']:.2f}",
            f"{r['cpu_s_per_example']:.4f}",
        ]
        if baseline is not None:
            base = baseline.get(r["spec"])
            if base and base.get("examples_per_s_best"):
                row.append(f"{r['examples_per_s_best'] / base['examples_per_s_best']:.2f}x")
            else:
                row.append("n/a")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    info = machine_info()
    print(f"machine: cpu_count={info['cpu_count']} tensorflow={info['tensorflow']} "
          f"keras={info['keras']} python={info['python']} "
          f"batch_size={args.batch_size} repeats={args.repeats}", flush=True)

    names = args.specs or kaudio.spec.bundled.names()
    baseline = load_baseline(args.baseline) if args.baseline else None
    rng = np.random.default_rng(args.seed)

    results = []
    for name in names:
        print(f"benchmarking {name} ...", file=sys.stderr, flush=True)
        results.append(benchmark_spec(name, args.batch_size, args.repeats, args.warmup, rng))

    print()
    print(markdown_table(results, baseline))

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "results": results}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
