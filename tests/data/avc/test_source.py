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


def _pass_keys(dataset):
    """One pass as a list of (audio video, frame video, window start) per sample."""
    return [tuple(zip(*(meta[k].numpy().tolist() for k in ("audio_video", "frame_video", "audio_start"))))
            for _, _, meta in dataset]


class _WithMetadata:
    """A source whose training passes keep the metadata (to identify the pairs)."""

    def __init__(self, data):
        self.data = data

    def training_pass(self, seed, stream, batch_size):
        from kaudio.data.avc.pipeline import pair_dataset

        return pair_dataset(self.data.videos("train"), self.data.settings, seed=seed, stream=stream,
                            batch_size=batch_size, with_metadata=True, prefetch=False)


def test_training_passes_continue_the_stream_and_replay_identically(videos_dir):
    """Pass 2 of the finite view holds other pairs than pass 1 (no replay of the epoch), and a dataset built
    again with the same seed whose first pass is skipped (a resumed run) gives exactly pass 2."""
    import tensorflow as tf

    from kaudio.data.avc import training_passes
    from kaudio.training.fit import skip_passes

    data = _WithMetadata(AVCVideos.load(videos_dir, settings=SMALL, val_fraction=0.0, test_fraction=0.0))
    view = training_passes(data, batches=2, batch_size=4, seed=0)
    assert int(view.cardinality()) == 2
    passes = iter(view.repeat())
    first, second = ([next(passes) for _ in range(2)] for _ in range(2))
    pairs = [_pass_keys(batches) for batches in (first, second)]
    assert pairs[0] != pairs[1]
    assert len(set(pairs[0][0] + pairs[0][1]) & set(pairs[1][0] + pairs[1][1])) < 8  # new windows, not a replay
    again = training_passes(data, batches=2, batch_size=4, seed=0)
    skip_passes(again, 1)
    resumed = iter(again.repeat())
    assert _pass_keys([next(resumed) for _ in range(2)]) == pairs[1]
    other_seed = training_passes(data, batches=2, batch_size=4, seed=1)
    assert _pass_keys(other_seed) != pairs[0]
    assert isinstance(first[0][0]["vision"], tf.Tensor) and first[0][0]["vision"].shape == (4, 32, 32, 3)


def test_training_passes_of_shards_reshuffle_each_pass(videos_dir, tmp_path):
    from kaudio.data.avc import training_passes
    from kaudio.training.fit import skip_passes

    prepare_shards(videos_dir, tmp_path / "shards", samples=16, shard_size=4, settings=SMALL, progress=False,
                   val_fraction=0.0, test_fraction=0.0)
    data = open_avc_data(tmp_path / "shards", settings=SMALL)
    view = training_passes(data, batches=2, batch_size=4, seed=0)
    passes = iter(view.repeat())
    audio = [[next(passes)[0]["audio"].numpy() for _ in range(2)] for _ in range(3)]
    assert not all(np.array_equal(a, b) for a, b in zip(audio[0], audio[1]))
    again = training_passes(data, batches=2, batch_size=4, seed=0)
    skip_passes(again, 2)
    resumed = [x["audio"].numpy() for x, _ in again]
    assert all(np.array_equal(a, b) for a, b in zip(resumed, audio[2]))


def test_training_passes_need_a_positive_batch_count(videos_dir):
    from kaudio.data.avc import training_passes

    data = AVCVideos.load(videos_dir, settings=SMALL, val_fraction=0.0, test_fraction=0.0)
    with pytest.raises(InputError, match="batches per pass must be a positive integer, got 0"):
        training_passes(data, batches=0, batch_size=4)
