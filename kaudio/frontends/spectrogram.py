"""Spectrogram front ends that run inside the model: ``type: linear`` and ``type: mel``.

Pipeline (each step a layer, only the STFT engine is backend-specific)::

    waveform (batch, samples, ch)
      → FramePadding (valid / same / end / center)           kaudio, keras.ops
      → STFT magnitude |X| (batch, frames, freq, ch)          engine: kapre STFT + Magnitude
                                                              (periodic or symmetric window)
      → Rescaling(1/sqrt(Σw²))  (spectrum_scaling: window_energy only)   keras
      → Power(spectrum_power)  |X| or |X|²                    kaudio, keras.ops
      → MelFilterbank → Power(mel_exponent)   (mel only)      kaudio, keras.ops
      → Decibel(openl3 / power_to_db / log / none)            kaudio, keras.ops
      → layout freq_time (F, T, ch) or time_freq (T, F, ch), cast to the output dtype (float32)
      → Standardization, per frequency bin   (standardize: true only)   kaudio, keras.ops

``spectrum_scaling: window_energy`` divides the magnitude by ``sqrt(Σ w²)``: that is
``scipy.signal.spectrogram(mode="magnitude")`` with its default ``scaling="density"`` and ``fs=1``
(|FFT| / sqrt(fs·Σw²)), the STFT of Kong's ``qiuqiangkong/sed_time_freq_segmentation``
``utils/features.py`` that 2APAE's features come from (preset ``2apae``).

``standardize: true`` ends the front end with a :class:`~kaudio.layers.Standardization` layer —
per-bin ``(x − mean) / std`` with non-trainable statistics saved in the ``.keras`` file, the
identity (mean 0, std 1) until they are set. The trainer sets them from the training split:
``frontend.fit_standardization(waveform_batches)`` (or ``frontend.standardization.set_statistics(mean,
std)`` with statistics from :func:`kaudio.layers.standardize.feature_statistics`);
``frontend(waveforms, standardize=False)`` gives the features before standardisation.

``precision: float64`` runs every step in float64 and casts the result to float32 (the output
dtype; see dtype policies below). In float32 the STFT's rounding error (~1e-7 of a frame's
peak) becomes up to 0.5 dB (mel256) or 1.7 dB (linear) in bins 60–80 dB below the peak once
OpenL3's 10·log10-of-magnitude is applied; in float64 the error to an exact computation is
below 1e-8 dB. The cost on CPU is small next to the CNN (the STFT and filterbank are <1% of an
L3 forward pass).

Dtype policies (Keras mixed-precision guide, https://keras.io/guides/mixed_precision/): a front
end built under a policy (its ``dtype``, or the policy in force when it is built,
:func:`kaudio.dtypes.dtype_policy_scope`) keeps its ``precision`` for every step (their layers are
created with ``dtype=precision``, which a policy does not override), and the waveform is not cast
to the policy's compute dtype on the way in (the layer has ``autocast=False``): a bfloat16
waveform keeps 8 bits of mantissa and would lose the quiet bins the float64 setting is there for.
The result is cast to the front end's compute dtype, which is the policy's *variable* dtype: for
``mixed_bfloat16`` / ``mixed_float16`` the front end takes the policy ``float32`` (it owns no
variables, so the mixed policy's only effect would be a 16-bit output). The backbone's first
layer casts its input to bfloat16 itself, so the network computes exactly as if the front end
had cast, while numpy readers of the spectrogram (fast-mode embedding's per-frame dB reference,
plots) get float32. Under a pure 16-bit policy (``bfloat16``) the output is 16-bit.
"""
from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from kaudio.dtypes import get_policy
from kaudio.errors import KaudioError
from kaudio.frontends.engines import ENGINES, WINDOWS, window_values
from kaudio.frontends.presets import LINEAR_PRESETS, MEL_PRESETS
from kaudio.layers.decibel import DECIBEL_MODES, Decibel
from kaudio.layers.padding import PAD_VALUE_MODES, PADDING_MODES, FramePadding, frame_count
from kaudio.layers.spectral import MelFilterbank, Power, empty_mel_bands
from kaudio.layers.standardize import RunningStatistics, Standardization
from kaudio.registry import register
from kaudio.spec.schema import Field, Schema

LAYOUTS = ("freq_time", "time_freq")
PRECISIONS = ("float32", "float64")
#: ``none``: |X| as the FFT gives it; ``window_energy``: |X| / sqrt(Σw²), scipy's density scaling at fs=1.
SPECTRUM_SCALINGS = ("none", "window_energy")

