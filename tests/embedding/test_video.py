"""Video embeddings: decoding bento.mp4 with PyAV, embed_video / embed_video_file (random weights).

embed_video's audio half calls kaudio.embedding.audio.embed (contract: (embedding (n, D), timestamps (n,)))."""
import os
import shutil

import numpy as np
import pytest

from kaudio.embedding.image import embed_image, preprocess_images
from kaudio.embedding.output import is_temporary
from kaudio.embedding.video import SAMPLE_RATE, embed_video, embed_video_file, image_timestamps, read_video
from kaudio.errors import InputError, KaudioError, KaudioWarning

av = pytest.importorskip("av")


@pytest.fixture(scope="module")
def bento(fixtures_dir):
    return fixtures_dir / "bento.mp4"


@pytest.fixture(scope="module")
def bento_video(bento):
    return read_video(bento)


def write_silent_video(path, n_frames=3, fps=5, size=(240, 320)):
    """A small video with no audio stream (mpeg4, bundled with PyAV's FFmpeg)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(np.full(size + (3,), 60 * i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


# ------------------------------------------------------------------------------------------------
# read_video


def test_read_bento(bento_video):
    v = bento_video
    assert v.fps == 10.0
    assert v.frames.shape == (11, 256, 256, 3) and v.frames.dtype == np.uint8
    assert v.sample_rate == SAMPLE_RATE == 48000
    # 1.0 s of AAC (44.1 kHz mono) resampled to 48 kHz, zero-padded to the 1.1 s container duration
    assert v.audio.dtype == np.float32 and v.audio.shape == (52800, 1)
    loud = np.nonzero(np.abs(v.audio[:, 0]) > 1e-4)[0]
    assert 0.95 * SAMPLE_RATE < loud[-1] < 1.0 * SAMPLE_RATE
    assert not v.audio[48000:].any()
    assert v.frames.std() > 10  # real picture content
    out = preprocess_images(v.frames)  # 256x256 frames: crop only, values in [0, 1]
    assert out.shape == (11, 224, 224, 3) and out.min() >= 0 and out.max() == 1


def test_image_timestamps_use_int_fps():
    np.testing.assert_allclose(image_timestamps(3, 29.97), np.arange(3) / 29)
    np.testing.assert_allclose(image_timestamps(2, 0.5), [0, 2])


def test_video_without_audio(tmp_path):
    path = write_silent_video(tmp_path / "silent.mp4")
    v = read_video(path)
    assert v.audio is None and v.fps == 5.0 and v.frames.shape == (3, 256, 256, 3)
    np.testing.assert_allclose(v.frames[:, 100, 100, 0], [0, 60, 120], atol=4)
    with pytest.raises(InputError, match="silent.mp4: has no audio stream"):
        embed_video(path, weights=None)


def test_read_video_errors(tmp_path, fixtures_dir, bento):
    with pytest.raises(InputError, match="missing.mp4: file not found"):
        read_video(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("hello, not a video")
    with pytest.raises(InputError, match="notes.mp4: cannot open as a video"):
        read_video(text)
    with pytest.raises(InputError, match="chirp_1s.wav: has no video stream"):
        read_video(fixtures_dir / "chirp_1s.wav")
    data = bento.read_bytes()
    stub = tmp_path / "stub.mp4"
    stub.write_bytes(data[:100])
    with pytest.raises(InputError, match="stub.mp4: contains no video or audio stream"):
        read_video(stub)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(data[:20000] + bytes(20000) + data[40000:])
    with pytest.raises(InputError, match="corrupt.mp4: cannot decode video"):
        read_video(corrupt)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[:30000])
    with pytest.warns(KaudioWarning, match=r"truncated.mp4: decoded \d+ of the 11 video frames"):
        assert len(read_video(truncated).frames) < 11


# ------------------------------------------------------------------------------------------------
# embed_video


def test_embed_video_shapes_and_image_half(bento, bento_video):
    (audio, audio_ts), (image, image_ts) = embed_video(bento, weights=None, batch_size=8)
    assert audio.shape == (7, 6144) and audio.dtype == np.float32  # openl3's bento_audio: (7, 6144)
    np.testing.assert_allclose(audio_ts, np.arange(7) * 0.1)
    assert image.shape == (11, 8192) and image.dtype == np.float32  # openl3's bento_image: (11, 8192)
    np.testing.assert_allclose(image_ts, np.arange(11) / 10)
    np.testing.assert_allclose(image, embed_image(bento_video.frames, weights=None), rtol=1e-4, atol=1e-5)


def test_embed_video_small_sizes_no_centering(bento):
    (audio, audio_ts), (image, image_ts) = embed_video(
        bento, audio_model="openl3_linear_env", image_model="openl3_image_linear_env", audio_embedding_size=512,
        image_embedding_size=512, hop_size=0.5, center=False, weights=None)
    assert audio.shape == (2, 512) and image.shape == (11, 512)  # openl3's bento_*_kapre_linear shapes
    np.testing.assert_allclose(audio_ts, [0, 0.5])


@pytest.mark.parametrize("kwargs, match", [
    (dict(image_model="openl3_mel256_music"), "unknown image embedding model"),
    (dict(audio_model="openl3_image_mel256_music"), "unknown audio embedding model"),
    (dict(image_embedding_size=6144), "not offered"),
    (dict(batch_size=0), "batch_size must be a positive integer"),
])
def test_embed_video_argument_errors(bento, kwargs, match):
    with pytest.raises(KaudioError, match=match):
        embed_video(bento, weights=None, **kwargs)


# ------------------------------------------------------------------------------------------------
# embed_video_file


def test_embed_video_file_naming_skip_and_partial(bento, tmp_path, capsys):
    src = tmp_path / "clip.mp4"
    shutil.copy(bento, src)
    kwargs = dict(audio_embedding_size=512, image_embedding_size=512, weights=None)
    outs = embed_video_file(src, suffix="s", **kwargs)
    assert outs == [tmp_path / "clip_audio_s.npz", tmp_path / "clip_image_s.npz"]
    with np.load(outs[0]) as a, np.load(outs[1]) as i:
        assert {"embedding", "timestamps", "model", "weights"} <= set(a.files) & set(i.files)
        assert a["model"].item() == "openl3_mel256_music" and i["model"].item() == "openl3_image_mel256_music"
        assert a["embedding"].shape == (7, 512) and i["embedding"].shape == (11, 512)
        np.testing.assert_allclose(i["timestamps"], np.arange(11) / 10)
    assert not [p for p in tmp_path.iterdir() if is_temporary(p)]

    # both exist: skipped with a message, files untouched
    before = [os.stat(p).st_mtime_ns for p in outs]
    with pytest.warns(KaudioWarning, match="exist with the same settings"):
        assert embed_video_file(src, suffix="s", **kwargs) == outs
    assert [os.stat(p).st_mtime_ns for p in outs] == before

    # output_dir, no suffix; only the missing output is written
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    shutil.copy(outs[0], out_dir / "clip_audio.npz")
    audio_mtime = os.stat(out_dir / "clip_audio.npz").st_mtime_ns
    outs = embed_video_file(src, output_dir=out_dir, **kwargs)
    assert outs == [out_dir / "clip_audio.npz", out_dir / "clip_image.npz"]
    assert os.stat(outs[0]).st_mtime_ns == audio_mtime
    with np.load(outs[1]) as i:
        assert i["embedding"].shape == (11, 512)
    assert sorted(p.name for p in out_dir.iterdir()) == ["clip_audio.npz", "clip_image.npz"]


def test_embed_video_file_missing(tmp_path):
    with pytest.raises(InputError, match="gone.mp4: file not found"):
        embed_video_file(tmp_path / "gone.mp4", weights=None)
    assert not list(tmp_path.iterdir())
