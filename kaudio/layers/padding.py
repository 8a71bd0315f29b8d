"""Framing-aware padding of waveforms before an STFT, written with ``keras.ops`` only.

kapre 0.4.1's STFT can only append zeros (``pad_end``) or prepend ``n_fft − hop`` zeros; the
front ends kaudio must reproduce need more:

* ``"valid"`` — no padding: frames = 1 + ⌊(L − win)/hop⌋ (OpenL3 linear, 197 frames at 1 s).
* ``"same"`` — TensorFlow/Keras "same" convolution padding, as kapre 0.1.4 (the L3 training
  front end, ``keunwoochoi/kapre`` 0.1.4 ``kapre/time_frequency.py``) computed its mel STFT:
  frames = ⌈L/hop⌉ and the total padding (frames − 1)·hop + win − L split as ⌊total/2⌋ before,
  the rest after (982/982 at 1 s).
* ``"end"`` — the same total appended at the end only, as ``tf.signal.stft(pad_end=True)``
  (openl3 0.4 / kapre ≥ 0.3: 1964 zeros appended at 1 s).
* ``"center"`` — librosa/torchlibrosa ``center=True``: n_fft//2 samples on both sides, zeros
  (``pad_mode="constant"``) or mirrored (``pad_mode="reflect"``, as PANNs).
"""
from __future__ import annotations

import keras
from keras import ops

PADDING_MODES = ("valid", "same", "end", "center")
PAD_VALUE_MODES = ("constant", "reflect")


def padding_amounts(mode: str, length: int, n_fft: int, win_length: int, hop_length: int) -> tuple[int, int]:
    """Samples added ``(before, after)`` to a signal of ``length`` samples."""
    if mode == "valid":
        return 0, 0
    if mode == "center":
        return n_fft // 2, n_fft // 2
    frames = -(-length // hop_length)  # ceil
    total = max((frames - 1) * hop_length + win_length - length, 0)
    if mode == "same":
        return total // 2, total - total // 2
    if mode == "end":
        return 0, total
    raise ValueError(f"padding must be one of {PADDING_MODES}, got {mode!r}")


def frame_count(mode: str, length: int, n_fft: int, win_length: int, hop_length: int) -> int:
    """Number of STFT frames produced from ``length`` samples with padding ``mode``."""
    before, after = padding_amounts(mode, length, n_fft, win_length, hop_length)
    padded = length + before + after
    if padded < win_length:
        return 0
    return 1 + (padded - win_length) // hop_length


@keras.saving.register_keras_serializable(package="kaudio")
class FramePadding(keras.layers.Layer):
    """Pad ``(batch, samples, channels)`` waveforms for an STFT; see the module docstring."""

    def __init__(self, mode: str, n_fft: int, win_length: int, hop_length: int, pad_mode: str = "constant", **kwargs):
        super().__init__(**kwargs)
        if mode not in PADDING_MODES:
            raise ValueError(f"padding must be one of {PADDING_MODES}, got {mode!r}")
        if pad_mode not in PAD_VALUE_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_VALUE_MODES}, got {pad_mode!r}")
        self.mode, self.n_fft, self.win_length, self.hop_length, self.pad_mode = mode, n_fft, win_length, hop_length, pad_mode

    def call(self, x):
        if self.mode == "valid":
            return x
        length = x.shape[1]
        if length is None:
            if self.mode != "center":
                raise ValueError(f"padding {self.mode!r} needs a known number of samples; use 'center' or 'valid' for variable-length input")
            length = 0
        before, after = padding_amounts(self.mode, length, self.n_fft, self.win_length, self.hop_length)
        if before == after == 0:
            return x
        return ops.pad(x, [[0, 0], [before, after], [0, 0]], mode=self.pad_mode)

    def compute_output_shape(self, input_shape):
        batch, length, channels = input_shape
        if length is None:
            return input_shape
        before, after = padding_amounts(self.mode, length, self.n_fft, self.win_length, self.hop_length)
        return (batch, length + before + after, channels)

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode, n_fft=self.n_fft, win_length=self.win_length, hop_length=self.hop_length, pad_mode=self.pad_mode)
        return config