COMMON_FIELDS = (
    Field("engine", str, "kapre", "STFT implementation", choices=tuple(ENGINES)),
    Field("n_fft", int, 2048, "FFT size", minimum=2),
    Field("win_length", int, None, "window length (default n_fft)", minimum=2, nullable=True),
    Field("hop_length", int, None, "hop in samples (default win_length // 4)", minimum=1, nullable=True),
    Field("window", str, "hann", "window shape (periodic unless window_symmetric)", choices=WINDOWS),
    Field("window_symmetric", bool, False, "symmetric window (numpy's np.hamming, scipy) instead of the periodic "
          "one (librosa, torch.stft)"),
    Field("padding", str, "valid", "how the waveform is padded before framing", choices=PADDING_MODES),
    Field("pad_mode", str, "constant", "values used by padding 'center'", choices=PAD_VALUE_MODES),
    Field("spectrum_scaling", str, "none", "scaling of the magnitude: none, or window_energy = |X| / sqrt(sum w^2) "
          "(scipy.signal.spectrogram's density scaling at fs = 1)", choices=SPECTRUM_SCALINGS),
    Field("spectrum_power", float, 1.0, "1 = magnitude, 2 = power", minimum=0, exclusive_minimum=True),
    Field("decibel", str, "power_to_db", "log compression", choices=DECIBEL_MODES),
    Field("db_amin", float, 1e-10, "floor before the log", minimum=0, exclusive_minimum=True),
    Field("db_ref", float, 1.0, "reference value of power_to_db", minimum=0, exclusive_minimum=True),
    Field("db_top", float, 80.0, "dynamic range in dB below each example's max (null: no floor)",
          minimum=0, exclusive_minimum=True, nullable=True),
    Field("layout", str, "freq_time", "output axes after the batch", choices=LAYOUTS),
    Field("precision", str, "float32", "dtype of the front-end computation", choices=PRECISIONS),
    Field("standardize", bool, False, "end with a per-bin standardisation whose statistics (saved with the model) "
          "the trainer sets from the training split; identity until then"),
)
MEL_FIELDS = (
    Field("n_mels", int, 128, "number of mel bands", minimum=1),
    Field("f_min", float, 0.0, "lowest mel frequency (Hz)", minimum=0),
    Field("f_max", float, None, "highest mel frequency (Hz; null = sample_rate / 2)", minimum=0,
          exclusive_minimum=True, nullable=True),
    Field("mel_scale", str, "slaney", "mel formula", choices=("htk", "slaney")),
    Field("mel_norm", str, "slaney", "filter normalisation", choices=("slaney", "none")),
    Field("mel_exponent", float, 1.0, "exponent applied after the filterbank (0.5 = sqrt)", minimum=0,
          exclusive_minimum=True),
)


def output_policy(dtype=None):
    """The dtype policy of a front end built with ``dtype`` (``None``: the policy in force): a mixed
    policy's variable dtype (module docstring), any other policy as it is."""
    policy = get_policy(dtype)
    if policy.compute_dtype != policy.variable_dtype and policy.quantization_mode is None:
        return keras.DTypePolicy(policy.variable_dtype)
    return policy


