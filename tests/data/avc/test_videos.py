"""kaudio.data.avc.videos: finding and probing the videos of an AVC set."""
import shutil
import warnings

import pytest

from kaudio.data.avc.videos import VideoIndex, fingerprint, probe_video, scan_videos
from kaudio.errors import InputError, KaudioWarning
from tests.data.avc.conftest import BAD, GOOD
from tests.data.avc.synthetic import write_video


def test_usable_videos_and_their_timing(index, videos_dir):
    assert [v.key for v in index.videos] == sorted(GOOD)
    for video in index.videos:
        _, fps, seconds, rate = GOOD[video.key]
        assert video.fps == fps and video.audio_rate == rate
        assert video.path == videos_dir / video.key and video.size == video.path.stat().st_size
        assert video.start == pytest.approx(0.0, abs=1e-3) and video.video_start == pytest.approx(0.0, abs=1e-3)
        assert video.duration == pytest.approx(seconds, abs=0.05)  # AAC pads its last frame
        assert (video.width, video.height) == (64, 48)
    assert index.by_key()["b.mkv"].audio_channels == 2


def test_unusable_videos_are_skipped_counted_and_reported_once(videos_dir):
    with pytest.warns(KaudioWarning) as caught:
        index = scan_videos(videos_dir)
    assert len(caught) == 1  # one summary line for the folder
    message = str(caught[0].message)
    assert message.startswith(f"{videos_dir}: 5 usable video(s) of 8, skipped 3:")
    reasons = dict(index.skipped)
    assert set(reasons) == set(BAD) and index.found == 8
    for key, reason in BAD.items():
        assert reason in reasons[key] and key in message
    assert "0.50 s of picture with sound" in reasons["bad/short.mp4"]


def test_probe_names_the_file(videos_dir):
    with pytest.raises(InputError, match=r"noaudio.mp4: no audio stream"):
        probe_video(videos_dir / "bad/noaudio.mp4")
    assert probe_video(videos_dir / "c.mp4").fps == 5


def test_folder_errors(tmp_path):
    with pytest.raises(InputError, match="missing: video folder not found"):
        scan_videos(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("no videos")
    with pytest.raises(InputError, match=r"no video files \(.mp4, .mov"):
        scan_videos(tmp_path)
    write_video(tmp_path / "only.mp4", 0, seconds=1.5)
    write_video(tmp_path / "mute.mp4", 1, audio=False)
    with pytest.raises(InputError, match="1 usable video.* of 2, skipped 1: mute.mp4 .*needs at least 2 usable"):
        scan_videos(tmp_path)


def test_hidden_files_are_ignored(tmp_path, videos_dir):
    shutil.copy(videos_dir / "a.mp4", tmp_path / "a.mp4")
    shutil.copy(videos_dir / "c.mp4", tmp_path / "c.mp4")
    (tmp_path / ".cache").mkdir()
    shutil.copy(videos_dir / "a.mp4", tmp_path / ".cache" / "x.mp4")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [v.key for v in scan_videos(tmp_path).videos] == ["a.mp4", "c.mp4"]


def test_fingerprint_follows_names_and_sizes(index):
    videos = list(index.videos)
    assert fingerprint(videos) == fingerprint(reversed(videos))
    assert fingerprint(videos[:-1]) != fingerprint(videos)
    resized = [videos[0].__class__(**{**vars(videos[0]), "size": videos[0].size + 1})] + videos[1:]
    assert fingerprint(resized) != fingerprint(videos)
    assert "skipped" not in VideoIndex(index.root, index.videos).summary()
