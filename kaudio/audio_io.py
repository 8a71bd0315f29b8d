"""Reading and resampling audio: the one implementation behind ``kaudio.embedding`` and ``kaudio.data``.

Reading
    :class:`AudioFileReader` decodes a file with libsndfile through soundfile (WAV, FLAC,
    OGG/Vorbis, MP3, AIFF, AU, Opus … whatever the installed libsndfile reads) in blocks of mono
    float32 (the mean over channels), so memory does not grow with the file. Every problem is an
    :class:`~kaudio.errors.InputError` that names the file: missing, a folder, not decodable,
    truncated (a header that promises more than the file holds), no samples, NaN or infinite
    samples. :func:`read_mono` decodes a whole file the same way.

Resampling
    :class:`StreamResampler` (chunk by chunk) and :func:`resample` (a whole array) use soxr at its
    very-high-quality setting (``quality="VHQ"``; https://python-soxr.readthedocs.io). The output
    has :func:`resampled_length` samples, ⌊n · rate_out / rate_in⌋ — the length openl3 gives
    (``openl3.get_audio_embedding`` resamples with resampy and keeps that many samples), so frame
    counts and timestamps match openl3 for every input length. kaudio matches the *length rule*,
    not resampy's filter: soxr is faster, streams, and its VHQ filter is at least as clean, so the
    samples themselves differ from openl3's by the two filters' difference. soxr's own output
    length can differ from the rule by a sample; :func:`resample` pads or cuts to the rule, and
    callers of :class:`StreamResampler` frame exactly :attr:`StreamResampler.length_out` samples.

In-graph decoding with tensorflow-io
    :func:`tfio_source` and :func:`tfio_decode` decode and resample inside a TensorFlow
    graph (``tf.io.read_file``, ``tfio.audio.decode_wav`` / ``decode_flac`` / ``decode_vorbis`` /
    ``decode_mp3`` and ``tfio.audio.resample``; https://www.tensorflow.org/io/api_docs/python/tfio/audio),
    for ``kaudio.data.make_dataset(decoder="tfio")``. What tensorflow-io 0.37.1 gets right and
    wrong on this stack is listed at :data:`TFIO_CODECS`, :data:`TFIO_REFUSED` and
    :func:`tfio_resampler_delay`. ``tfio.audio.AudioIOTensor`` is not used: in a parallel
    ``tf.data`` map its file resource is shared between calls, and some clips came back wrong.
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from kaudio.errors import InputError, KaudioError

#: Seconds of audio per block read from a file.
BLOCK_SECONDS = 10.0


# ----------------------------------------------------------------------------------------------
# Reading (libsndfile through soundfile)


class AudioFileReader:
    """Open an audio file and read it in mono float32 blocks; errors name the file.

    Attributes:
        path: the file.
        sample_rate: its rate (Hz).
        frames: samples per channel its header declares.
        channels: channels in the file (blocks are mixed down to mono).
        format, subtype: libsndfile's names of the container and the sample encoding
            (e.g. ``"WAV"``, ``"PCM_16"``; ``"OGG"``, ``"VORBIS"``).
    """

    def __init__(self, path: "str | os.PathLike"):
        import soundfile as sf

        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"{self.path}: file not found")
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a directory, not an audio file")
        try:
            self._file = sf.SoundFile(str(self.path))
        except (sf.LibsndfileError, RuntimeError, TypeError) as err:  # TypeError: a file soundfile cannot take
            raise InputError(f"{self.path}: cannot decode audio ({err})") from err
        self.sample_rate = self._file.samplerate
        self.frames = self._file.frames
        self.channels = self._file.channels
        self.format = self._file.format
        self.subtype = self._file.subtype
        truncation = _truncation_note(self._file.extra_info)
        if truncation:
            self._file.close()
            raise InputError(f"{self.path}: truncated — {truncation}; the file was cut short (re-copy or re-encode it)")
        if self.frames <= 0:
            self._file.close()
            raise InputError(f"{self.path}: contains no audio samples")

    def close(self) -> None:
        """Close the file without reading it (a header check)."""
        self._file.close()

    def blocks(self, seconds: float = BLOCK_SECONDS) -> Iterator[tuple[np.ndarray, bool]]:
        """Yield ``(mono block, is_last)``; raise if the file ends before its header says it should."""
        import soundfile as sf

        size = max(int(seconds * self.sample_rate), 1)
        read = 0
        try:
            while read < self.frames:
                try:
                    block = self._file.read(min(size, self.frames - read), dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError) as err:  # LibsndfileError is a RuntimeError
                    raise InputError(f"{self.path}: decoding failed after {read} samples ({err})") from err
                if len(block) == 0:
                    raise InputError(f"{self.path}: truncated — the header promises {self.frames} samples, "
                                     f"only {read} could be read")
                if not np.all(np.isfinite(block)):
                    raise InputError(f"{self.path}: contains NaN or infinite samples")
                read += len(block)
                yield block.mean(axis=1), read >= self.frames
        finally:
            self._file.close()


def _truncation_note(extra_info: str) -> str | None:
    """libsndfile quietly shortens a WAV/AIFF whose data chunk is cut off, but its header report
    says e.g. ``data : 32000 (should be 8000)``; turn that into a message."""
    for line in extra_info.splitlines():
        name, _, rest = line.partition(":")
        if name.strip().lower() in ("data", "ssnd") and "should be" in rest:
            declared, _, actual = rest.partition("(should be")
            return f"its header declares {declared.strip()} bytes of audio, only {actual.strip(' )')} are present"
    return None


def read_mono(path: "str | os.PathLike") -> tuple[np.ndarray, int]:
    """Decode a whole file to mono float32; returns ``(samples, sample_rate)``."""
    reader = AudioFileReader(path)
    return np.concatenate([block for block, _ in reader.blocks()]).astype(np.float32), reader.sample_rate


# ----------------------------------------------------------------------------------------------
# Resampling (soxr)


def resampled_length(length_in: int, rate_in: float, rate_out: float) -> int:
    """⌊length_in · rate_out / rate_in⌋ — openl3's resampled length (``length_in`` at equal rates)."""
    return length_in if rate_in == rate_out else int(length_in * rate_out / rate_in)


