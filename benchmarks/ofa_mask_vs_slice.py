"""Benchmark: selecting once-for-all sub-networks by masks (kaudio's elastic layers) vs by slicing the kernels.

Setting: the bundled ``ofa_cnn10`` supernet (Lin et al., ICASSP 2023: PANNs CNN10 layout, widths
0.4-1.0, last block depth 1/2, elastic fc1, 527-class tagger) on a batch of log-mel features —
``--batch-size`` (8) clips of ``--seconds`` (2) at 32 kHz, i.e. 201 frames × 64 mel bins (the front
end is the same for both designs and is left out). One step is forward + backward in training mode
(dropout, BN batch statistics): the binary cross-entropy against random multi-hot targets and its
gradients with respect to every trainable weight (no optimizer update).

* ``mask``: ``set_subnet_indices`` + ``model(x, training=True)`` inside one ``tf.function``; the
  configuration is an int tensor, so every sub-network runs through the one trace. The network
  computes all channels whatever the configuration (inactive ones are multiplied by 0).
* ``slice``: the same weights sliced to the sub-network's sizes with static shapes
  (``kernel[:, :, :c_in, :c_out]``, BN γ/β of the active channels, fc1 and tagger rows) in a plain
  TensorFlow forward pass; the configuration is a Python value, so each new configuration is a new
  trace (its first call is reported separately). BN moving statistics are not updated (a few
  vector ops; the mask step does update them).

For each design and each configuration (``largest``, ``smallest`` and ``--random`` (2) uniformly sampled
ones, seed 0): the first call (trace, and for
``mask`` only the very first) and the median of ``--steps`` (5) timed steps after 1 warm-up, wall
clock; the process runs with TensorFlow's default thread pools. Nothing asserts on the numbers.

Run: ``.venv/bin/python benchmarks/ofa_mask_vs_slice.py [--batch-size 8 --seconds 2 --steps 5]``
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks.common import progress  # noqa: E402


def sliced_forward(model, config, x, training: bool = True):
    """The sub-network ``config`` of the supernet ``model`` (a KaudioModel) computed from sliced weights."""
    import tensorflow as tf

    from kaudio.models.ofa import ofa_backbone

    backbone = ofa_backbone(model)
    subnet = backbone.space.resolve(config)
    x = backbone.get_layer("bn0")(x, training=training)
    c_in = int(x.shape[-1])
    for block, (width, convs) in enumerate(zip(subnet.filters, subnet.convs), start=1):
        for j in range(1, convs + 1):
            conv = backbone.get_layer(f"conv_block{block}_conv{j}_conv")
            bn = backbone.get_layer(f"conv_block{block}_conv{j}_bn")
            x = tf.nn.conv2d(x, conv.kernel[:, :, :c_in, :width], strides=1, padding="SAME")
            mean, variance = tf.nn.moments(x, axes=[0, 1, 2]) if training else (bn.moving_mean[:width],
                                                                               bn.moving_variance[:width])
            x = tf.nn.relu(tf.nn.batch_normalization(x, mean, variance, bn.beta[:width], bn.gamma[:width],
                                                     bn.epsilon))
            c_in = width
        x = tf.nn.avg_pool2d(x, 2, 2, "VALID")
        if training:
            x = tf.nn.dropout(x, backbone.dropout)
    x = tf.reduce_mean(x, axis=2)
    x = tf.reduce_max(x, axis=1) + tf.reduce_mean(x, axis=1)
    if training:
        x = tf.nn.dropout(x, backbone.embedding_dropout)
    fc1 = backbone.get_layer("fc1")
    e = subnet.embedding_size
    x = tf.nn.relu(tf.matmul(x, fc1.kernel[:c_in, :e]) + fc1.bias[:e])
    classifier = model.head.get_layer("classifier")
    return tf.sigmoid(tf.matmul(x, classifier.kernel[:e]) + classifier.bias)


def timed(fn, steps: int) -> tuple[float, float]:
    """(first call s, median of ``steps`` calls after one warm-up s)."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    fn()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--random", type=int, default=2, help="uniformly sampled configurations besides the ends")
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    import kaudio
    from kaudio.models.ofa import config_label, count_params, ofa_space, set_subnet_indices

    keras.utils.set_random_seed(0)
    model = kaudio.build(kaudio.spec.load_spec("ofa_cnn10", [f"input.duration={args.seconds}"]))
    space = ofa_space(model)
    frames = model.backbone.inputs[0].shape[1]
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((args.batch_size, frames, 64, 1)).astype("float32") * 10.0 - 40.0)
    y = tf.constant((rng.random((args.batch_size, 527)) < 0.05).astype("float32"))
    network = keras.Model(model.backbone.inputs, model.head(model.backbone.outputs[0]))
    weights = network.trainable_weights
    loss_fn = keras.losses.BinaryCrossentropy()
    traces = []

    @tf.function
    def mask_step(indices):
        traces.append(1)
        set_subnet_indices(model, indices)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, network(x, training=True))
        return tape.gradient(loss, weights)

    def slice_step_fn(config):
        @tf.function
        def step():
            with tf.GradientTape() as tape:
                loss = loss_fn(y, sliced_forward(model, config, x))
            return tape.gradient(loss, weights)
        return step

    print(f"# ofa_cnn10 forward + backward, batch {args.batch_size} x {args.seconds:g} s ({frames} x 64 log-mel), "
          f"{os.cpu_count()} CPUs, TensorFlow {tf.__version__}, Keras {keras.__version__}; median of {args.steps} "
          "steps after 1 warm-up")
    print("| design | configuration | trainable params | first call s | step s (median) |")
    print("|---|---|---:|---:|---:|")
    sampler = np.random.default_rng(0)
    sampled = [space.sample(sampler) for _ in range(args.random)]
    chosen = [("largest", space.largest()), ("smallest", space.smallest())] + [
        (config_label(config), config) for config in sampled]
    for design in ("mask", "slice"):
        for which, config in chosen:
            progress(f"{design} {which}")
            if design == "mask":
                indices = tf.constant(space.to_indices(config), tf.int32)
                first, step = timed(lambda: [g.numpy() for g in mask_step(indices) if g is not None], args.steps)
            else:
                fn = slice_step_fn(config)
                first, step = timed(lambda: [g.numpy() for g in fn() if g is not None], args.steps)
            params = count_params(model, config).trainable
            print(f"| {design} | {which} | {params:,} | {first:.2f} | {step:.3f} |")
    print(f"\nmask traces: {len(traces)} (one for every configuration); slice: one trace per configuration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