class SpectrogramFrontEnd(keras.layers.Layer):
    """Base of the linear and mel front ends (see the module docstring for the pipeline)."""

    spec_schema = Schema(COMMON_FIELDS)

    def __init__(self, sample_rate: int, n_fft: int = 2048, win_length: int | None = None, hop_length: int | None = None,
                 window: str = "hann", padding: str = "valid", pad_mode: str = "constant", spectrum_power: float = 1.0,
                 decibel: str = "power_to_db", db_amin: float = 1e-10, db_ref: float = 1.0, db_top: float | None = 80.0,
                 layout: str = "freq_time", precision: str = "float32", engine: str = "kapre",
                 window_symmetric: bool = False, spectrum_scaling: str = "none", standardize: bool = False, **kwargs):
        kwargs["autocast"] = False  # the waveform reaches call() in its own dtype (module docstring)
        kwargs["dtype"] = output_policy(kwargs.get("dtype"))
        super().__init__(**kwargs)
        win_length = win_length or n_fft
        hop_length = hop_length or win_length // 4
        self.settings = dict(
            sample_rate=int(sample_rate), n_fft=n_fft, win_length=win_length, hop_length=hop_length, window=window,
            padding=padding, pad_mode=pad_mode, spectrum_power=float(spectrum_power), decibel=decibel,
            db_amin=float(db_amin), db_ref=float(db_ref), db_top=db_top, layout=layout, precision=precision,
            engine=engine, window_symmetric=bool(window_symmetric), spectrum_scaling=spectrum_scaling,
            standardize=bool(standardize),
        )
        # === Layers ===
        self.padding_layer = FramePadding(padding, n_fft, win_length, hop_length, pad_mode, dtype=precision, name="padding")
        self.stft_layers = ENGINES[engine].layers(n_fft, win_length, hop_length, window, precision, name="stft",
                                                  symmetric=window_symmetric)
        self.scaling_layers = []
        if spectrum_scaling == "window_energy":
            energy = float(np.sum(window_values(window, win_length, window_symmetric) ** 2))
            self.scaling_layers.append(keras.layers.Rescaling(1.0 / math.sqrt(energy), dtype=precision,
                                                              name="spectrum_scaling"))
        self.power_layer = Power(spectrum_power, dtype=precision, name="spectrum_power")
        self.filterbank_layers = self._filterbank_layers()
        self.decibel_layer = Decibel(decibel, db_amin, db_ref, db_top, dtype=precision, name="decibel")
        bin_axis = 1 if layout == "freq_time" else 2
        self.standardization = Standardization(axis=bin_axis, dtype=self.dtype_policy, name="standardization") \
            if standardize else None

    def _filterbank_layers(self) -> list:
        return []

    @property
    def n_bins(self) -> int:
        """Frequency bins of the output (n_fft//2 + 1 for linear, n_mels for mel)."""
        return self.settings["n_fft"] // 2 + 1

    def build(self, input_shape):
        # Only the optional standardisation owns weights (the mel matrix is a constant).
        if self.standardization is not None:
            self.standardization.build(self.compute_output_shape(input_shape))
        self.built = True

    def call(self, waveform, standardize: bool = True):
        """Features of ``waveform``; ``standardize=False`` skips the standardisation (the raw features
        its statistics are computed from)."""
        x = ops.cast(waveform, self.settings["precision"])
        x = self.padding_layer(x)
        for layer in (self.stft_layers + self.scaling_layers + [self.power_layer] + self.filterbank_layers
                      + [self.decibel_layer]):
            x = layer(x)
        if self.settings["layout"] == "freq_time":
            x = ops.transpose(x, (0, 2, 1, 3))
        x = ops.cast(x, self.compute_dtype)
        if self.standardization is not None and standardize:
            x = self.standardization(x)
        return x

    def fit_standardization(self, batches, max_batches: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Set the standardisation statistics from waveforms and return them ``(mean, std)``.

        Args:
            batches: an iterable of waveform batches ``(batch, samples, channels)`` — or of tuples
                whose first item is one, such as a ``tf.data`` dataset of ``(audio, targets)`` — of
                the *training* split: per-bin mean and std over every clip and frame, as the
                reference (:func:`kaudio.layers.standardize.feature_statistics`).
            max_batches: stop after this many batches (``None``: all).

        Raises:
            KaudioError: the front end was built without ``standardize: true``, or no batch was given.
        """
        if self.standardization is None:
            raise KaudioError(f"{self.name}: this front end has no standardisation (spec: frontend.standardize: true)")
        statistics = RunningStatistics(axis=self.standardization.axis)
        for i, batch in enumerate(batches):
            if max_batches is not None and i >= max_batches:
                break
            waveform = batch[0] if isinstance(batch, (tuple, list)) else batch
            statistics.update(ops.convert_to_numpy(self(waveform, standardize=False)))
        mean, std = statistics.result()
        self.standardization.set_statistics(mean, std)
        return mean, std

    def frames(self, samples: int) -> int:
        """STFT frames produced from ``samples`` samples."""
        s = self.settings
        return frame_count(s["padding"], samples, s["n_fft"], s["win_length"], s["hop_length"])

    def compute_output_shape(self, input_shape):
        batch, samples, channels = input_shape
        frames = None if samples is None else self.frames(samples)
        if self.settings["layout"] == "freq_time":
            return (batch, self.n_bins, frames, channels)
        return (batch, frames, self.n_bins, channels)

    def multiply_adds(self, input_shape) -> int:
        """Approximate multiply-adds per example: FFT as 2·n_fft·log2(n_fft) real MACs per frame,
        plus |·|², the filterbank matmul and the log (one each per output value)."""
        _, samples, channels = input_shape
        s = self.settings
        frames = self.frames(samples) * channels
        fft = 2 * s["n_fft"] * math.log2(s["n_fft"])
        n_freq = s["n_fft"] // 2 + 1
        filterbank = n_freq * self.n_bins if self.filterbank_layers else 0
        return int(frames * (fft + 2 * n_freq + filterbank + self.n_bins))

    def describe(self) -> dict:
        """Front-end parameters for model cards."""
        return dict(self.settings)

    def get_config(self):
        config = super().get_config()
        config.update(self.settings)
        return config

    # ---- spec hooks -------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, params: dict, input_params: dict, name: str = "frontend", dtype=None):
        """The front end of a validated spec section; ``dtype``: its policy (``None``: the policy in force)."""
        return cls(sample_rate=input_params["sample_rate"], name=name, dtype=dtype, **params)

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        """Cross-field rules; fills the derived defaults ``win_length`` (n_fft) and ``hop_length``
        (win_length // 4) in ``params`` so every reader sees the values the layer uses."""
        problems = []
        n_fft, win = params["n_fft"], params["win_length"] or params["n_fft"]
        hop = params["hop_length"] or win // 4
        if win > n_fft:
            problems.append(("win_length", f"got {win}, must be <= n_fft ({n_fft})"))
        if hop < 1:
            problems.append(("hop_length", f"win_length // 4 is {hop}; set hop_length explicitly"))
        params["win_length"], params["hop_length"] = win, hop
        audio = context.input
        if audio is None or audio.get("type") != "audio":
            problems.append(("", "a spectrogram front end needs an `input` section of type 'audio'"))
            return problems
        if params["padding"] == "center" and params["pad_mode"] == "reflect" and audio["samples"] <= n_fft // 2:
            problems.append(("pad_mode", f"reflect padding of {n_fft // 2} samples needs more than {n_fft // 2} "
                                         f"input samples, got {audio['samples']}"))
        return problems

    @classmethod
    def spec_output_shape(cls, params: dict, input_shape: tuple) -> tuple[tuple | None, list[tuple[str, str]]]:
        """``(bins, frames, channels)`` (``freq_time``) or ``(frames, bins, channels)`` of a validated section."""
        samples, channels = input_shape
        frames = None
        if samples is not None:
            frames = frame_count(params["padding"], samples, params["n_fft"], params["win_length"], params["hop_length"])
            if frames < 1:
                return None, [("", f"input.samples ({samples}) is shorter than one window ({params['win_length']}) "
                                   f"with padding {params['padding']!r}")]
        bins = cls.bins_of(params)
        shape = (bins, frames, channels) if params["layout"] == "freq_time" else (frames, bins, channels)
        return shape, []

    @staticmethod
    def bins_of(params: dict) -> int:
        """Frequency bins of the output for a validated section."""
        return params["n_fft"] // 2 + 1


@keras.saving.register_keras_serializable(package="kaudio")
@register("frontend", "linear")
class LinearSpectrogram(SpectrogramFrontEnd):
    """Linear-frequency (STFT magnitude or power) spectrogram, ``n_fft//2 + 1`` bins."""

    spec_presets = LINEAR_PRESETS


@keras.saving.register_keras_serializable(package="kaudio")
@register("frontend", "mel")
class MelSpectrogram(SpectrogramFrontEnd):
    """Mel spectrogram: filterbank (HTK or Slaney scale, Slaney or no norm) on |X|^spectrum_power,
    then ``** mel_exponent``. OpenL3's training front end is ``sqrt(M·|X|²)``: spectrum_power 2,
    mel_exponent 0.5 (kapre 0.1.4's ``Melspectrogram``)."""

    spec_schema = Schema(COMMON_FIELDS + MEL_FIELDS)
    spec_presets = MEL_PRESETS

    def __init__(self, sample_rate: int, n_mels: int = 128, f_min: float = 0.0, f_max: float | None = None,
                 mel_scale: str = "slaney", mel_norm: str = "slaney", mel_exponent: float = 1.0, **kwargs):
        self.mel_settings = dict(n_mels=n_mels, f_min=float(f_min), f_max=f_max, mel_scale=mel_scale,
                                 mel_norm=mel_norm, mel_exponent=float(mel_exponent))
        super().__init__(sample_rate, **kwargs)

    def _filterbank_layers(self) -> list:
        m, s = self.mel_settings, self.settings
        bank = MelFilterbank(s["sample_rate"], s["n_fft"], m["n_mels"], m["f_min"], m["f_max"], htk=m["mel_scale"] == "htk",
                             norm=None if m["mel_norm"] == "none" else m["mel_norm"], dtype=s["precision"], name="mel_filterbank")
        return [bank, Power(m["mel_exponent"], dtype=s["precision"], name="mel_exponent")]

    @property
    def n_bins(self) -> int:
        return self.mel_settings["n_mels"]

    @property
    def empty_bands(self) -> int:
        """Mel bands that contain no FFT bin (1 for OpenL3's HTK mel256, as in the reference)."""
        return empty_mel_bands(self.filterbank_layers[0].matrix)

    def describe(self) -> dict:
        return {**self.settings, **self.mel_settings, "empty_mel_bands": self.empty_bands}

    def get_config(self):
        config = super().get_config()
        config.update(self.mel_settings)
        return config

    @staticmethod
    def bins_of(params: dict) -> int:
        return params["n_mels"]

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        problems = super().check_spec(params, context)
        audio = context.input
        if audio and audio.get("type") == "audio":
            nyquist = audio["sample_rate"] / 2
            f_max = params["f_max"] if params["f_max"] is not None else nyquist
            if f_max > nyquist:
                problems.append(("f_max", f"got {f_max}, must be <= sample_rate / 2 ({nyquist})"))
            if params["f_min"] >= f_max:
                problems.append(("f_min", f"got {params['f_min']}, must be < f_max ({f_max})"))
        return problems
