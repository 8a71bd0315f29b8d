"""``tf.data`` input pipeline for a :class:`~kaudio.data.TaggingTable`.

Per clip: decode, mix to mono (mean over channels), resample to ``sample_rate`` (output length
⌊n · out / in⌋, :mod:`kaudio.audio_io`), then cut to ``samples``:

* evaluation (``shuffle=False``): the first ``samples`` samples, zero-padded at the end when the
  clip is shorter — deterministic, in the order of ``indices``;
* training (``shuffle=True``): a random window of ``samples`` (uniform offset), zero-padded at the
  end when the clip is shorter; the order is shuffled every epoch. Both draw from ``seed``, so a
  seed gives the same batches run after run.

Two decoders (``make_dataset(decoder=...)``):

* ``"python"`` (default): libsndfile and soxr VHQ through :mod:`kaudio.audio_io` — the same code
  and the same samples as kaudio's embedding functions — run in ``tf.numpy_function`` (parallel,
  order kept). Reads every format libsndfile reads. The pipeline holds Python functions, so it
  cannot be serialised (tf.data service) and runs only in the process that built it.
* ``"tfio"``: decoding and resampling inside the graph with tensorflow-io
  (:func:`kaudio.audio_io.tfio_decode`), so the pipeline holds no Python code. It reads WAV
  (8/16/24-bit integer, float), FLAC (8/16/24-bit), OGG/Vorbis and MP3, refusing other encodings
  up front (:data:`kaudio.audio_io.TFIO_CODECS`). At equal rates its samples are the python
  decoder's (Vorbis and MP3 within 1e-6). Resampled clips differ from soxr's by up to 2e-2
  (RMS about 1e-3: ``tfio.audio.resample`` has a wider transition band and a sub-sample delay),
  and the whole pipeline takes 8–14 times the CPU of the python one, nearly all of it in
  ``tfio.audio.resample`` (``benchmarks/data_pipeline.py``). tf.data service workers must
  ``import tensorflow_io`` to run it.

Decoding happens once when ``cache`` is set: ``"memory"`` keeps the decoded clips in RAM, a path
caches them on disk (a fingerprint of the files, rows, rate and decoder is appended to the path,
so a cache built for other data is never reused). With ``shuffle=False`` the cut clips are cached,
else the full decoded clips (the random window is drawn after the cache). Batches are prefetched.

Elements: ``(audio (B, samples, 1) float32, {"fine", "coarse", "fine_mask", "coarse_mask"})``.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from kaudio.errors import InputError

CACHE_MEMORY = "memory"
#: Largest shuffle buffer (clips) used by default: the whole subset up to this many clips.
DEFAULT_SHUFFLE_BUFFER = 2048
#: Values of ``make_dataset(decoder=...)``; see the module doc.
DECODERS = ("python", "tfio")


def load_audio(path: "str | os.PathLike", sample_rate: int) -> np.ndarray:
    """Decode a file to mono float32 at ``sample_rate`` (soxr VHQ, length ⌊n · sr_out / sr_in⌋);
    the python decoder's clip (:func:`kaudio.audio_io.load_resampled`)."""
    from kaudio.audio_io import load_resampled

    return load_resampled(path, sample_rate)


def fit_length(audio: np.ndarray, samples: int, offset: int = 0) -> np.ndarray:
    """``audio[offset: offset + samples]``, zero-padded at the end to ``samples`` (numpy reference)."""
    window = audio[offset: offset + samples]
    return np.pad(window, (0, samples - len(window))).astype(np.float32)


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _open_all(paths, open_one) -> list:
    """``open_one(path)`` for every distinct path; one :class:`InputError` listing every failure."""
    opened, bad = [], []
    for path in dict.fromkeys(paths):
        try:
            opened.append(open_one(path))
        except InputError as err:
            bad.append(str(err))
    if bad:
        shown = "\n".join(f"  - {b}" for b in bad[:10])
        more = f"\n  … and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise InputError(f"{len(bad)} audio file{'s' if len(bad) > 1 else ''} cannot be read:\n{shown}{more}")
    return opened


