"""AVC pairs streamed from videos as a ``tf.data`` pipeline (:func:`pair_dataset`).

::

    activations (video, partner, round) ─ Python generator, every round a new order of the videos
      └─ interleave(cycle_length, block_length 1, parallel): per activation a from_generator over
         kaudio.data.avc.sampling.activation_samples (PyAV decodes only the frames and windows used)
           └─ shuffle(shuffle_buffer, seeded; training only, not when writing shards)
              └─ [balanced: a positive and a negative stream, alternated]
                 └─ map: colour augmentation (training only) → uint8 frame, int16 audio  ("raw")
                    └─ [take(samples) → cache]  └─ map: float inputs in [−1, 1]  └─ [batch] → prefetch

Memory is bounded by the open activations (``cycle_length`` × ``samples_per_activation``
resized frames), the shuffle buffer and the prefetched batches — never by the number or length
of the videos.

Elements: ``({"vision": (S, S, 3), "audio": (n, 1)}, {"correspondence": (2,)})`` — the input
names are the towers of ``specs/l3_avc_m256.yaml`` (``model.input`` is a dict keyed by tower);
the model has one output, so Keras reads the single target; a kaudio loss that reads
``labels`` can be given ``{"labels": y["correspondence"]}``. ``raw=True`` keeps the stored
dtypes (uint8 frame, int16 audio), as shards hold them.

Determinism: with ``settings.deterministic`` (default) the same seed gives the same samples in
the same order — every sample's random choices come from its activation's own seed
(:mod:`kaudio.data.avc.sampling`), the interleave keeps its cycle order however many threads
decode, and the shuffle is seeded. A second pass over the same dataset object is reshuffled
(``reshuffle_each_iteration``), identically for the same seed; unshuffled datasets (augment off,
or ``shuffle=False``) repeat exactly. With ``deterministic=False`` the
interleave hands out whichever activation is ready first: each activation still yields the same
samples, but the order (and so which samples a ``take(n)`` keeps and how batches mix) varies
from run to run. Decoding itself is deterministic (FFmpeg, soxr), on one machine and FFmpeg build.
"""
from __future__ import annotations

import atexit
import threading
import time
from typing import Sequence

import numpy as np

from kaudio.data.avc.augment import AUDIO_KEY, TARGET_KEY, VISION_KEY, colour_jitter, model_inputs, one_hot_label
from kaudio.data.avc.sampling import COINS, NEGATIVE, POSITIVE, AVCSettings, activation_samples, activations
from kaudio.data.avc.videos import VideoInfo
from kaudio.errors import InputError


def _signature(settings: AVCSettings) -> dict:
    import tensorflow as tf

    size = settings.image_size
    return {"image": tf.TensorSpec((size, size, 3), tf.uint8),
            "audio": tf.TensorSpec((settings.audio_samples,), tf.int16),
            "match": tf.TensorSpec((), tf.int32), "colour": tf.TensorSpec((5,), tf.float32),
            "audio_video": tf.TensorSpec((), tf.int32), "audio_start": tf.TensorSpec((), tf.int64),
            "frame_video": tf.TensorSpec((), tf.int32), "frame_time": tf.TensorSpec((), tf.float64),
            "gain": tf.TensorSpec((), tf.float32)}


class _Shutdown:
    """Ends every stream when the interpreter exits.

    The generators run Python inside tf.data's C++ threads. An endless stream whose iterator is
    still alive at exit (a script that trains for a number of steps and returns) keeps those
    threads calling into Python while the interpreter finalises, and the process hangs. At exit
    (``atexit``, registered after TensorFlow so that it runs before TensorFlow's own handlers) the
    generators are told to stop and the activations being decoded are waited for (a few seconds
    at most), so the pipelines end and their threads fall idle before finalisation.
    """

    stop = threading.Event()
    lock = threading.Lock()
    active = 0
    registered = False

    @classmethod
    def register(cls) -> None:
        with cls.lock:
            if not cls.registered:
                atexit.register(cls.drain)
                cls.registered = True

    @classmethod
    def drain(cls, timeout_s: float = 30.0) -> None:
        cls.stop.set()
        deadline = time.monotonic() + timeout_s
        while cls.active and time.monotonic() < deadline:
            time.sleep(0.01)

    @classmethod
    def generator(cls, make):
        """Iterate ``make()`` until it ends or the interpreter exits; each step (not the pauses
        between them) counts as active."""
        items, end = iter(make()), object()
        while not cls.stop.is_set():
            with cls.lock:
                cls.active += 1
            try:
                item = next(items, end)
            finally:
                with cls.lock:
                    cls.active -= 1
            if item is end:
                return
            yield item


