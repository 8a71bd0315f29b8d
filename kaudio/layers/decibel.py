"""Decibel / log compression of spectrograms, written with ``keras.ops`` only."""
from __future__ import annotations

import math

import keras
from keras import ops

DECIBEL_MODES = ("none", "openl3", "power_to_db", "log")


@keras.saving.register_keras_serializable(package="kaudio")
class Decibel(keras.layers.Layer):
    """Log-compress a non-negative spectrogram ``(batch, ..., )``.

    Modes:

    * ``"openl3"`` — OpenL3's ``kapre_v0_1_4_magnitude_to_decibel`` (``marl/openl3``
      ``openl3/models.py``, the same maths as kapre 0.1.4's ``amplitude_to_decibel``: the dB step
      of the L3 front end used to train the released weights):
      ``y = 10·log10(max(x, amin)); y -= max(y over all non-batch axes); y = max(y, −top_db)``,
      with amin = 1e-10 and top_db = 80. ``10·log10`` is applied even to magnitudes, as OpenL3
      does; each example's maximum becomes 0 dB.
    * ``"power_to_db"`` — ``librosa.power_to_db``: ``10·log10(max(x, amin)) − 10·log10(max(amin, ref))``,
      then, if ``top_db`` is set, floored at each example's maximum minus ``top_db``. With
      ``top_db=None`` this is the PANNs log-mel (no clipping, no max subtraction).
    * ``"log"`` — natural ``log(x + amin)`` (the 2APAE features use ``log(mel + 1e-8)``).
    * ``"none"`` — identity.
    """

    def __init__(self, mode: str = "openl3", amin: float = 1e-10, ref: float = 1.0, top_db: float | None = 80.0, **kwargs):
        super().__init__(**kwargs)
        if mode not in DECIBEL_MODES:
            raise ValueError(f"Decibel mode must be one of {DECIBEL_MODES}, got {mode!r}")
        if amin <= 0 or ref <= 0 or (top_db is not None and top_db <= 0):
            raise ValueError(f"Decibel needs amin > 0, ref > 0 and top_db > 0 or None; got {amin}, {ref}, {top_db}")
        self.mode, self.amin, self.ref, self.top_db = mode, float(amin), float(ref), top_db
        self.supports_masking = True

    def _log10(self, x):
        return ops.log(ops.maximum(x, ops.cast(self.amin, x.dtype))) / ops.cast(ops.log(10.0), x.dtype)

    def _per_example_max(self, y):
        axes = tuple(range(1, len(y.shape)))
        return ops.max(y, axis=axes, keepdims=True)

    def call(self, x):
        if self.mode == "none":
            return x
        if self.mode == "log":
            return ops.log(x + ops.cast(self.amin, x.dtype))
        y = 10.0 * self._log10(x)
        if self.mode == "openl3":
            y = y - self._per_example_max(y)
            return ops.maximum(y, ops.cast(-self.top_db, y.dtype)) if self.top_db is not None else y
        y = y - 10.0 * math.log10(max(self.amin, self.ref))
        if self.top_db is not None:
            y = ops.maximum(y, self._per_example_max(y) - self.top_db)
        return y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode, amin=self.amin, ref=self.ref, top_db=self.top_db)
        return config
