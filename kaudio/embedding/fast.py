"""Fast mode: run the convolutional stack once over the whole clip and pool each window's slice.

At hop 0.1 s every sample goes through the network ten times in exact mode. Here the clip's
spectrogram is computed once, the backbone runs over it in overlapping chunks, and window i
max-pools the columns of the final feature map that its 1-s span covers — the same pooling grid
as the embedding head (``head.pool_sizes``). Differences to exact mode (so results are close, not
identical; ``benchmarks/embed_throughput.py`` reports per-frame cosine similarity):

* context: convolutions at a window's edges see the neighbouring audio instead of zero padding;
* alignment: window i starts at spectrogram frame i·hop/stft_hop, rounded to the backbone's
  time stride (8 frames = 40 ms for L3), so windows can be shifted by up to 20 ms;
* normalisation: OpenL3's dB step subtracts each 1-s example's maximum. Here each frame is
  referenced to the maximum over the one-window neighbourhood centred on it (a sliding max), so
  loudness changes are followed smoothly instead of per window.

Cost: the front end runs twice (once for the per-frame maxima of the sliding reference, once
feeding the backbone; <2 % of the work), the backbone once plus ``MARGIN_COLUMNS`` of overlap per
chunk (~6 %). Memory: one chunk of spectrogram and activations (``CHUNK_COLUMNS`` · stride frames)
plus the row-pooled final map (rows · 512 floats per 40 ms column, ~730 MB per hour of audio for
the 6144-d head).
"""
from __future__ import annotations

import math
import weakref

import keras
import numpy as np
from scipy.ndimage import maximum_filter1d

from kaudio.embedding.framing import StreamFramer
from kaudio.embedding.inference import predict_function
from kaudio.errors import KaudioError
from kaudio.layers.padding import padding_amounts

CHUNK_COLUMNS = 256  # final-map columns computed per backbone call
MARGIN_COLUMNS = 8  # extra columns each side, discarded (covers the trunk's receptive field)


_PIPELINES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _pipeline(model):
    """(spectrogram function, backbone function) for variable-length input, built once per model.

    The front end loses its padding (applied here) and its per-example dB normalisation (done by
    :func:`_normalise`); the backbone is a copy with an open time axis sharing the weights' values.
    """
    cached = _PIPELINES.get(model)
    if cached is None:
        frontend, backbone = model.frontend, model.backbone
        config = {**frontend.get_config(), "padding": "valid", "name": "fast_frontend"}
        if config["decibel"] in ("openl3", "power_to_db"):
            config.update(decibel="power_to_db", db_ref=1.0, db_top=None)
        raw = type(frontend).from_config(config)
        inputs = keras.Input((None, 1))
        spectrogram = keras.Model(inputs, raw(inputs))
        open_backbone = type(backbone).from_config({**backbone.get_config(), "feature_shape": [raw.n_bins, None, 1],
                                                    "name": "fast_backbone"})
        open_backbone.set_weights(backbone.get_weights())
        cached = (predict_function(spectrogram), predict_function(open_backbone))
        _PIPELINES[model] = cached
    return cached


def fast_embed(model, signal: np.ndarray, hop: int, center: bool) -> np.ndarray:
    """Embeddings of ``signal`` (mono, at the model rate) for openl3's windows, computed in one pass."""
    if model.frontend is None or model.head is None or getattr(model.frontend, "settings", {}).get("layout") != "freq_time":
        raise KaudioError("fast mode needs a spectrogram front end with layout freq_time and an embedding_pool head")
    settings = model.frontend.settings
    window = model.spec.input["samples"]
    framer = StreamFramer(len(signal), window, hop, center)
    n_fft, win, stft_hop = settings["n_fft"], settings["win_length"], settings["hop_length"]
    pad_before, _ = padding_amounts(settings["padding"], window, n_fft, win, stft_hop)

    # The whole padded clip, with the front end's own per-window leading padding in front, so
    # clip frame k starts where frame k - i·hop/stft_hop of window i starts.
    padded = np.zeros(pad_before + framer.padded_length + n_fft, np.float32)
    padded[pad_before + framer.lead: pad_before + framer.lead + len(signal)] = signal
    columns = feature_columns(model, padded)
    stride = time_stride(model)
    width = model.frontend.frames(window) // stride  # final-map columns per window (24 for L3)
    out = pool_windows(columns, framer.n_frames, hop / stft_hop / stride, width, model.head.pool_size[1])
    expected = model.outputs[0].shape[-1]
    if out.shape[1] != expected:
        raise KaudioError(f"fast mode produced {out.shape[1]} values per window, the model {expected}")
    return out


