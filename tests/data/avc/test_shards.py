"""kaudio.data.avc.shards: AVC samples as TFRecord shards (prepare: atomic, resumable; read: the streamed elements)."""
import dataclasses
import json
import os

import numpy as np
import pytest

from kaudio.data.avc import PrepareInterrupted, pair_dataset, prepare_shards, read_shards
from kaudio.data.avc import shards as shards_module
from kaudio.data.avc.shards import ShardSet
from kaudio.errors import InputError, KaudioError
from tests.data.avc.conftest import SMALL

pytestmark = pytest.mark.filterwarnings("ignore:.*usable video")  # the folder's three bad videos


def prepare(videos_dir, out, **options):
    options = {"samples": 10, "shard_size": 4, "settings": SMALL, "progress": False, "val_fraction": 0.0,
               "test_fraction": 0.0, **options}
    return prepare_shards(videos_dir, out, **options)


def as_list(dataset):
    return list(dataset.as_numpy_iterator())


def assert_same(streamed, read):
    assert len(streamed) == len(read)
    for (x1, y1, m1), (x2, y2, m2) in zip(streamed, read):
        np.testing.assert_array_equal(x1["vision"], x2["vision"])
        np.testing.assert_array_equal(x1["audio"], x2["audio"])
        np.testing.assert_array_equal(y1["correspondence"], y2["correspondence"])
        assert (m1["audio_video"], m1["frame_video"], m1["audio_start"]) == (m2["audio_video"], m2["frame_video"],
                                                                               m2["audio_start"])
        assert m1["frame_time"] == pytest.approx(m2["frame_time"], abs=1e-6)
        np.testing.assert_allclose(m1["colour"], m2["colour"], rtol=1e-6)


def test_shards_read_back_as_the_streamed_samples(videos_dir, index, tmp_path):
    report = prepare(videos_dir, tmp_path / "shards", seed=7)
    assert report.summary() == ("train: 10 samples in 3 shard(s) from 5 videos (wrote 3, kept 0); skipped 3 unusable "
                                "video(s)")
    assert [p.name for p in report.shards] == ["train-00000.tfrecord", "train-00001.tfrecord", "train-00002.tfrecord"]
    record = json.loads((tmp_path / "shards" / "avc_train.json").read_text())
    assert [s["samples"] for s in record["shards"]] == [4, 4, 2] and record["settings"]["image_size"] == 32
    split = json.loads((tmp_path / "shards" / "split.json").read_text())
    videos = [index.by_key()[key] for key in split["train"]]
    streamed = []
    for shard, count in enumerate([4, 4, 2]):  # shard i is stream i of the pipeline
        streamed += as_list(pair_dataset(videos, SMALL, seed=7, stream=shard, samples=count, shuffle=False,
                                         with_metadata=True))
    assert_same(streamed, as_list(read_shards(tmp_path / "shards", "train", shuffle=False, repeat=False,
                                              with_metadata=True)))
    training = read_shards(tmp_path / "shards", "train", batch_size=4)  # shuffled and endless
    batches = [batch for _, batch in zip(range(6), training)]
    assert len(batches) == 6 and batches[0][0]["vision"].shape == (4, 32, 32, 3)


def test_jpeg_shards_are_close_and_smaller(videos_dir, tmp_path):
    prepare(videos_dir, tmp_path / "raw", samples=4)
    prepare(videos_dir, tmp_path / "jpeg", samples=4, image_encoding="jpeg")
    raw, jpeg = (as_list(read_shards(tmp_path / name, "train", shuffle=False, repeat=False))
                 for name in ("raw", "jpeg"))
    for (x1, _), (x2, _) in zip(raw, jpeg):
        assert np.abs(x1["vision"] - x2["vision"]).max() < 0.1  # flat colours: JPEG is nearly exact
        np.testing.assert_array_equal(x1["audio"], x2["audio"])
    size = {name: (tmp_path / name / "train-00000.tfrecord").stat().st_size for name in ("raw", "jpeg")}
    assert size["jpeg"] < size["raw"]


