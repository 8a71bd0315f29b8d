"""Time ``openl3.get_audio_embedding`` (openl3 0.4.x) on this machine: the reference for ``embed_throughput.py``.

This script does NOT import kaudio. It runs in a separate environment that holds openl3 0.4.2 with
its own stack (TensorFlow 2.15, kapre 0.3.6), because openl3 cannot be installed beside kaudio's
TF 2.17 / kapre 0.4.1. The openl3 model is built with RANDOM weights (its ``load_weights`` is
skipped: the released weight files are not needed for timing), mel256, the kapre front end,
the 6144- or 512-d pooling exactly as ``openl3.models.load_audio_embedding_model_from_path``
builds it.

Set-up used for the numbers in benchmarks/README.md (openl3's sdist downloads its weights from
GitHub in ``setup.py``, so it is not pip-installed; its source folder is put on ``PYTHONPATH``)::

    python3 -m venv /work/ol3venv
    /work/ol3venv/bin/pip install "tensorflow-cpu==2.15.1" "kapre==0.3.6" resampy soundfile "numpy<2" scikit-learn
    # openl3-0.4.2.tar.gz from PyPI (files.pythonhosted.org), unpacked to /tmp/ol3src
    PYTHONPATH=/tmp/ol3src/openl3-0.4.2 /work/ol3venv/bin/python benchmarks/openl3_reference.py --json ol3.json

Measured like ``embed_throughput.py``: one untimed warm-up call per configuration, then
``--repeats`` timed calls; seconds of audio per wall second (best and median) and CPU seconds
(``time.process_time``, all cores) per second of audio for the best call. Input: 48 kHz mono
float32 (a sum of tones plus a little noise; timing does not depend on the content).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def build_model(embedding_size: int):
    import tensorflow as tf
    from openl3 import models

    original = tf.keras.Model.load_weights
    tf.keras.Model.load_weights = lambda self, *args, **kwargs: None  # random weights: timing only
    try:
        return models.load_audio_embedding_model_from_path("unused_mel256_music.h5", "mel256", embedding_size)
    finally:
        tf.keras.Model.load_weights = original


def signal(seconds: float, sr: int = 48000):
    import numpy as np

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    tones = sum(np.sin(2 * np.pi * f * t) / (k + 1) for k, f in enumerate((220.0, 440.0, 659.3, 110.0)))
    return (0.2 * tones + 0.01 * rng.standard_normal(t.size)).astype("float32")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[1, 10, 60])
    parser.add_argument("--sizes", type=int, nargs="+", default=[6144, 512])
    parser.add_argument("--hop", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the results as JSON here")
    args = parser.parse_args(argv)

    import openl3
    import tensorflow as tf

    print(f"machine: cpu_count={os.cpu_count()} tensorflow={tf.__version__} openl3={openl3.__version__} "
          f"python={platform.python_version()}")
    print(f"settings: mel256 hop={args.hop} s batch_size={args.batch_size} repeats={args.repeats} (best of, after 1 "
          "warm-up call); weights: RANDOM")
    rows = []
    for size in args.sizes:
        model = build_model(size)
        for seconds in args.durations:
            audio = signal(seconds)
            print(f"openl3: {seconds:g} s, {size}-d ...", file=sys.stderr)
            openl3.get_audio_embedding(audio, 48000, model=model, hop_size=args.hop, batch_size=args.batch_size,
                                       verbose=False)
            walls, cpus = [], []
            for _ in range(args.repeats):
                w0, c0 = time.perf_counter(), time.process_time()
                emb, _ = openl3.get_audio_embedding(audio, 48000, model=model, hop_size=args.hop,
                                                    batch_size=args.batch_size, verbose=False)
                walls.append(time.perf_counter() - w0)
                cpus.append(time.process_time() - c0)
            best = min(range(len(walls)), key=walls.__getitem__)
            rows.append({"seconds": seconds, "size": size, "frames": int(emb.shape[0]),
                         "audio_s_per_s_best": seconds / walls[best],
                         "audio_s_per_s_median": seconds / statistics.median(walls),
                         "cpu_s_per_audio_s": cpus[best] / seconds})
    print()
    print("| clip s | dim | frames | audio s/s (best) | audio s/s (median) | CPU s / audio s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['seconds']:g} | {r['size']} | {r['frames']} | {r['audio_s_per_s_best']:.2f} | "
              f"{r['audio_s_per_s_median']:.2f} | {r['cpu_s_per_audio_s']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "tensorflow": tf.__version__, "openl3": openl3.__version__}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
