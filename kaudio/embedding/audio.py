"""``kaudio.embed``: OpenL3-style audio embeddings from arrays and files.

Behaves like ``openl3.get_audio_embedding`` (``marl/openl3`` ``openl3/core.py``): mono mix-down over
axis 1, resampling to the model rate, 1-s windows with openl3's centring / padding / hop rules,
timestamps ``i · hop_size``. Differences, all deliberate:

* integer arrays are scaled to [−1, 1] by their dtype's range (openl3 passes them on unscaled);
* a 2-D array that looks like (channels, samples) is an error instead of a silent mis-mix;
* NaN / inf samples are an error;
* resampling uses soxr (VHQ) instead of resampy; the output length is openl3's ⌊n · 48000 / sr⌋,
  so frame counts match openl3 for every length;
* arrays and files are streamed through the framer in chunks, so memory does not grow with the
  length of the audio (except the returned embeddings).
"""
from __future__ import annotations

import numbers
import os
import warnings
from typing import Iterable, Iterator

import numpy as np

from kaudio.audio_io import StreamResampler
from kaudio.audio_io import resample as _resample_all
from kaudio.embedding.framing import StreamFramer, hop_samples, padding_only_frames, timestamps, window_count
from kaudio.embedding.inference import BatchRunner
from kaudio.embedding.models import DEFAULT_AUDIO_MODEL, PRETRAINED, load_embedding_model, model_info
from kaudio.embedding.validation import check_batch_size
from kaudio.errors import InputError, KaudioWarning

CHUNK_SECONDS = 10.0  # decode / resample granularity for files and long arrays
MODES = ("exact", "fast")


# ----------------------------------------------------------------------------------------------
# Validation


def check_sample_rate(sr, where: str = "sr") -> float:
    if isinstance(sr, bool) or not isinstance(sr, numbers.Real) or not np.isfinite(sr) or sr <= 0:
        raise InputError(f"{where} must be a positive number of samples per second, got {sr!r}")
    return float(sr)


def check_hop_size(hop_size, sample_rate: int) -> int:
    if isinstance(hop_size, bool) or not isinstance(hop_size, numbers.Real) or not np.isfinite(hop_size) or hop_size <= 0:
        raise InputError(f"hop_size must be a positive number of seconds, got {hop_size!r}")
    hop = hop_samples(hop_size, sample_rate)
    if hop < 1:
        raise InputError(f"hop_size {hop_size} s is less than one sample at {sample_rate} Hz")
    return hop


def to_mono_float(audio, where: str = "audio") -> np.ndarray:
    """Validate one array and return it as mono float32 (samples,).

    Accepts (samples,) or (samples, channels) of any float or integer dtype.
    """
    if not isinstance(audio, np.ndarray):
        raise InputError(f"{where} must be a numpy array (or a list of them), got {type(audio).__name__}")
    if audio.size == 0:
        raise InputError(f"{where} is empty (0 samples)")
    if audio.ndim > 2:
        raise InputError(f"{where} has {audio.ndim} dimensions {audio.shape}; expected (samples,) or (samples, channels)")
    if audio.ndim == 2 and audio.shape[0] < audio.shape[1]:
        raise InputError(f"{where} has shape {audio.shape}: that would be {audio.shape[0]} samples of "
                         f"{audio.shape[1]} channels, so it looks like (channels, samples); kaudio expects "
                         f"(samples, channels) like soundfile and openl3 — pass audio.T")
    if np.issubdtype(audio.dtype, np.integer):
        info = np.iinfo(audio.dtype)
        scaled = audio.astype(np.float64)
        if info.min == 0:  # unsigned: centre on zero
            scaled = scaled - (info.max + 1) / 2
        audio = scaled / (2.0 ** (info.bits - 1))
    elif not np.issubdtype(audio.dtype, np.floating):
        raise InputError(f"{where} has dtype {audio.dtype}; expected a float or integer array")
    if not np.all(np.isfinite(audio)):
        bad = int(np.size(audio) - np.count_nonzero(np.isfinite(audio)))
        raise InputError(f"{where} contains {bad} NaN or infinite sample(s)")
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    return np.asarray(audio, dtype=np.float32)


# ----------------------------------------------------------------------------------------------
# Resampling


def _chunks(audio: np.ndarray, size: int) -> Iterator[tuple[np.ndarray, bool]]:
    for start in range(0, len(audio), size):
        yield audio[start: start + size], start + size >= len(audio)


def warn_about_padding(length: int, model_rate: int, window: int, hop: int, center: bool, where: str) -> None:
    """Warn (like openl3) when the audio is shorter than one window, and when frames would hold
    nothing but zero padding (a hop longer than what is left of the audio)."""
    if length < window:
        warnings.warn(f"{where} is shorter than one window ({length} < {window} samples at "
                      f"{model_rate} Hz); it is zero-padded", KaudioWarning, stacklevel=4)
    empty = padding_only_frames(length, window, hop, center)
    if empty:
        n = window_count(length, window, hop, center)
        warnings.warn(f"{where}: the last {empty} of {n} frames hold only zero padding: the hop "
                      f"({hop / model_rate:g} s) is longer than what is left of the "
                      f"{length / model_rate:g}-s audio; use a smaller hop_size or drop those frames",
                      KaudioWarning, stacklevel=4)