def test_interrupted_prepare_resumes(videos_dir, tmp_path, monkeypatch):
    out = tmp_path / "shards"
    example, calls = shards_module._example, []

    def interrupting(*args):
        calls.append(1)
        if len(calls) == 6:  # in the middle of the second shard
            raise KeyboardInterrupt
        return example(*args)

    monkeypatch.setattr(shards_module, "_example", interrupting)
    with pytest.raises(PrepareInterrupted) as caught:
        prepare(videos_dir, out)
    assert (caught.value.done, caught.value.total) == (1, 3)
    assert sorted(os.listdir(out)) == ["avc_train.json", "split.json", "train-00000.tfrecord"]  # nothing partial
    assert [s["file"] for s in json.loads((out / "avc_train.json").read_text())["shards"]] == ["train-00000.tfrecord"]
    monkeypatch.setattr(shards_module, "_example", example)
    report = prepare(videos_dir, out)
    assert (report.written, report.kept) == (2, 1)
    uninterrupted = tmp_path / "once"
    prepare(videos_dir, uninterrupted)
    assert_same(as_list(read_shards(out, "train", shuffle=False, repeat=False, with_metadata=True)),
                as_list(read_shards(uninterrupted, "train", shuffle=False, repeat=False, with_metadata=True)))
    # more samples later: full shards are kept, the partial last one is rewritten
    report = prepare(videos_dir, out, samples=12)
    assert (report.written, report.kept, report.samples) == (1, 2, 12)
    assert ShardSet.open(out, "train").samples == 12


def test_other_settings_are_refused_naming_the_difference(videos_dir, tmp_path):
    out = tmp_path / "shards"
    prepare(videos_dir, out, samples=4)
    with pytest.raises(KaudioError, match=r"--seed: 0 there, 1 now; frame: window there, last now.*--overwrite"):
        prepare(videos_dir, out, samples=4, seed=1, settings=dataclasses.replace(SMALL, frame="last"))
    report = prepare(videos_dir, out, samples=4, seed=1, overwrite=True)
    assert report.written == 1
    with pytest.raises(KaudioError, match="split seed 20180118, not 5"):
        prepare(videos_dir, out, samples=4, seed=1, split_seed=5)
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "val-00000.tfrecord").write_bytes(b"")
    with pytest.raises(KaudioError, match="holds val shard files but no avc_val.json"):
        prepare(videos_dir, stray, split="val", samples=2, val_fraction=0.4)


def test_argument_and_reader_errors(videos_dir, tmp_path):
    with pytest.raises(InputError, match="split must be one of train, val, test.*samples must be a positive"):
        prepare(videos_dir, tmp_path / "x", split="valid", samples=0)
    with pytest.raises(InputError, match="balanced .* must be even"):
        prepare(videos_dir, tmp_path / "x", samples=5, settings=dataclasses.replace(SMALL, negatives="balanced"))
    with pytest.raises(InputError, match="the val split .* has 0 video"):
        prepare(videos_dir, tmp_path / "y", split="val")
    with pytest.raises(InputError, match=r"no test shards \(avc_test.json is missing; it has no shards\)"):
        read_shards(tmp_path / "y", "test")
    out = tmp_path / "z"
    prepare(videos_dir, out, samples=4)
    (out / "train-00000.tfrecord").unlink()
    with pytest.raises(InputError, match="1 shard.* listed in avc_train.json are missing"):
        read_shards(out, "train")


def test_balanced_shards_stay_balanced_when_shuffled(videos_dir, tmp_path):
    settings = dataclasses.replace(SMALL, negatives="balanced", shuffle_buffer=6)
    prepare(videos_dir, tmp_path / "b", samples=12, settings=settings)
    batches = [y for _, (_, y) in zip(range(6), read_shards(tmp_path / "b", "train", batch_size=4, seed=3))]
    assert all(y["correspondence"][:, 1].numpy().sum() == 2 for y in batches)
    with pytest.raises(InputError, match="even batch size"):
        read_shards(tmp_path / "b", "train", batch_size=3)
