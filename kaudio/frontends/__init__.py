"""Front ends: waveform → time-frequency representation, inside the model."""
from kaudio.frontends.engines import ENGINES
from kaudio.frontends.spectrogram import LinearSpectrogram, MelSpectrogram, SpectrogramFrontEnd

__all__ = ["ENGINES", "LinearSpectrogram", "MelSpectrogram", "SpectrogramFrontEnd"]
