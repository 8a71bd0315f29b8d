"""Batched inference over streams of windows, with one compiled function per model."""
from __future__ import annotations

import weakref
from typing import Iterator, Sequence

import keras
import numpy as np

from kaudio.progress import Progress

_COMPILED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def predict_function(model):
    """A function ``x -> model(x, training=False)`` compiled once per model (never retraced:
    the batch axis is left unknown)."""
    fn = _COMPILED.get(model)
    if fn is None:
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            signature = [tf.TensorSpec((None,) + tuple(model.inputs[0].shape[1:]), tf.float32)]
            fn = tf.function(lambda x: model(x, training=False), input_signature=signature)
        else:  # pragma: no cover - other backends arrive with the multi-backend work
            fn = model.predict_on_batch
        _COMPILED[model] = fn
    return fn


class BatchRunner:
    """Run windows from several streams through ``model`` in shared batches of ``batch_size``."""

    def __init__(self, model, batch_size: int, verbose: bool = False):
        self.model, self.batch_size, self.verbose = model, batch_size, verbose
        self.window_shape = tuple(model.inputs[0].shape[1:])
        self.dim = model.outputs[0].shape[-1]

    def run_streams(self, streams: Sequence[tuple[int, Iterator[np.ndarray]]]) -> list[np.ndarray]:
        """``streams``: ``(n_windows, iterator of windows)`` each; returns one (n, dim) array per stream."""
        outputs = [np.zeros((n, self.dim), np.float32) for n, _ in streams]
        total = sum(n for n, _ in streams)
        progress = Progress(total, "embedding", "window") if self.verbose and total else None
        batch = np.zeros((self.batch_size,) + self.window_shape, np.float32)
        owners: list[tuple[int, int]] = []  # (stream, row) of each filled batch slot
        fn = predict_function(self.model)

        def flush():
            result = keras.ops.convert_to_numpy(fn(batch[: len(owners)]))
            for (stream, row), values in zip(owners, result):
                outputs[stream][row] = values
            if progress is not None:
                progress.add(len(owners))
            owners.clear()

        for index, (n, windows) in enumerate(streams):
            for row, window in enumerate(windows):
                batch[len(owners)] = window.reshape(self.window_shape)
                owners.append((index, row))
                if len(owners) == self.batch_size:
                    flush()
        if owners:
            flush()
        if progress is not None:
            progress.close()
        return outputs