class StreamResampler:
    """Chunked resampling (soxr VHQ) with openl3's output length ⌊n · out / in⌋ (:attr:`length_out`).

    Feed the chunks in order, the last one with ``last=True``; equal rates pass chunks through.
    """

    def __init__(self, rate_in: float, rate_out: int, length_in: int):
        self.identity = rate_in == rate_out
        self.length_out = resampled_length(length_in, rate_in, rate_out)
        if not self.identity:
            import soxr

            self._stream = soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32", quality="VHQ")

    def __call__(self, chunk: np.ndarray, last: bool) -> np.ndarray:
        if self.identity:
            return chunk
        return self._stream.resample_chunk(chunk, last=last)


def resample(mono: np.ndarray, rate_in: float, rate_out: int) -> np.ndarray:
    """Resample a whole mono array (soxr VHQ) to exactly ⌊n · rate_out / rate_in⌋ samples."""
    resampler = StreamResampler(rate_in, rate_out, len(mono))
    out = resampler(mono, last=True)
    return np.pad(out, (0, max(resampler.length_out - len(out), 0)))[: resampler.length_out]


def load_resampled(path: "str | os.PathLike", sample_rate: int) -> np.ndarray:
    """Decode a file to mono float32 at ``sample_rate`` (:func:`read_mono` then :func:`resample`)."""
    mono, rate = read_mono(path)
    return np.asarray(resample(mono, rate, int(sample_rate)), dtype=np.float32)


# ----------------------------------------------------------------------------------------------
# In-graph decoding and resampling (tensorflow-io)


