"""AVC samples cached as TFRecord shards (``kaudio avc prepare``) and read back as the same elements.

Decoding video is the expensive part of AVC training (the reference, marl/l3embedding, also
sampled once and trained from 1024-sample HDF5 files). :func:`prepare_shards` writes the samples
of one split of a videos folder to ``OUT``:

* ``OUT/split.json`` — the video-level split (:mod:`kaudio.data.avc.split`), shared by the splits;
* ``OUT/<split>-00000.tfrecord`` … — ``shard_size`` samples each (the last may hold fewer). Shard
  ``i`` is stream ``i`` of :func:`~kaudio.data.avc.pipeline.pair_dataset` (same seed, not
  shuffled: the reader shuffles): shards do not depend on each other, so a run can resume at
  any shard. Training shards hold augmented
  samples (fixed once written, as in the reference); val and test shards are not augmented.
* ``OUT/avc_<split>.json`` — what they were made with (the split's video set, settings, seed,
  shard size, encoding) and the list of complete shards.

Each example holds the frame as uint8 — raw bytes (``image_encoding="raw"``, default: exact, so
shards give exactly the streamed samples) or JPEG quality 95 (``"jpeg"``: smaller, lossy) — the
audio as little-endian int16 bytes, the 0/1 label and the metadata (video keys, window start,
frame time, gain, colour parameters).

Safe to interrupt and resume: a shard is written to a hidden temporary file and renamed when
complete (a killed run leaves no partial shard; its temporary files are removed by the next run);
running again keeps the complete shards and writes the others; asking for more samples only adds
shards (and rewrites a last partial one). Other settings, another seed or another video set are
refused with the differences named (``overwrite=True`` rewrites every shard).

:func:`read_shards` turns shards back into the elements of the streamed pipeline — in order
(equal to the streamed samples) for evaluation, or shuffled and endless for training.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from kaudio.data.avc.sampling import AVCSettings
from kaudio.data.avc.split import SPLIT_FILE, SPLIT_NAMES, SPLIT_SEED, load_or_make_split
from kaudio.errors import InputError, KaudioError

IMAGE_ENCODINGS = ("raw", "jpeg")
JPEG_QUALITY = 95
SETTINGS_VERSION = 1
DEFAULT_SAMPLES = 8192
DEFAULT_SHARD_SIZE = 1024
#: Settings whose difference makes shards unusable for a model or a protocol (checked by readers).
SAMPLE_FIELDS = ("frame", "negatives", "image_size", "resize_short_side", "sample_rate", "audio_samples")


def settings_file(folder: "str | os.PathLike", split: str) -> Path:
    return Path(folder) / f"avc_{split}.json"


def shard_name(split: str, index: int) -> str:
    return f"{split}-{index:05d}.tfrecord"


def shard_counts(samples: int, shard_size: int) -> list[int]:
    """Samples per shard: full shards, then the remainder."""
    return [min(shard_size, samples - start) for start in range(0, samples, shard_size)]


@dataclass
class ShardReport:
    """What :func:`prepare_shards` did.

    Attributes:
        split: the split written.
        written, kept: shards written now / already complete with the same settings.
        samples: samples in the split's shards.
        shards: the shard files, in order.
        videos: the split's videos; ``skipped``: ``(key, reason)`` of the folder's unusable videos.
        removed_temporaries: temporary files of an interrupted run removed.
        extra_shards: shard files of the split beyond the requested samples (left alone, not listed).
    """

    split: str
    written: int = 0
    kept: int = 0
    samples: int = 0
    shards: list[Path] = field(default_factory=list)
    videos: int = 0
    skipped: tuple = ()
    removed_temporaries: int = 0
    extra_shards: int = 0

    def summary(self) -> str:
        text = (f"{self.split}: {self.samples} samples in {len(self.shards)} shard(s) from {self.videos} videos "
                f"(wrote {self.written}, kept {self.kept}); skipped {len(self.skipped)} unusable video(s)")
        if self.extra_shards:
            text += f"; {self.extra_shards} shard file(s) beyond the requested samples left alone (not listed)"
        return text


class PrepareInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`prepare_shards`: ``done`` of ``total`` shards written now (each one complete)."""

    def __init__(self, done: int, total: int):
        super().__init__(f"interrupted after {done} of {total} shard(s)")
        self.done, self.total = done, total