def check_audio_files(paths) -> None:
    """Open every file once (header only) and raise one :class:`InputError` listing all that
    cannot be decoded — so a bad file fails here, not deep inside a training epoch."""
    from kaudio.audio_io import AudioFileReader

    _open_all(paths, lambda path: AudioFileReader(path).close())


def data_error(error: BaseException) -> InputError | None:
    """The kaudio error inside a ``tf.errors.OpError`` raised while iterating a dataset.

    A file that breaks mid-training surfaces as a TensorFlow error whose text holds
    ``InputError: <message>`` — raised inside ``tf.numpy_function`` (python decoder) or by an
    in-graph assertion (tfio decoder, whose text wraps it in ``[…]``). This returns that message
    as an :class:`InputError` (for ``raise data_error(err) from err``), or ``None`` for other errors.
    """
    text = str(error)
    for name in ("InputError: ", "KaudioError: "):
        start = text.find(name)
        if start >= 0:
            message = text[start + len(name):].split("\n", 1)[0].strip()
            if text[:start].endswith("[") and message.endswith("]"):  # tf.debugging.Assert's brackets
                message = message[:-1]
            return InputError(message)
    return None


def _cache_path(cache, files, indices, sample_rate, samples, shuffle, decoder) -> str:
    digest = hashlib.sha1()
    for value in (sample_rate, samples if not shuffle else -1, *indices.tolist()):
        digest.update(str(value).encode() + b"\0")
    for i in indices:
        digest.update(str(files[i]).encode() + b"\0")
    if decoder != "python":  # python-decoded caches keep the keys they had before decoders existed
        digest.update(f"decoder={decoder}".encode())
    path = Path(cache).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"{path}.{digest.hexdigest()[:16]}"


