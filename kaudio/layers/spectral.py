"""Spectrogram arithmetic after the STFT, written with ``keras.ops`` only."""
from __future__ import annotations

import warnings

import keras
import numpy as np
from keras import ops


def mel_filterbank_matrix(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float | None,
                          htk: bool, norm: str | None) -> np.ndarray:
    """The ``(n_fft//2 + 1, n_mels)`` mel matrix, float64, from librosa (the matrix kapre uses).

    librosa warns when a triangle holds no FFT bin; that is expected for some reference
    settings (HTK, 256 bands, n_fft 2048 at 48 kHz has exactly one all-zero band, as in OpenL3),
    so the warning is replaced by :func:`empty_mel_bands`, which the model card reports.
    """
    import librosa

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Empty filters detected")
        matrix = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max,
                                     htk=htk, norm=norm, dtype=np.float64)
    return matrix.T


def empty_mel_bands(matrix: np.ndarray) -> int:
    """Number of mel bands (columns) that contain no FFT bin."""
    return int(np.sum(~np.any(matrix > 0, axis=0)))


@keras.saving.register_keras_serializable(package="kaudio")
class MelFilterbank(keras.layers.Layer):
    """Apply a mel filterbank to ``(batch, time, freq, channels)`` → ``(batch, time, n_mels, channels)``.

    The matrix is a constant rebuilt from the config (not a weight), so it never shifts
    order-based weight loading. Computation happens in the input's dtype (float64 front ends
    keep their precision).
    """

    def __init__(self, sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None,
                 htk: bool = False, norm: str | None = "slaney", **kwargs):
        super().__init__(**kwargs)
        self.sample_rate, self.n_fft, self.n_mels = int(sample_rate), int(n_fft), int(n_mels)
        self.f_min, self.f_max, self.htk, self.norm = float(f_min), f_max, bool(htk), norm
        self.matrix = mel_filterbank_matrix(self.sample_rate, self.n_fft, self.n_mels, self.f_min, self.f_max, self.htk, self.norm)

    def call(self, x):
        matrix = ops.convert_to_tensor(self.matrix.astype(keras.backend.standardize_dtype(x.dtype)))
        y = ops.tensordot(x, matrix, axes=[[2], [0]])  # (batch, time, channels, n_mels)
        return ops.transpose(y, (0, 1, 3, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.n_mels, input_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update(sample_rate=self.sample_rate, n_fft=self.n_fft, n_mels=self.n_mels, f_min=self.f_min,
                      f_max=self.f_max, htk=self.htk, norm=self.norm)
        return config


@keras.saving.register_keras_serializable(package="kaudio")
class Power(keras.layers.Layer):
    """Element-wise ``x ** exponent`` for non-negative spectrograms (1 = identity, 2 = square, 0.5 = sqrt)."""

    def __init__(self, exponent: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.exponent = float(exponent)

    def call(self, x):
        if self.exponent == 1.0:
            return x
        if self.exponent == 2.0:
            return ops.square(x)
        if self.exponent == 0.5:
            return ops.sqrt(x)
        return ops.power(x, self.exponent)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(exponent=self.exponent)
        return config