def _check_arguments(split, samples, shard_size, image_encoding, settings: AVCSettings) -> None:
    problems = []
    if split not in SPLIT_NAMES:
        problems.append(f"split must be one of {', '.join(SPLIT_NAMES)}, got {split!r}")
    for name, value in (("samples", samples), ("shard size", shard_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"the {name} must be a positive integer, got {value!r}")
    if image_encoding not in IMAGE_ENCODINGS:
        problems.append(f"image encoding must be one of {', '.join(IMAGE_ENCODINGS)}, got {image_encoding!r}")
    if not problems and settings.negatives == "balanced" and (shard_size % 2 or samples % 2):
        problems.append(f"negatives: balanced alternates positives and negatives, so the samples ({samples}) and the "
                        f"shard size ({shard_size}) must be even")
    if problems:
        raise InputError("; ".join(problems))


def _record(split, seed, shard_size, image_encoding, settings: AVCSettings, videos) -> dict:
    from kaudio.data.avc.videos import fingerprint

    return {"version": SETTINGS_VERSION, "split": split, "seed": seed, "shard_size": shard_size,
            "image_encoding": image_encoding, "augment": split == "train", "settings": settings.record(),
            "videos": {"count": len(videos), "fingerprint": fingerprint(videos)}}


_OPTION = {"seed": "--seed", "shard_size": "--shard-size", "image_encoding": "--image-encoding"}


def _differences(old: dict, new: dict) -> list[str]:
    out = []
    for key in ("version", "seed", "shard_size", "image_encoding"):
        if old.get(key) != new[key]:
            out.append(f"{_OPTION.get(key, key)}: {old.get(key)} there, {new[key]} now")
    old_settings = old.get("settings") or {}
    for key, value in new["settings"].items():
        if old_settings.get(key) != value:
            out.append(f"{key}: {old_settings.get(key)} there, {value} now")
    if old.get("videos") != new["videos"]:
        was = (old.get("videos") or {}).get("count", "?")
        out.append(f"the split's videos changed ({was} then, {new['videos']['count']} now, or other names or sizes)")
    return out


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise KaudioError(f"{path}: cannot be read ({type(err).__name__}: {err})") from err
    if not isinstance(data, dict):
        raise KaudioError(f"{path}: not a kaudio AVC shards settings file")
    return data


# ----------------------------------------------------------------------------------------------
# Writing


def _example(inputs, target, meta, image_encoding: str) -> bytes:
    """One sample (numpy values of a raw ``pair_dataset`` element with metadata) as a ``tf.train.Example``."""
    import tensorflow as tf

    image = inputs["vision"]
    image_bytes = (tf.io.encode_jpeg(image, quality=JPEG_QUALITY).numpy() if image_encoding == "jpeg"
                   else image.tobytes())

    def data(value):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def integer(value):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))

    def real(values):
        return tf.train.Feature(float_list=tf.train.FloatList(value=list(map(float, values))))

    features = {"vision": data(image_bytes), "audio": data(inputs["audio"].astype("<i2").tobytes()),
                "match": integer(target["correspondence"][1] > 0.5), "audio_video": data(meta["audio_video"]),
                "audio_start": integer(meta["audio_start"]), "frame_video": data(meta["frame_video"]),
                "frame_time": real([meta["frame_time"]]), "gain": real([meta["gain"]]), "colour": real(meta["colour"])}
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def _write_shard(path: Path, dataset, image_encoding: str, on_sample) -> int:
    """Write a shard to a temporary file beside ``path`` and rename it when complete; returns its sample count."""
    import tensorflow as tf

    from kaudio.atomic import atomic_output

    count = 0
    with atomic_output(path) as temporary:
        with tf.io.TFRecordWriter(str(temporary)) as writer:
            for inputs, target, meta in dataset.as_numpy_iterator():
                writer.write(_example(inputs, target, meta, image_encoding))
                count += 1
                on_sample()
    return count