def require_tfio():
    """Import tensorflow-io and load its audio ops, or raise a :class:`KaudioError` saying what to install."""
    import tensorflow as tf

    try:
        import tensorflow_io as tfio

        tfio.audio.resample(tf.zeros([8]), 2, 1)  # loads the op library (lazily loaded on first use)
    except (ImportError, NotImplementedError, tf.errors.NotFoundError) as err:
        raise KaudioError(f"decoder='tfio' needs tensorflow-io with working audio ops (tensorflow-io 0.37.1 "
                          f"loads only with TensorFlow 2.17; use decoder='python' otherwise): {err}") from err
    return tfio


@dataclass(frozen=True)
class TfioCodec:
    """How tensorflow-io decodes one libsndfile (format, subtype): its decoder and sample dtype."""

    decoder: str  # "wav", "flac", "vorbis" or "mp3": tfio.audio.decode_<decoder>
    dtype: str  # the dtype tfio returns: "uint8", "int16", "int32" or "float32"


#: (libsndfile format, subtype) → codec, for every encoding that tensorflow-io 0.37.1 decodes
#: exactly as libsndfile does here (integer PCM and float WAV/FLAC bit for bit, Vorbis within
#: 3e-7, MP3 within 7e-7). 8-bit samples come back as uint8 offset by 128 (signed FLAC too);
#: 24-bit as int32 shifted left by 8 bits.
TFIO_CODECS = {
    ("WAV", "PCM_U8"): TfioCodec("wav", "uint8"),
    ("WAV", "PCM_16"): TfioCodec("wav", "int16"),
    ("WAV", "PCM_24"): TfioCodec("wav", "int32"),
    ("WAV", "FLOAT"): TfioCodec("wav", "float32"),
    ("WAVEX", "PCM_U8"): TfioCodec("wav", "uint8"),
    ("WAVEX", "PCM_16"): TfioCodec("wav", "int16"),
    ("WAVEX", "PCM_24"): TfioCodec("wav", "int32"),
    ("WAVEX", "FLOAT"): TfioCodec("wav", "float32"),
    ("FLAC", "PCM_S8"): TfioCodec("flac", "uint8"),
    ("FLAC", "PCM_16"): TfioCodec("flac", "int16"),
    ("FLAC", "PCM_24"): TfioCodec("flac", "int32"),
    ("OGG", "VORBIS"): TfioCodec("vorbis", "float32"),
    ("MP3", "MPEG_LAYER_III"): TfioCodec("mp3", "float32"),
}

_PCM_32 = "tfio.audio.decode_wav reads 32-bit integer samples as float32 (garbage: 5e-36 for 0.038)"
_DOUBLE = "tfio.audio.decode_wav fails with 'unsupported wBitsPerSample: 64'"

#: Why the other encodings are refused (tensorflow-io 0.37.1, measured on this stack; ``None``:
#: any subtype of that container).
TFIO_REFUSED = {
    ("WAV", "PCM_32"): _PCM_32,
    ("WAVEX", "PCM_32"): _PCM_32,
    ("WAV", "DOUBLE"): _DOUBLE,
    ("WAVEX", "DOUBLE"): _DOUBLE,
    ("OGG", "OPUS"): "tensorflow-io has no Opus decoder (decode_vorbis: 'could not open input as an OggVorbis file')",
    ("AIFF", None): "tensorflow-io has no AIFF decoder (decode_wav: 'unexpected field: COMM')",
    ("AU", None): "tensorflow-io has no AU decoder",
    ("RF64", None): "tfio.audio.decode_wav fails with 'unexpected field: ds64'",
    ("W64", None): "tensorflow-io has no Wave64 decoder",
}

#: Order of the branches of the in-graph decoder (a source's ``codec_index``).
_CODEC_BRANCHES = tuple(dict.fromkeys(TFIO_CODECS.values()))


@dataclass(frozen=True)
class TfioSource:
    """One file as the in-graph decoder needs it, from its header (read once, in Python)."""

    path: str
    codec_index: int  # position of its TfioCodec in the decoder's branches
    sample_rate: int
    frames: int


