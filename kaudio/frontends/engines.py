"""STFT engines behind the front-end interface.

An engine turns ``(batch, samples, channels)`` waveforms into an STFT magnitude
``(batch, frames, n_fft//2 + 1, channels)``. Everything after that (power, filterbank, dB,
layout) is shared ``keras.ops`` code in :mod:`kaudio.layers`. Only ``kapre`` exists today; a
``keras_ops`` engine (JAX / PyTorch backends) slots in here by adding one class to ``ENGINES``.
"""
from __future__ import annotations

WINDOWS = ("hann", "hamming")


class KapreEngine:
    """kapre 0.4.1's ``STFT`` and ``Magnitude`` layers (TensorFlow backend only)."""

    name = "kapre"

    @staticmethod
    def layers(n_fft: int, win_length: int, hop_length: int, window: str, dtype: str, name: str) -> list:
        import kapre

        stft = kapre.STFT(
            n_fft=n_fft, win_length=win_length, hop_length=hop_length, window_name=f"{window}_window",
            pad_begin=False, pad_end=False, input_data_format="channels_last", output_data_format="channels_last",
            dtype=dtype, name=f"{name}_kapre_stft",
        )
        return [stft, kapre.Magnitude(dtype=dtype, name=f"{name}_kapre_magnitude")]


ENGINES = {KapreEngine.name: KapreEngine}