def prepare_shards(videos_dir: "str | os.PathLike", out_dir: "str | os.PathLike", *, split: str = "train",
                   samples: int = DEFAULT_SAMPLES, seed: int = 0, shard_size: int = DEFAULT_SHARD_SIZE,
                   settings: AVCSettings | None = None, image_encoding: str = "raw", split_seed: int = SPLIT_SEED,
                   val_fraction: float = 0.1, test_fraction: float = 0.1, overwrite: bool = False,
                   progress: bool = True, stream: TextIO | None = None) -> ShardReport:
    """Write (or complete) the shards of one split of a videos folder; see the module docstring.

    Args:
        videos_dir: the videos (searched recursively, probed: :func:`~kaudio.data.avc.videos.scan_videos`).
        out_dir: the shards folder (created).
        split: ``train``, ``val`` or ``test``.
        samples: samples to write.
        seed: the samples' seed.
        shard_size: samples per shard.
        settings: :class:`~kaudio.data.avc.sampling.AVCSettings` (default: the reference's).
        image_encoding: ``raw`` or ``jpeg``.
        split_seed, val_fraction, test_fraction: the video split (reused from ``out_dir/split.json``).
        overwrite: rewrite every shard even if the folder holds shards made otherwise.
        progress: a :class:`~kaudio.progress.Progress` indicator on ``stream`` (stderr).

    Raises:
        InputError: bad arguments or videos; KaudioError: shards or a split made otherwise
        (differences named); OutputError: the folder cannot be written; PrepareInterrupted: Ctrl-C.
    """
    from kaudio.data.avc.pipeline import pair_dataset
    from kaudio.data.avc.videos import scan_videos
    from kaudio.atomic import remove_stale_temporaries, write_text_atomic
    from kaudio.progress import Progress
    from kaudio.writable import ensure_writable_folder

    settings = (settings or AVCSettings()).check()
    _check_arguments(split, samples, shard_size, image_encoding, settings)
    out = ensure_writable_folder(out_dir, "shards folder")
    index = scan_videos(videos_dir)
    video_split = load_or_make_split(out / SPLIT_FILE, [v.key for v in index.videos], split_seed, val_fraction,
                                     test_fraction)
    by_key = index.by_key()
    videos = [by_key[key] for key in video_split[split]]
    if len(videos) < 2:
        raise InputError(f"the {split} split of {index.root} has {len(videos)} video(s) ({out / SPLIT_FILE}); AVC "
                         "pairs need at least 2")
    report = ShardReport(split=split, videos=len(videos), skipped=index.skipped,
                         removed_temporaries=remove_stale_temporaries(out))
    record = _record(split, seed, shard_size, image_encoding, settings, videos)
    path = settings_file(out, split)
    existing = {}
    if path.is_file():
        old = _read_json(path)
        differences = _differences(old, record)
        if differences and not overwrite:
            raise KaudioError(f"{out} holds {split} shards made otherwise: " + "; ".join(differences)
                              + ". Pass --overwrite to rewrite them, or choose another --out")
        if not differences:
            existing = {entry["file"]: entry["samples"] for entry in old.get("shards", [])}
    elif any(out.glob(f"{split}-*.tfrecord")) and not overwrite:
        raise KaudioError(f"{out} holds {split} shard files but no {path.name}, so they were not made by kaudio avc "
                          "prepare with known settings; pass --overwrite to replace them, or choose another --out")

    counts = shard_counts(samples, shard_size)
    done: list[dict] = []
    todo = []
    for i, count in enumerate(counts):
        name = shard_name(split, i)
        if not overwrite and existing.get(name) == count and (out / name).is_file():
            done.append({"file": name, "samples": count})
            report.kept += 1
        else:
            todo.append((i, count))

    def save_record():
        listed = sorted(done, key=lambda entry: entry["file"])
        write_text_atomic(path, json.dumps({**record, "samples": sum(e["samples"] for e in listed),
                                            "shards": listed}, indent=1) + "\n")

    if overwrite or not path.is_file():
        save_record()  # the settings first, so that the shards written next belong to a known record
    meter = Progress(sum(c for _, c in todo), f"{split} shards", "sample", stream=stream) if progress and todo else None
    try:
        for i, count in todo:
            dataset = pair_dataset(videos, settings, seed=seed, stream=i, augment=split == "train", shuffle=False,
                                   samples=count, raw=True, with_metadata=True)
            name = shard_name(split, i)
            written = _write_shard(out / name, dataset, image_encoding,
                                   (lambda: meter.add(1)) if meter else (lambda: None))
            if written != count:
                raise KaudioError(f"{out / name}: the pipeline gave {written} of {count} samples (videos that failed "
                                  "to decode?); see the warnings above")
            done[:] = [entry for entry in done if entry["file"] != name] + [{"file": name, "samples": count}]
            report.written += 1
            save_record()
    except KeyboardInterrupt as err:
        raise PrepareInterrupted(report.written, len(todo)) from err
    finally:
        if meter:
            meter.close()
    save_record()
    report.shards = [out / shard_name(split, i) for i in range(len(counts))]
    report.samples = samples
    listed = {p.name for p in report.shards}
    report.extra_shards = sum(1 for p in out.glob(f"{split}-*.tfrecord") if p.name not in listed)
    return report