def _python_decoder(files: list[str], sample_rate: int, check_files: bool, rows):
    """``(row, targets)`` dataset → ``(clip, targets)``, decoded by :func:`load_audio` in ``tf.numpy_function``."""
    import tensorflow as tf

    if check_files:
        check_audio_files([files[i] for i in rows])

    def decode(i):
        return load_audio(files[int(i)], sample_rate)

    def decode_op(i):
        audio = tf.numpy_function(decode, [i], tf.float32, stateful=False)
        audio.set_shape([None])
        return audio

    return lambda ds: ds.map(lambda i, t: (decode_op(i), t), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _tfio_decoder(files: list[str], sample_rate: int, rows):
    """``(row, targets)`` dataset → ``(clip, targets)``, decoded and resampled in the graph
    (:func:`kaudio.audio_io.tfio_decode`).

    Every header is read here, in Python, once (each file's codec, rate and length); a file that
    cannot be read, or whose encoding tensorflow-io gets wrong, is refused, all of them at once.
    """
    import tensorflow as tf

    from kaudio.audio_io import require_tfio, tfio_decode, tfio_resampler_delay, tfio_source

    require_tfio()
    sources = {source.path: source for source in _open_all([files[i] for i in rows], tfio_source)}
    delays = {rate: tfio_resampler_delay(rate, sample_rate) for rate in {s.sample_rate for s in sources.values()}}
    paths = np.array([""] * len(files), dtype=object)
    codecs = np.zeros(len(files), np.int32)
    rates, frames, delay = (np.zeros(len(files), np.int64) for _ in range(3))
    for i in set(int(i) for i in rows):
        source = sources[str(Path(files[i]))]
        paths[i], codecs[i], rates[i], frames[i] = source.path, source.codec_index, source.sample_rate, source.frames
        delay[i] = delays[source.sample_rate]
    columns = [tf.constant(column) for column in (paths.astype(str), codecs, rates, frames, delay)]

    def source_of(i):
        return tuple(column[i] for column in columns)

    return lambda ds: tfio_decode(ds.map(lambda i, t: (source_of(i), t)), sample_rate)


def make_dataset(table, indices, sample_rate: int, samples: int, batch_size: int = 16, shuffle: bool = False,
                 seed: int = 0, cache=None, repeat: bool = False, drop_remainder: bool = False,
                 shuffle_buffer: int | None = None, check_files: bool = True, decoder: str = "python"):
    """A batched ``tf.data.Dataset`` of ``(audio, targets)`` for the rows ``indices`` of ``table``.

    Args:
        table: a :class:`~kaudio.data.TaggingTable`.
        indices: row indices (e.g. ``split_indices(table)["train"]``); order kept when not shuffled.
        sample_rate: the model's rate; clips are resampled to it.
        samples: clip length in samples at ``sample_rate`` (the model input length).
        batch_size: clips per batch.
        shuffle: training mode: shuffle every epoch and take a random window (see module doc).
        seed: seed of the shuffle and the random windows.
        cache: ``None``, ``"memory"`` or a file path prefix for the decoded clips.
        repeat: repeat forever (use with ``steps_per_epoch``).
        drop_remainder: drop a last, smaller batch.
        shuffle_buffer: clips in the shuffle buffer; default the whole subset up to
            ``DEFAULT_SHUFFLE_BUFFER``.
        check_files: open every file's header first and report all unreadable files at once
            (``decoder="tfio"`` always does: it needs every file's encoding and rate).
        decoder: ``"python"`` (libsndfile + soxr in ``tf.numpy_function``) or ``"tfio"``
            (tensorflow-io in the graph: no Python in the pipeline, fewer formats, less accurate
            and slower resampling); see the module doc.

    Returns:
        ``tf.data.Dataset`` yielding ``(audio (B, samples, 1) float32, targets dict of float32
        (B, N) arrays)``.
    """
    import tensorflow as tf

    sample_rate = _check_positive_int(sample_rate, "sample_rate")
    samples = _check_positive_int(samples, "samples")
    batch_size = _check_positive_int(batch_size, "batch_size")
    if cache is not None and cache != CACHE_MEMORY and not isinstance(cache, (str, os.PathLike)):
        raise InputError(f"cache must be None, {CACHE_MEMORY!r} or a file path, got {cache!r}")
    if decoder not in DECODERS:
        raise InputError(f"decoder must be one of {', '.join(map(repr, DECODERS))}, got {decoder!r}")
    indices = np.asarray(indices, dtype=np.int64).reshape(-1) if indices is not None else np.arange(len(table))
    if len(indices) == 0:
        raise InputError("no clips to make a dataset of (the index list is empty)")
    if indices.min() < 0 or indices.max() >= len(table):
        raise InputError(f"row indices must lie in [0, {len(table)}), got {indices.min()}..{indices.max()}")
    files = [str(f) for f in table.files]
    if decoder == "tfio":
        decode = _tfio_decoder(files, sample_rate, indices)
    else:
        decode = _python_decoder(files, sample_rate, check_files, indices)
    targets = table.targets(indices)

    def window(audio, offset=0):
        """``samples`` samples from ``offset``, zero-padded at the end (like :func:`fit_length`)."""
        audio = audio[offset: offset + samples]
        return tf.pad(audio, [[0, samples - tf.shape(audio)[0]]])

    def random_window(audio, rand):
        span = tf.maximum(tf.shape(audio)[0] - samples, 0) + 1
        offset = tf.random.stateless_uniform([], seed=tf.stack([rand, tf.constant(0, tf.int64)]),
                                             maxval=span, dtype=tf.int32)
        return window(audio, offset)

    ds = decode(tf.data.Dataset.from_tensor_slices((indices, targets)))
    if not shuffle:
        ds = ds.map(lambda a, t: (window(a), t), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache == CACHE_MEMORY:
        ds = ds.cache()
    elif cache is not None:
        ds = ds.cache(_cache_path(cache, files, indices, sample_rate, samples, shuffle, decoder))
    if shuffle:
        buffer = len(indices) if shuffle_buffer is None and len(indices) <= DEFAULT_SHUFFLE_BUFFER else \
            _check_positive_int(shuffle_buffer or DEFAULT_SHUFFLE_BUFFER, "shuffle_buffer")
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    if shuffle:
        randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, randoms))
        ds = ds.map(lambda at, r: (random_window(at[0], r), at[1]), num_parallel_calls=tf.data.AUTOTUNE,
                    deterministic=True)
    ds = ds.map(lambda a, t: (tf.reshape(a, [samples, 1]), t))
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)
