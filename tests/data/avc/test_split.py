"""kaudio.data.avc.split: the video-level 80/10/10 split, saved and reused."""
import json

import pytest

from kaudio.data.avc.split import SPLIT_SEED, load_or_make_split, split_videos
from kaudio.errors import InputError, KaudioError

KEYS = [f"clip{i:02d}.mp4" for i in range(20)]


def test_eighty_ten_ten_by_video_seeded():
    split = split_videos(KEYS)
    assert [len(split[name]) for name in ("train", "val", "test")] == [16, 2, 2]
    assert sorted(split["train"] + split["val"] + split["test"]) == KEYS
    assert split == split_videos(list(reversed(KEYS)))  # the order of the folder listing does not matter
    assert split != split_videos(KEYS, seed=SPLIT_SEED + 1)
    assert split_videos(KEYS, val=0.25, test=0.0)["test"] == [] and len(split_videos(KEYS, val=0.25)["val"]) == 5


def test_small_sets():
    assert [len(v) for v in split_videos(KEYS[:10]).values()] == [6, 2, 2]  # one val video would have no partner
    assert [len(v) for v in split_videos(KEYS[:4]).values()] == [4, 0, 0]
    with pytest.raises(InputError, match="5 usable videos are too few for 2 val, 2 test and at least 2 training"):
        split_videos(KEYS[:5], val=0.3, test=0.3)
    with pytest.raises(InputError, match="the val fraction must be a number in"):
        split_videos(KEYS, val=1.5)
    with pytest.raises(InputError, match="leave no training videos"):
        split_videos(KEYS, val=0.5, test=0.5)


def test_saved_once_then_reused(tmp_path):
    path = tmp_path / "split.json"
    split = load_or_make_split(path, KEYS)
    saved = json.loads(path.read_text())
    assert {k: saved[k] for k in ("train", "val", "test")} == split and saved["seed"] == SPLIT_SEED
    saved["train"], saved["val"] = saved["val"], saved["train"]  # a hand-made split is respected
    path.write_text(json.dumps(saved))
    assert load_or_make_split(path, KEYS)["val"] == split["train"]


def test_another_video_set_or_seed_is_refused(tmp_path):
    path = tmp_path / "split.json"
    load_or_make_split(path, KEYS)
    with pytest.raises(KaudioError) as caught:
        load_or_make_split(path, KEYS[1:] + ["new.mp4"])
    message = str(caught.value)
    assert "1 of its videos are not usable videos of the folder (clip00.mp4)" in message
    assert "1 usable videos of the folder are not in it (new.mp4)" in message
    with pytest.raises(KaudioError, match="made with split seed 20180118, not 3"):
        load_or_make_split(path, KEYS, seed=3)
    path.write_text("{not json")
    with pytest.raises(KaudioError, match="cannot read the video split"):
        load_or_make_split(path, KEYS)
