"""Window features of the downstream protocol, computed once per clip and cached.

Windows (Cramer et al., "Look, Listen and Learn More", ICASSP 2019, §3.3: "overlapping 1 s windows
with a 0.1 s hop"; coded as ``get_l3_frames_uniform`` in ``marl/l3embedding``
``data/usc/features.py``): the audio is decoded to mono at the model's rate, then

* a clip shorter than one window is zero-padded *symmetrically* to one window (``pad // 2``
  zeros before, the rest after);
* otherwise windows start at 0, hop, 2·hop … and the trailing partial window is dropped:
  n = 1 + ⌊(length − window) / hop⌋ — no centring, no end padding.

``kaudio.embed(center=False)`` follows openl3 instead, which zero-pads the end so the last window
covers the end of the clip (n = 1 + ⌈(length − window) / hop⌉) and pads short clips at the end
only. So :func:`uniform_signal` cuts (or symmetrically pads) each clip to exactly the samples of
the protocol's windows, and ``kaudio.embed(center=False)`` then frames it without any padding.

Features:

* :class:`EmbeddingFeatures` — any kaudio audio embedding model (``openl3_mel256_music`` …) with
  ``weights`` = ``"pretrained"``, a weight file, or ``None`` (random weights);
* :class:`KerasFileFeatures` — an audio embedding model saved as a ``.keras`` file (``kaudio avc
  export RUN --keras-out``), at its own input length and rate; its weights, or ``None``: the same
  network re-initialised (seeded);
* :class:`LogMelFeatures` — the ``logmel`` baseline: per-band mean and standard deviation over each
  window of a log-mel spectrogram (librosa: 48 kHz, 2048-point Hann STFT every 480 samples (10 ms)
  without centring, power spectrum, 128 Slaney-normalised Slaney-scale mel bands over 0–24 kHz,
  10·log10(max(mel, 1e-10))) — 256 numbers per window.

Cache: one ``.npz`` per clip, ``<cache>/<clip path>.npz`` (``features`` (windows, dim) float32
plus the settings of :class:`FeatureSettings`), written atomically
(:func:`kaudio.embedding.output.save_npz_atomic`: Ctrl-C leaves no partial file). The folder
records its settings in ``features.json`` when first used; a folder made with another model,
weights (for a ``.keras`` model: another file, by its sha256, or another seed), hop, framing or
dataset is refused with each difference named — never mixed.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from kaudio.embedding.settings import EmbeddingSettings
from kaudio.errors import KaudioError

HOP_SIZE = 0.1
FRAMING = "uniform: no centring, trailing partial window dropped, short clips zero-padded symmetrically"
CACHE_SETTINGS_FILE = "features.json"
FEATURES_KEY = "features"
LOGMEL = "logmel"


# ----------------------------------------------------------------------------------------------
# Windows


def uniform_window_count(length: int, window: int, hop: int) -> int:
    """Windows of the protocol for ``length`` samples: 1 for a short clip, else 1 + ⌊(length − window)/hop⌋."""
    return 1 if length <= window else 1 + (length - window) // hop


def uniform_signal(signal: np.ndarray, window: int, hop: int) -> np.ndarray:
    """``signal`` cut to the samples its protocol windows cover, or symmetrically zero-padded to one
    window when shorter — so that openl3-style framing without centring (``kaudio.embed(center=False)``)
    gives exactly the protocol's windows."""
    if len(signal) < window:
        pad = window - len(signal)
        return np.pad(signal, (pad // 2, pad - pad // 2))
    return signal[: window + (uniform_window_count(len(signal), window, hop) - 1) * hop]


def uniform_windows(signal: np.ndarray, window: int, hop: int) -> np.ndarray:
    """``(n, window)``: the protocol's windows of ``signal`` (a strided view of :func:`uniform_signal`)."""
    prepared = uniform_signal(signal, window, hop)
    n = uniform_window_count(len(signal), window, hop)
    return np.lib.stride_tricks.sliding_window_view(prepared, window)[::hop][:n]


# ----------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class FeatureSettings(EmbeddingSettings):
    """:class:`~kaudio.embedding.settings.EmbeddingSettings` plus the protocol's framing and the dataset
    folder: what a cached feature file was made with (compared key by key; ``kaudio_version`` is not)."""

    framing: str = FRAMING
    dataset: str = ""

    def items(self) -> dict:
        return {**super().items(), "framing": self.framing, "dataset": self.dataset}


class EmbeddingFeatures:
    """Windows → a kaudio audio embedding model (:func:`kaudio.embed` with ``center=False``).

    Args:
        model: an audio model name (``kaudio.embedding.models.MODELS``).
        embedding_size: one the model offers (6144 or 512 for OpenL3).
        weights: ``"pretrained"``, a weight file, or ``None`` for random weights.
        hop_size: seconds between windows (0.1 in the protocol).
        batch_size: windows per forward pass.
    """

    def __init__(self, model: str = "openl3_mel256_music", embedding_size: int = 6144, weights="pretrained",
                 hop_size: float = HOP_SIZE, batch_size: int = 32):
        from kaudio.embedding.framing import hop_samples
        from kaudio.embedding.models import model_spec
        from kaudio.embedding.settings import audio_settings
        from kaudio.embedding.validation import check_batch_size

        self.base = audio_settings(model, embedding_size, hop_size, False, "exact", weights)  # validates all
        spec = model_spec(model, embedding_size)
        self.sample_rate, self.window = int(spec.input["sample_rate"]), int(spec.input["samples"])
        self.hop = hop_samples(hop_size, self.sample_rate)
        self.model, self.embedding_size, self.weights, self.hop_size = model, embedding_size, weights, hop_size
        self.batch_size = check_batch_size(batch_size)

    def settings(self, dataset_root: Path) -> FeatureSettings:
        return FeatureSettings(**asdict(self.base), dataset=str(Path(dataset_root).resolve()))

    def compute(self, signals: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Features of clips already at :attr:`sample_rate`; one ``(windows, dim)`` array each."""
        from kaudio.embedding.audio import embed

        prepared = [uniform_signal(s, self.window, self.hop) for s in signals]
        embeddings, _ = embed(prepared, [self.sample_rate] * len(prepared), model=self.model,
                              embedding_size=self.embedding_size, hop_size=self.hop_size, center=False,
                              batch_size=self.batch_size, weights=self.weights)
        return embeddings


class KerasFileFeatures:
    """Windows → an audio embedding model saved as a ``.keras`` file
    (:func:`kaudio.embedding.keras_file.load_keras_embedding`: e.g. ``kaudio avc export RUN --keras-out``),
    at the model's input length and sample rate.

    Args:
        path: the ``.keras`` file.
        weights: ``"pretrained"`` (the file's own weights) or ``None``: the same network with random
            weights drawn by its initialisers under ``seed``.
        embedding_size: ``None``, or the model's output size (anything else is refused).
        hop_size: seconds between windows (0.1 in the protocol).
        batch_size: windows per forward pass.
        seed: the seed of the random weights.
    """

    def __init__(self, path: "str | os.PathLike", weights="pretrained", embedding_size: int | None = None,
                 hop_size: float = HOP_SIZE, batch_size: int = 32, seed: int = 0):
        from kaudio.embedding.audio import check_hop_size
        from kaudio.embedding.keras_file import load_keras_embedding
        from kaudio.embedding.validation import check_batch_size

        self.batch_size = check_batch_size(batch_size)
        self.embedding = load_keras_embedding(path, weights, seed)
        if embedding_size is not None and embedding_size != self.embedding.dimension:
            raise KaudioError(f"{path}: the model gives {self.embedding.dimension}-d embeddings, not "
                              f"{embedding_size}; drop --embedding-size (embedding_size=) for a .keras model")
        self.sample_rate, self.window = self.embedding.sample_rate, self.embedding.samples
        self.hop = check_hop_size(hop_size, self.sample_rate)
        self.hop_size = hop_size

    def settings(self, dataset_root: Path) -> FeatureSettings:
        return FeatureSettings(model=self.embedding.name, embedding_size=self.embedding.dimension,
                               frontend=self.embedding.frontend, weights=self.embedding.weights_identity,
                               hop_size=float(self.hop_size), center=False, mode="exact",
                               dataset=str(Path(dataset_root).resolve()))

    def compute(self, signals: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Features of clips already at :attr:`sample_rate`; one ``(windows, dim)`` array each."""
        out = []
        for signal in signals:
            windows = uniform_windows(np.asarray(signal, np.float32), self.window, self.hop)[..., None]
            parts = [np.asarray(self.embedding.model.predict_on_batch(windows[i: i + self.batch_size]))
                     for i in range(0, len(windows), self.batch_size)]
            out.append(np.concatenate(parts).astype(np.float32))
        return out


@dataclass(frozen=True)
class LogMelFeatures:
    """The ``logmel`` baseline: per-band mean and std of a log-mel spectrogram over each window
    (defaults in the module documentation). ``window_seconds`` is the window of the protocol (1 s)."""

    sample_rate: int = 48000
    window_seconds: float = 1.0
    hop_size: float = HOP_SIZE
    n_fft: int = 2048
    stft_hop: int = 480
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None

    def __post_init__(self):
        from kaudio.embedding.audio import check_hop_size

        if self.n_fft > self.window:
            raise KaudioError(f"logmel: n_fft {self.n_fft} is longer than the {self.window}-sample window")
        check_hop_size(self.hop_size, self.sample_rate)

    @property
    def window(self) -> int:
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def hop(self) -> int:
        from kaudio.embedding.framing import hop_samples

        return hop_samples(self.hop_size, self.sample_rate)

    def describe(self) -> str:
        fmax = self.fmax if self.fmax is not None else self.sample_rate / 2
        return (f"librosa log-mel: {self.sample_rate} Hz, n_fft {self.n_fft}, hop {self.stft_hop}, no centring, "
                f"power 2, {self.n_mels} slaney mel bands {self.fmin:g}-{fmax:g} Hz, 10*log10(max(mel, 1e-10)); "
                f"per-band mean and std over each {self.window_seconds:g}-s window")

    def settings(self, dataset_root: Path) -> FeatureSettings:
        return FeatureSettings(model=LOGMEL, embedding_size=2 * self.n_mels, frontend=self.describe(), weights="none",
                               hop_size=float(self.hop_size), center=False, mode="exact",
                               dataset=str(Path(dataset_root).resolve()))

    def compute(self, signals: Sequence[np.ndarray]) -> list[np.ndarray]:
        import librosa

        out = []
        for signal in signals:
            windows = uniform_windows(np.asarray(signal, np.float32), self.window, self.hop)
            mel = librosa.feature.melspectrogram(y=np.ascontiguousarray(windows), sr=self.sample_rate, n_fft=self.n_fft,
                                                 hop_length=self.stft_hop, center=False, power=2.0,
                                                 n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax)
            log_mel = 10.0 * np.log10(np.maximum(mel, 1e-10))  # (windows, n_mels, frames)
            out.append(np.concatenate([log_mel.mean(axis=-1), log_mel.std(axis=-1)], axis=-1).astype(np.float32))
        return out


def feature_extractor(model: str, embedding_size: int | None = None, weights="pretrained",
                      hop_size: float = HOP_SIZE, batch_size: int = 32, seed: int = 0):
    """``"logmel"`` → :class:`LogMelFeatures` (``embedding_size`` and ``weights`` do not apply), a
    ``.keras`` file → :class:`KerasFileFeatures` (``seed``: of its random weights with ``weights=None``),
    any other name → :class:`EmbeddingFeatures`."""
    from kaudio.embedding.keras_file import is_keras_file

    if model == LOGMEL:
        return LogMelFeatures(hop_size=hop_size)
    if is_keras_file(model):
        return KerasFileFeatures(model, weights, embedding_size, hop_size, batch_size, seed)
    if embedding_size is None:
        embedding_size = 6144
    return EmbeddingFeatures(model, embedding_size, weights, hop_size, batch_size)


# ----------------------------------------------------------------------------------------------
# Cache


class FeatureCache:
    """A folder of per-clip feature files made with one :class:`FeatureSettings`.

    Raises (on creation):
        KaudioError: the folder was made with other settings (each difference named), or its
            ``features.json`` is unreadable.
        OutputError: the folder cannot be created or written.
    """

    def __init__(self, folder: "str | os.PathLike", settings: FeatureSettings):
        from kaudio.writable import ensure_writable_folder

        self.folder, self.settings = Path(folder), settings
        record = self.folder / CACHE_SETTINGS_FILE
        if record.is_file():
            try:
                stored = json.loads(record.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise KaudioError(f"feature cache {self.folder}: {record.name} is unreadable ({err}); delete the "
                                  "folder or choose another --cache") from err
            differences = settings.differences(stored)
            if differences:
                raise KaudioError(f"feature cache {self.folder} was made with other settings "
                                  f"({'; '.join(differences)}); use another --cache folder (cache= in Python) or "
                                  "delete this one")
        else:
            if self.folder.is_dir() and any(self.folder.iterdir()):
                raise KaudioError(f"feature cache {self.folder} is a folder with other content and no "
                                  f"{CACHE_SETTINGS_FILE}; give an empty or new folder")
            from kaudio.atomic import write_text_atomic

            ensure_writable_folder(self.folder, "feature cache folder")
            write_text_atomic(record, json.dumps(settings.items(), indent=2) + "\n")

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def load(self, key: str) -> np.ndarray | None:
        """The cached features of clip ``key``, or ``None`` when not computed yet.

        Raises:
            KaudioError: the file holds other settings or cannot be read.
        """
        from kaudio.embedding.settings import read_settings

        path = self.path(key)
        if not path.is_file():
            return None
        stored = read_settings(path)
        differences = None if stored is None else self.settings.differences(stored)
        if stored is None or differences:
            why = "is unreadable" if stored is None else f"was made with other settings ({'; '.join(differences)})"
            raise KaudioError(f"feature cache file {path} {why}; delete it (or the cache folder) and run again")
        with np.load(path, allow_pickle=False) as data:
            return np.asarray(data[FEATURES_KEY], np.float32)

    def save(self, key: str, features: np.ndarray) -> None:
        from kaudio.embedding.output import save_npz_atomic

        save_npz_atomic(self.path(key), self.settings, **{FEATURES_KEY: np.asarray(features, np.float32)})

    def remove_stale_temporaries(self, keys: Sequence[str]) -> int:
        """Remove temporary files a killed run left in the folders of ``keys``; returns how many."""
        from kaudio.embedding.output import remove_stale_temporaries

        return sum(remove_stale_temporaries(folder) for folder in {self.path(k).parent for k in keys})


@dataclass
class FeatureTable:
    """Per-clip window features, row-aligned with the dataset."""

    features: list[np.ndarray]
    settings: FeatureSettings
    computed: int
    reused: int
    seconds: float

    @property
    def dimension(self) -> int:
        return int(self.features[0].shape[1])

    @property
    def windows(self) -> int:
        return int(sum(len(f) for f in self.features))


def compute_features(dataset, extractor, cache: FeatureCache, progress: bool = False,
                     clips_per_call: int = 16) -> FeatureTable:
    """Features of every clip of ``dataset``: read from ``cache``, or computed and written to it.

    Clips are decoded to mono at the extractor's rate (:func:`kaudio.audio_io.load_resampled`) and
    embedded ``clips_per_call`` at a time (their windows share batches). An interrupted run leaves
    only complete files; running again continues.
    """
    import time

    from kaudio.audio_io import load_resampled
    from kaudio.progress import Progress

    start = time.perf_counter()
    cache.remove_stale_temporaries(dataset.keys)
    features: list[np.ndarray | None] = [cache.load(key) for key in dataset.keys]
    todo = [i for i, f in enumerate(features) if f is None]
    meter = Progress(len(todo), "features", "clip") if progress and todo else None
    for begin in range(0, len(todo), clips_per_call):
        rows = todo[begin: begin + clips_per_call]
        signals = [load_resampled(dataset.root / dataset.keys[i], extractor.sample_rate) for i in rows]
        for row, signal, values in zip(rows, signals, extractor.compute(signals)):
            expected = uniform_window_count(len(signal), extractor.window, extractor.hop)
            if len(values) != expected:  # pragma: no cover - a guard on the framing contract
                raise KaudioError(f"{dataset.keys[row]}: {len(values)} feature windows, expected {expected}")
            cache.save(dataset.keys[row], values)
            features[row] = values
        if meter is not None:
            meter.add(len(rows))
    if meter is not None:
        meter.close()
    return FeatureTable(features, cache.settings, computed=len(todo), reused=len(dataset) - len(todo),
                        seconds=time.perf_counter() - start)


def load_cached_features(folder: "str | os.PathLike", settings: FeatureSettings,
                         keys: Sequence[str]) -> list[np.ndarray]:
    """Every clip's features from a complete cache (what a fold worker reads)."""
    cache = FeatureCache(folder, settings)
    out = []
    for key in keys:
        values = cache.load(key)
        if values is None:
            raise KaudioError(f"feature cache {folder} has no features for {key}")
        out.append(values)
    return out
