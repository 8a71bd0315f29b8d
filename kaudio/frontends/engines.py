"""STFT engines behind the front-end interface.

An engine turns ``(batch, samples, channels)`` waveforms into an STFT magnitude
``(batch, frames, n_fft//2 + 1, channels)``. Everything after that (power, filterbank, dB,
layout) is shared ``keras.ops`` code in :mod:`kaudio.layers`. Only ``kapre`` exists today; a
``keras_ops`` engine (JAX / PyTorch backends) slots in here by adding one class to ``ENGINES``.

Windows: ``hann`` or ``hamming``, *periodic* (length N+1 with the last sample dropped, as librosa,
torch.stft and ``tf.signal`` default to) or, with ``symmetric=True``, *symmetric* (numpy's
``np.hamming(N)`` / ``np.hanning(N)``, what ``scipy.signal.spectrogram`` gets when handed such an
array: Kong's ``qiuqiangkong/sed_time_freq_segmentation`` features and so 2APAE).
"""
from __future__ import annotations

import functools

import numpy as np

WINDOWS = ("hann", "hamming")


def window_values(window: str, length: int, symmetric: bool = False) -> np.ndarray:
    """The window as a float64 numpy array (what the engine multiplies each frame by)."""
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS}, got {window!r}")
    denominator = length - 1 if symmetric else length
    alpha = 0.5 if window == "hann" else 0.54
    return alpha - (1.0 - alpha) * np.cos(2.0 * np.pi * np.arange(length) / denominator)


class KapreEngine:
    """kapre 0.4.1's ``STFT`` and ``Magnitude`` layers (TensorFlow backend only)."""

    name = "kapre"

    @staticmethod
    def layers(n_fft: int, win_length: int, hop_length: int, window: str, dtype: str, name: str,
               symmetric: bool = False) -> list:
        import kapre
        import tensorflow as tf

        stft = kapre.STFT(
            n_fft=n_fft, win_length=win_length, hop_length=hop_length, window_name=f"{window}_window",
            pad_begin=False, pad_end=False, input_data_format="channels_last", output_data_format="channels_last",
            dtype=dtype, name=f"{name}_kapre_stft",
        )
        if symmetric:  # kapre names only tf.signal's periodic windows; the front end rebuilds this layer from its config
            stft.window_fn = functools.partial(getattr(tf.signal, f"{window}_window"), periodic=False)
        return [stft, kapre.Magnitude(dtype=dtype, name=f"{name}_kapre_magnitude")]


ENGINES = {KapreEngine.name: KapreEngine}