def tfio_source(path: "str | os.PathLike") -> TfioSource:
    """Check a file's header (like :class:`AudioFileReader`) and that tensorflow-io decodes its
    encoding correctly; raise an :class:`InputError` naming the file and the reason otherwise."""
    reader = AudioFileReader(path)
    reader.close()
    key = (reader.format, reader.subtype)
    codec = TFIO_CODECS.get(key)
    if codec is None:
        reason = TFIO_REFUSED.get(key) or TFIO_REFUSED.get((reader.format, None)) or \
            "tensorflow-io is not known to decode it correctly"
        readable = ", ".join(sorted({f"{f} {s}" for f, s in TFIO_CODECS}))
        raise InputError(f"{reader.path}: decoder='tfio' cannot read {reader.format} {reader.subtype} audio: {reason}; "
                         f"use decoder='python' for it (decoder='tfio' reads {readable})")
    return TfioSource(str(reader.path), _CODEC_BRANCHES.index(codec), int(reader.sample_rate), int(reader.frames))


@functools.lru_cache(maxsize=None)
def tfio_resampler_delay(rate_in: int, rate_out: int) -> int:
    """Output samples by which ``tfio.audio.resample`` lags its input.

    ``tfio.audio.resample`` (the Speex resampler in tensorflow-io 0.37.1) returns ⌊n · out / in⌋
    samples but does not flush its filter: the output starts late by about half the filter's
    length and its last samples are missing. The delay is measured here with an impulse (32
    samples for 44.1 kHz → 16 kHz or 32 kHz; 64 for 8 → 16 kHz); where it is fractional (46.4 for
    22.05 → 32 kHz) the nearest whole sample is taken, and the rest remains a sub-sample shift.
    """
    if rate_in == rate_out:
        return 0
    probe = np.zeros(max(4096, 64 * math.ceil(rate_in / rate_out)), np.float32)
    probe[0] = 1.0
    response = _tfio_resample_function()(probe, int(rate_in), int(rate_out)).numpy()
    return int(np.argmax(np.abs(response)))


@functools.lru_cache(maxsize=None)
def _tfio_resample_function():
    """``tfio.audio.resample`` for eager calls, traced once (its ``tf.vectorized_map`` would retrace per call)."""
    import tensorflow as tf

    tfio = require_tfio()
    signature = [tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.int64), tf.TensorSpec([], tf.int64)]
    return tf.function(lambda audio, rate_in, rate_out: tfio.audio.resample(audio, rate_in, rate_out),
                       input_signature=signature)


def _attempt(function, argument, fallback):
    """A one-element ``tf.data.Dataset``: ``(function(argument), True)``, or ``(fallback, False)``
    if ``function`` raises.

    A TensorFlow graph has no try/except; a one-element pipeline with ``ignore_errors()``
    (https://www.tensorflow.org/api_docs/python/tf/data/Dataset#ignore_errors) followed by the
    fallback plays that role, so that a file that fails can be reported by name. Used through
    ``Dataset.interleave``, it keeps the pipeline free of stateful ops (it serialises with
    ``ExternalStatePolicy.FAIL``).
    """
    import tensorflow as tf

    attempt = tf.data.Dataset.from_tensors(argument).map(lambda a: (function(a), True)).ignore_errors()
    return attempt.concatenate(tf.data.Dataset.from_tensors((fallback, False))).take(1)


def _fail_unless(condition, path, message, value):
    """``value``, once ``condition`` holds; else an error ``InputError: <path>: <message>``
    (:func:`kaudio.data.pipeline.data_error` turns it back into the :class:`InputError`)."""
    import tensorflow as tf

    text = tf.strings.join(["InputError: ", path, ": ", message])
    with tf.control_dependencies([tf.debugging.Assert(condition, [text])]):
        return tf.identity(value)


def _decode_branch(codec: TfioCodec, contents):
    """One codec's decoder: float32 (samples, channels) scaled to [−1, 1] like libsndfile."""
    import tensorflow as tf
    import tensorflow_io as tfio

    dtype = tf.as_dtype(codec.dtype)
    if codec.decoder == "wav":
        samples = tfio.audio.decode_wav(contents, dtype=dtype)
    elif codec.decoder == "flac":
        samples = tfio.audio.decode_flac(contents, dtype=dtype)
    elif codec.decoder == "vorbis":
        samples = tfio.audio.decode_vorbis(contents)
    else:
        samples = tfio.audio.decode_mp3(contents)
    samples = tf.cast(samples, tf.float32)
    if codec.dtype == "uint8":
        return (samples - 128.0) / 128.0
    if codec.dtype in ("int16", "int32"):
        return samples / float(2 ** (dtype.size * 8 - 1))
    return samples


