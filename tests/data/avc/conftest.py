"""A folder of tiny synthetic videos shared by the AVC data tests (made once per session, < 1 s)."""
import warnings

import pytest

from kaudio.data.avc import AVCSettings
from tests.data.avc.synthetic import write_video

#: Small samples: a 32x32 crop of frames resized to a short side of 36, 1-s windows at 8 kHz.
SMALL = AVCSettings(image_size=32, resize_short_side=36, sample_rate=8000, audio_samples=8000, cycle_length=3,
                    samples_per_activation=4, shuffle_buffer=8)
#: The usable videos: key → (video id, fps, seconds, audio rate).
GOOD = {"a.mp4": (0, 10, 2.5, 48000), "b.mkv": (1, 30, 2.0, 16000), "c.mp4": (2, 5, 3.0, 48000),
        "d.mp4": (3, 120, 2.0, 48000), "sub/e.mov": (4, 24, 2.0, 44100)}
BAD = {"bad/noaudio.mp4": "no audio stream", "bad/corrupt.mp4": "corrupt", "bad/short.mp4": "shorter than 1 s"}


def write_good(folder, keys=None):
    for key in keys or GOOD:
        video_id, fps, seconds, rate = GOOD[key]
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        stereo = key.endswith(".mkv")
        write_video(path, video_id, seconds=seconds, fps=fps, audio_rate=rate, channels=2 if stereo else 1,
                    audio_codec="pcm_s16le" if stereo else "aac")
    return folder


@pytest.fixture(scope="session")
def videos_dir(tmp_path_factory):
    """Five usable videos (5 to 120 fps; AAC at 48 and 44.1 kHz, 16-kHz stereo PCM; one in a sub-folder)
    and three that must be skipped (no audio, corrupt, 0.5 s)."""
    folder = write_good(tmp_path_factory.mktemp("avc") / "videos")
    (folder / "bad").mkdir()
    write_video(folder / "bad/noaudio.mp4", 5, audio=False)
    (folder / "bad/corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    write_video(folder / "bad/short.mp4", 5, seconds=0.5)
    return folder


@pytest.fixture(scope="session")
def index(videos_dir):
    from kaudio.data.avc import scan_videos

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scan_videos(videos_dir)


@pytest.fixture(scope="session")
def videos(index):
    return list(index.videos)
