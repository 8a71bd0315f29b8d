"""One training run of the tiny test spec in a fresh process, for the distribution tests.

TensorFlow fixes its logical devices when it initialises, so a test that needs two virtual
CPU devices (``tf.config.set_logical_device_configuration``) or a ``TF_CONFIG`` cluster
(``tf.distribute.MultiWorkerMirroredStrategy``) runs the training in a subprocess::

    python -m tests.training.distributed_worker RESULT.json --run-dir RUN [--cpus 2]
        [--distribution '{"strategy": "mirrored", "devices": ["/cpu:0", "/cpu:1"]}']
        [--epochs 3] [--n-train 32] [--interrupt-after EPOCH]

It trains ``tiny_spec(epochs, train.deterministic: true, SpecAugment off)`` on ``toy_dataset``
(training clips seed 0, validation clips seed 1, batches of 8) and writes ``RESULT.json``::

    {"replicas": strategy.num_replicas_in_sync, "history": {...}, "best_epoch": n,
     "run_dir": where fit wrote, "weights": RESULT.npz}   # or {"interrupted": true, ...}

with the trained model's weights in ``RESULT.npz`` (``arr_0``, ``arr_1`` … in
``model.get_weights()`` order). ``--interrupt-after E`` raises after the 0-based epoch ``E``, as
tests/training/test_fit.py simulates an interruption; a second call with the same ``--run-dir``
resumes. See TensorFlow's guides "Distributed training with TensorFlow"
(https://www.tensorflow.org/guide/distributed_training) and "Multi-worker training with Keras"
(https://www.tensorflow.org/tutorials/distribute/multi_worker_with_keras).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


class Interrupt(Exception):
    pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("result")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--cpus", type=int, default=1, help="virtual CPU devices of this process")
    parser.add_argument("--distribution", default="null", help="train.distribution as JSON")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=32)
    parser.add_argument("--masked", action="store_true", help="toy labels with unknown (masked) entries")
    parser.add_argument("--interrupt-after", type=int, default=None)
    args = parser.parse_args(argv)

    import tensorflow as tf

    if args.cpus > 1:  # before anything initialises TensorFlow's runtime
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.cpus)

    import keras
    import numpy as np

    from kaudio.training import fit
    from kaudio.training.distribution import make_strategy
    from tests.training import tiny_spec, toy_dataset

    distribution = json.loads(args.distribution)
    make_strategy(distribution)  # multi_worker: before any dataset is built (fit reuses it)

    class InterruptAfterEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == args.interrupt_after:
                raise Interrupt()

    spec = tiny_spec(epochs=args.epochs, spec_augment=False, deterministic=True,
                     distribution=distribution)
    callbacks = [InterruptAfterEpoch()] if args.interrupt_after is not None else []
    result_path = Path(args.result)
    try:
        result = fit(spec, toy_dataset(args.n_train, 0, masked=args.masked), toy_dataset(16, 1, masked=args.masked),
                     run_dir=args.run_dir, verbose=0, callbacks=callbacks)
    except Interrupt:
        result_path.write_text(json.dumps({"interrupted": True}))
        return 0
    weights = result_path.with_suffix(".npz")
    np.savez(weights, *result.model.get_weights())
    result_path.write_text(json.dumps({
        "replicas": result.model.distribute_strategy.num_replicas_in_sync,
        "history": result.history, "best_epoch": result.best_epoch, "run_dir": str(result.run_dir),
        "weights": str(weights)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