def _decode_mono(contents, codec_index):
    """Decode file bytes with the codec's branch and mix to mono (the mean over channels)."""
    import tensorflow as tf

    branches = [lambda codec=codec: _decode_branch(codec, contents) for codec in _CODEC_BRANCHES]
    return tf.reduce_mean(tf.switch_case(codec_index, branches), axis=1)


def _resample_graph(mono, rate_in, rate_out, delay):
    """``tfio.audio.resample`` cut to ⌊n · out / in⌋ samples with its delay (:func:`tfio_resampler_delay`)
    removed: the input is padded with zeros so that the delayed tail is produced too."""
    import tensorflow as tf
    import tensorflow_io as tfio

    length_out = tf.shape(mono, out_type=tf.int64)[0] * rate_out // rate_in
    pad_in = ((delay + 2) * rate_in + rate_out - 1) // rate_out + 1
    padded = tf.concat([mono, tf.zeros(tf.reshape(pad_in, [1]), tf.float32)], axis=0)
    return tfio.audio.resample(padded, rate_in, rate_out)[delay: delay + length_out]


def tfio_decode(dataset, rate_out: int):
    """Read, decode, mix to mono and resample clips in the graph: a ``tf.data`` transformation.

    Args:
        dataset: elements ``((path, codec_index, rate_in, frames, delay), payload)`` — the scalars
            of a file's :class:`TfioSource` (``codec_index`` int32, the rest int64; ``delay`` from
            :func:`tfio_resampler_delay`) and anything to carry along (e.g. the targets).
        rate_out: the rate of the clips (equal rates skip the resampler).

    Returns:
        A dataset of ``(clip float32 [⌊frames · rate_out / rate_in⌋], payload)``, in order. The
        checks of :class:`AudioFileReader` fail with ``InputError: <path>: …`` in the error text:
        unreadable, undecodable, fewer samples than the header promises (more are cut to the
        header's count, as libsndfile does), NaN or infinite samples.
    """
    import tensorflow as tf

    parallel = {"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True}
    rate_out = tf.constant(int(rate_out), tf.int64)

    def read(source, payload):
        return _attempt(tf.io.read_file, source[0], tf.constant("")).map(lambda data, ok: (data, ok, source, payload))

    def readable(contents, ok, source, payload):
        return _fail_unless(ok, source[0], "file not found or unreadable", contents), source, payload

    def decode(contents, source, payload):
        mono = _attempt(lambda data: _decode_mono(data, source[1]), contents, tf.zeros([0], tf.float32))
        return mono.map(lambda audio, ok: (audio, ok, source, payload))

    def checked_and_resampled(mono, ok, source, payload):
        path, _, rate_in, frames, delay = source
        mono = _fail_unless(ok, path, "tensorflow-io cannot decode it (corrupt data?)", mono)
        count = tf.shape(mono, out_type=tf.int64)[0]
        shortfall = tf.strings.join(["truncated — the header promises ", tf.strings.as_string(frames),
                                     " samples, only ", tf.strings.as_string(count), " could be decoded"])
        mono = _fail_unless(count >= frames, path, shortfall, mono[:frames])
        mono = _fail_unless(tf.reduce_all(tf.math.is_finite(mono)), path, "contains NaN or infinite samples", mono)
        same_rate = tf.equal(rate_in, rate_out)
        return tf.cond(same_rate, lambda: mono, lambda: _resample_graph(mono, rate_in, rate_out, delay)), payload

    dataset = dataset.interleave(read, **parallel).map(readable, **parallel)
    return dataset.interleave(decode, **parallel).map(checked_and_resampled, **parallel)
