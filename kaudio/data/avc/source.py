"""One entry point for AVC training data: a folder of videos or a folder of shards (:func:`open_avc_data`).

Both give ``dataset(split, ...)`` with the elements of :func:`~kaudio.data.avc.pipeline.pair_dataset`:

* ``train``: endless, augmented, shuffled (streamed from the videos, or the training shards
  reshuffled on every pass);
* ``val`` / ``test``: a **fixed** sample set, the same samples in the same order on every pass —
  from videos, ``samples`` pairs drawn with a fixed seed without augmentation and cached in
  memory after the first pass (decoded once); from shards, the split's shards in order.

Epochs of an endless stream (:func:`training_passes`): Keras trains on a finite dataset repeated
(:func:`kaudio.fit` iterates ``train_ds.repeat()`` with ``steps_per_epoch``), and a ``take(n)`` of
the endless stream would restart it identically on every pass — epoch 2 would replay epoch 1's
pairs. :func:`training_passes` gives ``n`` batches whose pass ``k`` is a new part of the stream:
each pass draws a number from ``tf.data.Dataset.random(seed, rerandomize_each_iteration=True)``
and streams that many-th independent stream of the same videos and partners (videos: the
``stream`` of :func:`~kaudio.data.avc.pipeline.pair_dataset`; shards: the shard order, ``order`` of
:func:`~kaudio.data.avc.shards.read_shards`, so each pass reads the shards in another order through
the same shuffle buffer). The draws advance with every iterator opened on the dataset, so pass ``k`` of a
dataset built the same way is always the same — a resumed run that skips its finished passes
(:func:`kaudio.training.fit.skip_passes`) trains on exactly the pairs an uninterrupted run would.
What cannot be resumed is the *position inside* one endless generator-based stream (its Python
generators and decoder state are not checkpointable); the pass-wise streams make that unnecessary.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kaudio.data.avc.sampling import AVCSettings
from kaudio.data.avc.split import SPLIT_FILE, SPLIT_NAMES, SPLIT_SEED, load_or_make_split
from kaudio.data.avc.videos import VideoIndex, VideoInfo
from kaudio.errors import InputError

#: Samples of a streamed validation / test set unless told otherwise (the reference validated on 65,536).
EVAL_SAMPLES = 1024
#: Training passes draw their stream number below this (non-negative for numpy's seed sequences).
PASS_STREAMS = 2 ** 31


def _check_split(split: str) -> None:
    if split not in SPLIT_NAMES:
        raise InputError(f"split must be one of {', '.join(SPLIT_NAMES)}, got {split!r}")


@dataclass
class AVCVideos:
    """The usable videos of a folder, their video-level split, and the pair datasets of each split.

    Attributes:
        index: the scanned folder (:class:`~kaudio.data.avc.videos.VideoIndex`).
        split: ``{"train": [keys], "val": [...], "test": [...]}``.
        settings: how pairs are made.
    """

    index: VideoIndex
    split: dict
    settings: AVCSettings

    @classmethod
    def load(cls, folder: "str | os.PathLike", run_dir: "str | os.PathLike | None" = None,
             settings: AVCSettings | None = None, split_seed: int = SPLIT_SEED, val_fraction: float = 0.1,
             test_fraction: float = 0.1) -> "AVCVideos":
        """Scan ``folder`` and split its videos; with ``run_dir`` the split is saved as / read from
        ``run_dir/split.json`` (a different video set is refused, naming the difference)."""
        from kaudio.data.avc.split import split_videos
        from kaudio.data.avc.videos import scan_videos

        settings = (settings or AVCSettings()).check()
        index = scan_videos(folder)
        keys = [video.key for video in index.videos]
        if run_dir is None:
            split = split_videos(keys, split_seed, val_fraction, test_fraction)
        else:
            split = load_or_make_split(Path(run_dir) / SPLIT_FILE, keys, split_seed, val_fraction, test_fraction)
        return cls(index, split, settings)

    def videos(self, split: str) -> list[VideoInfo]:
        _check_split(split)
        by_key = self.index.by_key()
        return [by_key[key] for key in self.split[split]]

    def dataset(self, split: str, *, seed: int = 0, samples: int | None = None, batch_size: int | None = None,
                raw: bool = False, with_metadata: bool = False, drop_remainder: bool = True):
        """The pairs of ``split`` (see the module docstring); ``samples`` bounds ``train`` (endless by
        default) and sizes ``val`` / ``test`` (default :data:`EVAL_SAMPLES`)."""
        from kaudio.data.avc.pipeline import pair_dataset

        videos = self.videos(split)
        if len(videos) < 2:
            raise InputError(f"the {split} split has {len(videos)} video(s); AVC pairs need at least 2 (add videos or "
                             "change the split fractions)")
        training = split == "train"
        return pair_dataset(videos, self.settings, seed=seed, augment=training,
                            samples=samples if training else (samples or EVAL_SAMPLES), cache=not training,
                            raw=raw, with_metadata=with_metadata, batch_size=batch_size,
                            drop_remainder=drop_remainder)

    def training_pass(self, seed: int, stream, batch_size: int):
        """Training stream number ``stream`` (an int64 tensor) of the same videos and partners (``seed``), batched."""
        from kaudio.data.avc.pipeline import pair_dataset

        videos = self.videos("train")
        if len(videos) < 2:
            raise InputError(f"the train split has {len(videos)} video(s); AVC pairs need at least 2 (add videos or "
                             "change the split fractions)")
        return pair_dataset(videos, self.settings, seed=seed, stream=stream, augment=True, batch_size=batch_size,
                            prefetch=False)


@dataclass
class AVCShards:
    """A shards folder written by ``kaudio avc prepare`` (:func:`~kaudio.data.avc.shards.prepare_shards`)."""

    folder: Path

    def settings(self, split: str) -> AVCSettings:
        from kaudio.data.avc.shards import ShardSet

        return ShardSet.open(self.folder, split).settings

    def dataset(self, split: str, *, seed: int = 0, samples: int | None = None, batch_size: int | None = None,
                raw: bool = False, with_metadata: bool = False, drop_remainder: bool = True):
        """The shards of ``split`` (``train``: shuffled and endless; ``val`` / ``test``: in order, once);
        ``samples`` takes the first ones."""
        from kaudio.data.avc.shards import read_shards

        _check_split(split)
        return read_shards(self.folder, split, seed=seed, samples=samples, raw=raw, with_metadata=with_metadata,
                           batch_size=batch_size, drop_remainder=drop_remainder)

    def training_pass(self, seed: int, stream, batch_size: int):
        """The training shards, endless and shuffled, in the shard order drawn from ``stream`` (an int64 tensor
        drawn per pass), batched."""
        from kaudio.data.avc.shards import read_shards

        return read_shards(self.folder, "train", seed=seed, order=stream, batch_size=batch_size, prefetch=False)


def is_shards_folder(path: "str | os.PathLike") -> bool:
    """Whether ``path`` holds AVC shards (an ``avc_<split>.json``)."""
    path = Path(path)
    return path.is_dir() and any(path.glob("avc_*.json"))


def open_avc_data(path: "str | os.PathLike", run_dir: "str | os.PathLike | None" = None,
                  settings: AVCSettings | None = None, **split_options) -> AVCVideos | AVCShards:
    """A shards folder (:class:`AVCShards`, checked against ``settings`` when given: sizes, frame
    and negatives must agree) or a videos folder (:class:`AVCVideos`, split into ``run_dir``)."""
    if is_shards_folder(path):
        from kaudio.data.avc.shards import ShardSet

        shards = AVCShards(Path(path))
        if settings is not None:
            for split in SPLIT_NAMES:
                try:
                    found = ShardSet.open(path, split)
                except InputError:
                    continue  # a split without shards fails when its dataset is asked for
                found.check_settings(settings)
        return shards
    return AVCVideos.load(path, run_dir, settings, **split_options)


def training_passes(data: "AVCVideos | AVCShards", batches: int, batch_size: int, seed: int = 0):
    """``batches`` training batches of ``data`` as a finite dataset whose every pass continues with new pairs.

    Pass ``k`` (epoch ``k`` when :func:`kaudio.fit` trains on ``dataset.repeat()``) is the ``k``-th
    draw's stream (module docstring): a new part of the endless augmented stream, never a replay of
    pass ``k - 1``, and the same for every dataset built with the same ``seed`` (resume). The
    cardinality is known, so counting the batches of an epoch decodes nothing.

    Args:
        data: :func:`open_avc_data`'s result.
        batches: batches per pass (``train.steps_per_epoch``).
        batch_size: pairs per batch.
        seed: the run's seed (partners of the videos, the per-pass draws). TensorFlow's global seed
            also enters tf.data's seeded random ops, so it is set to ``seed`` as well.
    """
    import tensorflow as tf

    if isinstance(batches, bool) or not isinstance(batches, int) or batches < 1:
        raise InputError(f"batches per pass must be a positive integer, got {batches!r}")
    tf.random.set_seed(seed)
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    passes = draws.flat_map(
        lambda draw: data.training_pass(seed, tf.math.floormod(draw, PASS_STREAMS), batch_size).take(batches))
    return passes.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(tf.data.AUTOTUNE)