# ----------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class ShardSet:
    """The shards of one split as recorded in ``avc_<split>.json``."""

    folder: Path
    split: str
    files: tuple[Path, ...]
    samples: int
    settings: AVCSettings
    image_encoding: str
    record: dict

    @classmethod
    def open(cls, folder: "str | os.PathLike", split: str) -> "ShardSet":
        """Read a split's record and check its shard files exist.

        Raises:
            InputError: no shards of ``split`` in ``folder`` (the splits it has named), or a listed file missing.
        """
        folder = Path(folder)
        path = settings_file(folder, split)
        if not path.is_file():
            have = sorted(p.stem[len("avc_"):] for p in folder.glob("avc_*.json"))
            raise InputError(f"{folder}: no {split} shards ({path.name} is missing; it has "
                             f"{', '.join(have) or 'no shards'}); make them with: kaudio avc prepare VIDEOS --out "
                             f"{folder} --split {split}")
        record = _read_json(path)
        try:
            settings = AVCSettings(**record["settings"])
            files = tuple(folder / entry["file"] for entry in record["shards"])
            samples = sum(int(entry["samples"]) for entry in record["shards"])
            encoding = record["image_encoding"]
        except (KeyError, TypeError, ValueError) as err:
            raise KaudioError(f"{path}: not a kaudio AVC shards settings file ({type(err).__name__}: {err})") from err
        missing = [p.name for p in files if not p.is_file()]
        if missing:
            raise InputError(f"{folder}: {len(missing)} shard(s) listed in {path.name} are missing "
                             f"({', '.join(missing[:5])}); run kaudio avc prepare again to rewrite them")
        if not files:
            raise InputError(f"{folder}: {path.name} lists no complete shard yet; run kaudio avc prepare to write them")
        return cls(folder, split, files, samples, settings, encoding, record)

    def check_settings(self, wanted: AVCSettings) -> None:
        """Refuse shards whose samples differ from what ``wanted`` describes (sizes, frame, negatives)."""
        differences = [f"{name}: {getattr(self.settings, name)} in the shards, {getattr(wanted, name)} wanted"
                       for name in SAMPLE_FIELDS if getattr(self.settings, name) != getattr(wanted, name)]
        if differences:
            raise InputError(f"{self.folder}: the {self.split} shards were made with other settings: "
                             + "; ".join(differences) + "; prepare shards with these settings")