def _shuffle_seed(seed: int, stream, kind: int) -> int:
    """The seed of a stream's shuffle buffer: from ``(seed, stream, kind)``; from ``(seed, kind)`` when ``stream`` is
    a tensor (a pass of :func:`kaudio.data.avc.source.training_passes`: its samples differ from pass to pass, the
    buffer's permutation need not — and ``Dataset.shuffle`` refuses a tensor seed while TensorFlow's global seed is 0)."""
    if isinstance(stream, (int, np.integer)):
        return int(np.random.default_rng([seed, int(stream), kind, 3]).integers(2 ** 31))
    return int(np.random.default_rng([seed, kind, 4]).integers(2 ** 31))


def _stream(videos: Sequence[VideoInfo], settings: AVCSettings, seed: int, stream, kind: int, augment: bool,
            shuffle: bool):
    """The interleaved samples of one stream kind (both labels, positives only or negatives only); ``stream``
    an integer or a scalar int64 tensor (the generators receive it as an argument)."""
    import tensorflow as tf

    signature = _signature(settings)
    _Shutdown.register()
    stream_value = tf.cast(stream, tf.int64)

    def decoded(video, partner, round_index, stream_index):
        for s in activation_samples(videos, settings, seed, int(stream_index), kind, int(video), int(partner),
                                    int(round_index), augment):
            yield {"image": s.image, "audio": s.audio, "match": np.int32(s.match), "colour": s.colour,
                   "audio_video": np.int32(s.audio_video), "audio_start": np.int64(s.audio_start),
                   "frame_video": np.int32(s.frame_video), "frame_time": np.float64(s.frame_time),
                   "gain": np.float32(s.gain)}

    def generate(video, partner, round_index, stream_index):
        return _Shutdown.generator(lambda: decoded(video, partner, round_index, stream_index))

    task = tf.TensorSpec((), tf.int64)
    tasks = tf.data.Dataset.from_generator(
        lambda stream_index: _Shutdown.generator(lambda: activations(len(videos), seed, int(stream_index), kind)),
        args=(stream_value,), output_signature=(task, task, task))
    samples = tasks.interleave(
        lambda video, partner, round_index: tf.data.Dataset.from_generator(
            generate, args=(video, partner, round_index, stream_value), output_signature=signature),
        cycle_length=settings.cycle_length, block_length=1, num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=settings.deterministic)
    if shuffle and settings.shuffle_buffer > 1:
        samples = samples.shuffle(settings.shuffle_buffer, seed=_shuffle_seed(seed, stream, kind))
    return samples