def time_stride(model) -> int:
    """Spectrogram frames per column of the backbone's output (2 per pooled block: 8 for L3)."""
    return 2 ** (len(model.backbone.filters) - 1)


def feature_columns(model, padded: np.ndarray) -> np.ndarray:
    """The backbone's final map over the whole clip, pooled over rows like the head: (rows, columns, C).

    Computed in chunks of ``CHUNK_COLUMNS`` output columns with ``MARGIN_COLUMNS`` of context on
    each side, so stitching the chunks gives the same map as one pass over the whole clip.
    """
    settings = model.frontend.settings
    spectrogram_of, run = _pipeline(model)
    win, stft_hop = settings["win_length"], settings["hop_length"]
    frames_per_window = model.frontend.frames(model.spec.input["samples"])
    stride = time_stride(model)
    pool_h = model.head.pool_size[0]
    total_frames = 1 + (len(padded) - win) // stft_hop
    n_columns = total_frames // stride

    def spectrogram(f0: int, f1: int) -> np.ndarray:  # frames [f0, f1) in raw dB, (F, T, 1)
        return np.asarray(spectrogram_of(padded[None, f0 * stft_hop: (f1 - 1) * stft_hop + win, None]))[0]

    reference = None
    if settings["decibel"] in ("openl3", "power_to_db"):  # pass 1: each frame's maximum, then a sliding max
        step = CHUNK_COLUMNS * stride
        frame_max = np.concatenate([spectrogram(f, min(f + step, total_frames)).max(axis=(0, 2))
                                    for f in range(0, total_frames, step)])
        reference = maximum_filter1d(frame_max, size=frames_per_window, mode="nearest")
    pieces = []
    for c0 in range(0, n_columns, CHUNK_COLUMNS):
        c1 = min(c0 + CHUNK_COLUMNS, n_columns)
        f0 = max(c0 - MARGIN_COLUMNS, 0) * stride
        f1 = min((c1 + MARGIN_COLUMNS) * stride, total_frames)
        spec = spectrogram(f0, f1)
        if reference is not None:
            spec = _normalise(spec, settings, reference[f0:f1])
        fmap = np.asarray(run(spec[None]))[0]  # (H, T/stride, C)
        start = c0 - f0 // stride
        pieces.append(_pool_rows(fmap[:, start: start + (c1 - c0)], pool_h))
    return np.concatenate(pieces, axis=1)


def pool_windows(columns: np.ndarray, n_windows: int, columns_per_hop: float, width: int, pool_w: int) -> np.ndarray:
    """Window i max-pools columns [c, c + width) in cells of ``pool_w`` (c = round(i · columns_per_hop))
    and flattens channels-last, like :class:`~kaudio.heads.GridMaxPoolEmbedding`."""
    rows, n_columns, channels = columns.shape
    cells = math.ceil(width / pool_w)
    out = np.zeros((n_windows, rows * cells * channels), np.float32)
    for i in range(n_windows):
        c = min(max(int(round(i * columns_per_hop)), 0), max(n_columns - width, 0))
        block = columns[:, c: c + width]
        pooled = np.stack([block[:, m * pool_w: (m + 1) * pool_w].max(axis=1) for m in range(cells)], axis=1)
        out[i] = pooled.reshape(-1)
    return out


def _normalise(spec: np.ndarray, settings: dict, reference: np.ndarray) -> np.ndarray:
    """Per-example dB normalisation with a per-frame reference (the sliding one-window maximum).

    ``openl3``: ``max(spec − reference, −db_top)``; ``power_to_db`` with ``db_top``: floor at
    ``reference − db_top`` after the ``ref`` offset (librosa's top_db rule).
    """
    reference = reference[None, :, None]
    if settings["decibel"] == "openl3":
        spec = spec - reference
        return np.maximum(spec, -settings["db_top"]) if settings["db_top"] is not None else spec
    offset = 10.0 * math.log10(max(settings["db_amin"], settings["db_ref"]))
    if settings["db_top"] is None:
        return spec - offset
    return np.maximum(spec - offset, reference - offset - settings["db_top"])


def _pool_rows(fmap: np.ndarray, pool_h: int) -> np.ndarray:
    rows = math.ceil(fmap.shape[0] / pool_h)
    return np.stack([fmap[r * pool_h: (r + 1) * pool_h].max(axis=0) for r in range(rows)], axis=0)
