"""One entry point for AVC training data: a folder of videos or a folder of shards (:func:`open_avc_data`).

Both give ``dataset(split, ...)`` with the elements of :func:`~kaudio.data.avc.pipeline.pair_dataset`:

* ``train``: endless, augmented, shuffled (streamed from the videos, or the training shards
  reshuffled on every pass);
* ``val`` / ``test``: a **fixed** sample set, the same samples in the same order on every pass —
  from videos, ``samples`` pairs drawn with a fixed seed without augmentation and cached in
  memory after the first pass (decoded once); from shards, the split's shards in order.
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
