"""kaudio.data.avc.source: one entry point for a videos folder or a shards folder."""
import dataclasses
import json

import numpy as np
import pytest

from kaudio.data.avc import AVCShards, AVCVideos, open_avc_data, prepare_shards
from kaudio.errors import InputError, KaudioError
from tests.data.avc.conftest import SMALL, write_good

pytestmark = pytest.mark.filterwarnings("ignore:.*usable video")


def test_videos_folder_split_saved_in_the_run_folder(videos_dir, tmp_path):
    data = open_avc_data(videos_dir, tmp_path / "run", SMALL, val_fraction=0.4, test_fraction=0.0)
    assert isinstance(data, AVCVideos)
    saved = json.loads((tmp_path / "run" / "split.json").read_text())
    assert [len(saved[name]) for name in ("train", "val", "test")] == [3, 2, 0]
    assert [v.key for v in data.videos("val")] == saved["val"]
    again = open_avc_data(videos_dir, tmp_path / "run", SMALL, val_fraction=0.4, test_fraction=0.0)
    assert again.split == data.split
    with pytest.raises(InputError, match="the test split has 0 video"):
        data.dataset("test")
    with pytest.raises(InputError, match="split must be one of train, val, test"):
        data.videos("valid")


def test_validation_set_is_fixed_and_training_endless(videos_dir, tmp_path):
    data = AVCVideos.load(videos_dir, settings=SMALL, val_fraction=0.4, test_fraction=0.0)
    val = data.dataset("val", samples=6, batch_size=3)
    first = [x["audio"].numpy() for x, _ in val]
    second = [x["audio"].numpy() for x, _ in val]
    assert len(first) == 2 and all(np.array_equal(a, b) for a, b in zip(first, second))
    train = data.dataset("train", batch_size=4)
    assert sum(1 for _ in zip(range(5), train)) == 5  # more batches than one pass over 3 videos' activations


def test_a_changed_video_set_is_refused(videos_dir, tmp_path):
    folder = write_good(tmp_path / "videos", ["a.mp4", "b.mkv", "c.mp4"])
    open_avc_data(folder, tmp_path / "run", SMALL, val_fraction=0.0, test_fraction=0.0)
    (folder / "c.mp4").unlink()
    with pytest.raises(KaudioError, match=r"1 of its videos are not usable videos of the folder \(c.mp4\)"):
        open_avc_data(folder, tmp_path / "run", SMALL, val_fraction=0.0, test_fraction=0.0)


def test_shards_folder_is_recognised_and_checked(videos_dir, tmp_path):
    prepare_shards(videos_dir, tmp_path / "shards", samples=4, shard_size=4, settings=SMALL, progress=False,
                   val_fraction=0.0, test_fraction=0.0)
    data = open_avc_data(tmp_path / "shards", settings=SMALL)
    assert isinstance(data, AVCShards) and data.settings("train") == SMALL
    x, y = next(iter(data.dataset("train", batch_size=2)))
    assert x["vision"].shape == (2, 32, 32, 3) and y["correspondence"].shape == (2, 2)
    assert sum(1 for _ in data.dataset("train", samples=3)) == 3
    with pytest.raises(InputError, match="frame: window in the shards, last wanted"):
        open_avc_data(tmp_path / "shards", settings=dataclasses.replace(SMALL, frame="last"))