def read_shards(folder: "str | os.PathLike", split: str = "train", *, shuffle: bool | None = None,
                repeat: bool | None = None, seed: int = 0, order=None, samples: int | None = None, raw: bool = False,
                with_metadata: bool = False, batch_size: int | None = None, drop_remainder: bool = True,
                prefetch: bool = True):
    """The samples of a split's shards as :func:`~kaudio.data.avc.pipeline.pair_dataset` elements.

    Args:
        folder: a shards folder written by :func:`prepare_shards`.
        split: ``train``, ``val`` or ``test``.
        shuffle: shuffle the shard order (per pass, seeded) and the samples (a buffer of the
            shards' ``shuffle_buffer``); default: for ``train`` only. With ``balanced`` shards the
            positive–negative pairs are shuffled as units, so even batches stay exactly balanced.
        repeat: endless passes; default: for ``train`` only.
        seed: the shuffles' seed.
        order: with ``shuffle``, a scalar int64 tensor that draws the shard order (a stateless shuffle: the same
            value, the same order) instead of reshuffling with ``seed`` on each pass — a pass of
            :func:`~kaudio.data.avc.source.training_passes` draws it.
        samples: take only the first ``samples`` samples.
        raw, with_metadata, batch_size, drop_remainder, prefetch: as for ``pair_dataset``.
    """
    import tensorflow as tf

    from kaudio.data.avc.augment import AUDIO_KEY, TARGET_KEY, VISION_KEY, one_hot_label
    from kaudio.data.avc.pipeline import finish_pairs

    shards = ShardSet.open(folder, split)
    settings = shards.settings
    shuffle = split == "train" if shuffle is None else shuffle
    repeat = split == "train" if repeat is None else repeat
    size, window = settings.image_size, settings.audio_samples
    if batch_size is not None and settings.negatives == "balanced" and batch_size % 2:
        raise InputError(f"these shards are balanced (negatives: balanced): use an even batch size, got {batch_size}")
    features = {"vision": tf.io.FixedLenFeature([], tf.string), "audio": tf.io.FixedLenFeature([], tf.string),
                "match": tf.io.FixedLenFeature([], tf.int64), "audio_video": tf.io.FixedLenFeature([], tf.string),
                "audio_start": tf.io.FixedLenFeature([], tf.int64), "frame_video": tf.io.FixedLenFeature([], tf.string),
                "frame_time": tf.io.FixedLenFeature([], tf.float32), "gain": tf.io.FixedLenFeature([], tf.float32),
                "colour": tf.io.FixedLenFeature([5], tf.float32)}
    jpeg = shards.image_encoding == "jpeg"

    def parse(serialized):
        example = tf.io.parse_single_example(serialized, features)
        if jpeg:
            image = tf.io.decode_jpeg(example["vision"], channels=3)
        else:
            image = tf.io.decode_raw(example["vision"], tf.uint8)
        image = tf.reshape(image, (size, size, 3))
        audio = tf.reshape(tf.io.decode_raw(example["audio"], tf.int16, little_endian=True), (window, 1))
        meta = {"audio_video": example["audio_video"], "audio_start": example["audio_start"],
                "frame_video": example["frame_video"], "frame_time": tf.cast(example["frame_time"], tf.float64),
                "gain": example["gain"], "colour": example["colour"]}
        return {VISION_KEY: image, AUDIO_KEY: audio}, {TARGET_KEY: one_hot_label(example["match"])}, meta

    names = tf.constant([str(p) for p in shards.files])
    if shuffle and order is not None:
        key = tf.stack([tf.cast(order, tf.int64), tf.constant(seed, tf.int64)])
        names = tf.random.experimental.stateless_shuffle(names, key)
    files = tf.data.Dataset.from_tensor_slices(names)
    if shuffle and order is None:
        files = files.shuffle(len(shards.files), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        files = files.repeat()
    if shuffle:  # read a few shards at once, (positive, negative) pairs of balanced shards kept together
        records = files.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(shards.files)),
                                   block_length=2 if settings.negatives == "balanced" else 1,
                                   num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:  # shard after shard: the streamed order
        records = files.flat_map(tf.data.TFRecordDataset)
    if shuffle and settings.shuffle_buffer > 1:
        if settings.negatives == "balanced":  # keep (positive, negative) pairs together
            records = records.batch(2, drop_remainder=True).shuffle(max(settings.shuffle_buffer // 2, 1), seed=seed)
            records = records.unbatch()
        else:
            records = records.shuffle(settings.shuffle_buffer, seed=seed)
    dataset = records.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return finish_pairs(dataset, samples=samples, raw=raw, with_metadata=with_metadata, batch_size=batch_size,
                        drop_remainder=drop_remainder, prefetch=prefetch)