def stream_windows(chunks: Iterable[tuple[np.ndarray, bool]], length_in: int, sr: float, model_rate: int,
                   window: int, hop: int, center: bool, where: str) -> tuple[int, Iterator[np.ndarray]]:
    """Resample chunks of mono audio and cut them into windows. Returns (n_frames, window iterator)."""
    resampler = StreamResampler(sr, model_rate, length_in)
    warn_about_padding(resampler.length_out, model_rate, window, hop, center, where)
    framer = StreamFramer(resampler.length_out, window, hop, center)

    def windows():
        for chunk, last in chunks:
            yield from framer.feed(resampler(chunk, last))
        yield from framer.finish()

    return framer.n_frames, windows()


# ----------------------------------------------------------------------------------------------
# Public API


def embed(audio, sr, model: str = DEFAULT_AUDIO_MODEL, embedding_size: int = 6144, hop_size: float = 0.1,
          center: bool = True, batch_size: int = 32, verbose: bool = False,
          weights: "str | os.PathLike | None" = PRETRAINED, mode: str = "exact", dtype_policy=None):
    """Embed audio like ``openl3.get_audio_embedding``.

    Args:
        audio: (samples,) or (samples, channels) numpy array of any float or integer dtype, or a
            list of them (embedded together in shared batches).
        sr: sample rate, or a list with one rate per array.
        model: an audio model name (``kaudio.embedding.models.MODELS``), default OpenL3 mel256 music.
        embedding_size: 6144 or 512.
        hop_size: seconds between windows.
        center: centre window i on time ``i · hop_size`` (pads half a window at the start).
        batch_size: windows per forward pass.
        verbose: show a progress bar over windows.
        weights: ``"pretrained"``, a weight file, or ``None`` (random weights; explicit only).
        mode: ``"exact"`` (openl3's windows, same output) or ``"fast"`` (one pass over the clip's
            spectrogram, pooled per window: several times faster at small hops, not identical;
            see :mod:`kaudio.embedding.fast`).
        dtype_policy: a Keras dtype policy to run the network under, e.g. ``"mixed_bfloat16"``
            (bfloat16 compute, float32 weights: faster where the hardware computes bfloat16, e.g.
            CPUs with AVX512-BF16, and slightly different embeddings; ``benchmarks/embed_throughput.py``
            measures both), or
            ``None`` (float32, unless the Keras default policy was changed). The front end keeps
            its float64 precision and the returned embeddings are float32 either way.

    Returns:
        ``(embedding (n_frames, embedding_size) float32, timestamps (n_frames,) seconds)``, or two
        lists of those for list input.
    """
    is_list = isinstance(audio, (list, tuple))
    arrays = list(audio) if is_list else [audio]
    if not is_list and not isinstance(audio, np.ndarray):
        raise InputError(f"audio must be a numpy array or a list of numpy arrays, got {type(audio).__name__}")
    if not arrays:
        raise InputError("audio is an empty list")
    if isinstance(sr, (list, tuple)):
        if not is_list or len(sr) != len(arrays):
            raise InputError(f"got {len(sr)} sample rates for {len(arrays) if is_list else 'a single'} audio input(s); "
                             "give one rate, or one per array")
        rates = [check_sample_rate(r, f"sr[{i}]") for i, r in enumerate(sr)]
    else:
        rates = [check_sample_rate(sr)] * len(arrays)
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if center not in (True, False):
        raise InputError(f"center must be True or False, got {center!r}")
    batch_size = check_batch_size(batch_size)
    model_info(model, modality="audio")
    keras_model = load_embedding_model(model, embedding_size, weights, dtype_policy=dtype_policy)
    model_rate, window = keras_model.spec.input["sample_rate"], keras_model.spec.input["samples"]
    hop = check_hop_size(hop_size, model_rate)
    names = [f"audio[{i}]" if is_list else "audio" for i in range(len(arrays))]
    monos = [to_mono_float(a, n) for a, n in zip(arrays, names)]

    if mode == "fast":
        from kaudio.embedding.fast import fast_embed

        results = []
        for mono, rate, name in zip(monos, rates, names):
            resampled = _resample_all(mono, rate, model_rate)
            warn_about_padding(len(resampled), model_rate, window, hop, center, name)
            results.append(fast_embed(keras_model, resampled, hop, center))
    else:
        streams = []
        for mono, rate, name in zip(monos, rates, names):
            chunk = max(int(CHUNK_SECONDS * rate), 1)
            streams.append(stream_windows(_chunks(mono, chunk), len(mono), rate, model_rate, window, hop, center, name))
        runner = BatchRunner(keras_model, batch_size, verbose=verbose)
        results = runner.run_streams(streams)
    out = [(np.asarray(emb, np.float32), timestamps(len(emb), hop_size)) for emb in results]
    if is_list:
        return [e for e, _ in out], [t for _, t in out]
    return out[0]