def pair_dataset(videos: Sequence[VideoInfo], settings: AVCSettings | None = None, *, seed: int = 0, stream: int = 0,
                 augment: bool = True, shuffle: bool | None = None, samples: int | None = None, cache: bool = False,
                 raw: bool = False,
                 with_metadata: bool = False, batch_size: int | None = None, drop_remainder: bool = True,
                 prefetch: bool = True):
    """AVC pairs from ``videos`` (one split's :class:`~kaudio.data.avc.videos.VideoInfo` list).

    Args:
        videos: at least two videos (each needs a partner).
        settings: :class:`~kaudio.data.avc.sampling.AVCSettings` (default: the reference's).
        seed: every random choice and the partners derive from it.
        stream: an independent stream of the same videos and partners (shard ``i`` is stream ``i``); an
            integer >= 0, or a scalar int64 tensor (e.g. drawn per pass inside a ``tf.data`` function).
        augment: the training augmentation (random crop, flip, colour, gain); off: centre crop, nothing else.
        shuffle: shuffle the interleaved samples (``settings.shuffle_buffer``; default: when augmenting).
            Shards are written unshuffled (their reader shuffles).
        samples: stop after this many samples (default: endless).
        cache: keep the first ``samples`` in memory as stored (uint8 / int16) after the first pass:
            a fixed validation set that is decoded once.
        raw: keep the stored dtypes (uint8 frame, int16 audio) instead of float inputs.
        with_metadata: add a third element ``{"audio_video", "frame_video"`` (video keys),
            ``"audio_start"`` (sample), ``"frame_time"`` (s), ``"gain"``, ``"colour"}`` (for
            inspection and shards; Keras would read a third element as sample weights).
        batch_size: batch the elements (``balanced`` needs an even size to hold exactly half).
        drop_remainder: drop a last partial batch.
        prefetch: prefetch (AUTOTUNE) at the end.

    Raises:
        InputError: bad settings, fewer than two videos, an odd batch size with ``balanced``,
            ``cache`` without ``samples``.
    """
    import tensorflow as tf

    settings = (settings or AVCSettings()).check()
    if len(videos) < 2:
        raise InputError(f"AVC pairs need at least 2 videos (each is paired with another), got {len(videos)}")
    if cache and samples is None:
        raise InputError("cache=True needs a number of samples (an endless stream cannot be cached)")
    if batch_size is not None and settings.negatives == "balanced" and batch_size % 2:
        raise InputError(f"negatives: balanced needs an even batch size (half positives, half negatives), "
                         f"got {batch_size}")
    shuffle = augment if shuffle is None else shuffle
    if settings.negatives == "balanced":
        streams = [_stream(videos, settings, seed, stream, kind, augment, shuffle) for kind in (POSITIVE, NEGATIVE)]
        dataset = tf.data.Dataset.choose_from_datasets(streams, tf.data.Dataset.range(2).repeat())
    else:
        dataset = _stream(videos, settings, seed, stream, COINS, augment, shuffle)
    keys = tf.constant([video.key for video in videos])

    def stored(element):
        image = colour_jitter(element["image"], element["colour"]) if augment else element["image"]
        inputs = {VISION_KEY: image, AUDIO_KEY: element["audio"][:, None]}
        targets = {TARGET_KEY: one_hot_label(element["match"])}
        meta = {"audio_video": tf.gather(keys, element["audio_video"]), "audio_start": element["audio_start"],
                "frame_video": tf.gather(keys, element["frame_video"]), "frame_time": element["frame_time"],
                "gain": element["gain"], "colour": element["colour"]}
        return inputs, targets, meta

    dataset = dataset.map(stored, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return finish_pairs(dataset, samples=samples, cache=cache, raw=raw, with_metadata=with_metadata,
                        batch_size=batch_size, drop_remainder=drop_remainder, prefetch=prefetch)


def finish_pairs(dataset, *, samples: int | None, raw: bool, with_metadata: bool, batch_size: int | None,
                 drop_remainder: bool, prefetch: bool, cache: bool = False):
    """The common end of the pair datasets (streamed from videos or read from shards): ``(stored
    inputs, targets, metadata)`` elements → the first ``samples`` (optionally cached) → model inputs
    unless ``raw`` → without the metadata unless ``with_metadata`` → batched → prefetched."""
    import tensorflow as tf

    if samples is not None:
        dataset = dataset.take(int(samples))
    if cache:
        dataset = dataset.cache()
    if not raw:
        dataset = dataset.map(lambda x, y, meta: (*model_inputs(x, y), meta), num_parallel_calls=tf.data.AUTOTUNE,
                              deterministic=True)
    if not with_metadata:
        dataset = dataset.map(lambda x, y, meta: (x, y))
    if batch_size is not None:
        dataset = dataset.batch(int(batch_size), drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE) if prefetch else dataset
