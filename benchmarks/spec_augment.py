"""Benchmark SpecAugment on the CPU: kaudio's ``SeededSpecAugment`` against kapre's ``SpecAugment``.

kaudio trains with ``SeededSpecAugment`` (masks from a Keras seed generator, repeatable); kapre's layer draws
each example's masks inside a ``tf.map_fn``. Both mask the same distribution (Park et al. 2019, §2.1). For each
spectrogram shape this times one training-mode call inside a ``tf.function`` (traced in the warm-up), best and
median over ``--repeats`` calls, with the output fetched by ``.numpy()``.

Examples::

    python benchmarks/spec_augment.py
    python benchmarks/spec_augment.py --shapes 16x251x64 --repeats 20
    python benchmarks/spec_augment.py --json new.json --baseline old.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import announce, progress  # noqa: E402

#: batch × time × freq: the instrument example (4 s at 16 kHz, hop 256, 64 mels) and PANNs' 10 s log-mel.
DEFAULT_SHAPES = ("16x251x64", "32x1001x64")


def parse_shape(text: str) -> tuple[int, int, int]:
    try:
        batch, frames, bins = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a shape is BATCHxTIMExFREQ, e.g. 16x251x64; got {text!r}") from None
    return batch, frames, bins


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", type=parse_shape, default=[parse_shape(s) for s in DEFAULT_SHAPES],
                        help=f"spectrogram batches BATCHxTIMExFREQ (default: {' '.join(DEFAULT_SHAPES)})")
    parser.add_argument("--time-mask", type=int, default=64, help="widest time mask (default: 64, PANNs)")
    parser.add_argument("--freq-mask", type=int, default=8, help="widest frequency mask (default: 8, PANNs)")
    parser.add_argument("--masks", type=int, default=2, help="masks per axis (default: 2)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per layer and shape (default: 10)")
    parser.add_argument("--json", metavar="PATH", help="write results as JSON to PATH")
    parser.add_argument("--baseline", metavar="PATH", help="JSON of an earlier run; adds a ratio column")
    return parser.parse_args(argv)


def layers(args):
    from kapre.augmentation import SpecAugment

    from kaudio.layers import SeededSpecAugment

    yield "kaudio SeededSpecAugment", SeededSpecAugment(args.time_mask, args.masks, args.freq_mask, args.masks, seed=0)
    yield "kapre SpecAugment", SpecAugment(time_mask_param=args.time_mask, n_time_masks=args.masks,
                                           freq_mask_param=args.freq_mask, n_freq_masks=args.masks,
                                           data_format="channels_last")


def time_calls(layer, x, repeats: int) -> list[float]:
    call = tf.function(lambda v: layer(v, training=True))
    call(x).numpy()  # trace
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call(x).numpy()
        seconds.append(time.perf_counter() - started)
    return seconds


def main(argv=None) -> int:
    args = parse_args(argv)
    baseline = announce({"cpus": os.cpu_count(), "tensorflow": tf.__version__, "repeats": args.repeats,
                         "time_mask": args.time_mask, "freq_mask": args.freq_mask, "masks": args.masks},
                        args.baseline)
    results = []
    for batch, frames, bins in args.shapes:
        x = tf.constant(np.random.default_rng(0).uniform(size=(batch, frames, bins, 1)).astype("float32"))
        for name, layer in layers(args):
            progress(f"{name} on {batch}x{frames}x{bins} ...")
            seconds = time_calls(layer, x, args.repeats)
            results.append({"layer": name, "shape": f"{batch}x{frames}x{bins}",
                            "best_ms": 1e3 * min(seconds), "median_ms": 1e3 * statistics.median(seconds)})
    old = {(r["layer"], r["shape"]): r for r in (baseline or {}).get("results", [])}
    header = "| layer | batch×time×freq | ms per batch (best) | ms per batch (median) |"
    print("\n" + header + (" best vs baseline |" if baseline else ""))
    print("|---|---|---:|---:|" + ("---:|" if baseline else ""))
    for r in results:
        line = f"| {r['layer']} | {r['shape']} | {r['best_ms']:.2f} | {r['median_ms']:.2f} |"
        if baseline:
            before = old.get((r["layer"], r["shape"]))
            line += f" {r['best_ms'] / before['best_ms']:.2f} |" if before else " n/a |"
        print(line)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"results": results}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
