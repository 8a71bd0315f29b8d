"""embed_file: streamed decoding, openl3 output naming, atomic writes, skip/overwrite, bad files."""
import numpy as np
import pytest
import soundfile as sf

from kaudio.embedding.audio import embed
from kaudio.embedding.audio_files import embed_audio_file, embed_file
from kaudio.errors import InputError, OutputError

SR = 8000


@pytest.fixture
def wav(tmp_path):
    x = np.random.default_rng(0).standard_normal((int(2.5 * SR), 2)).astype(np.float32) * 0.1
    path = tmp_path / "clip.wav"
    sf.write(path, x, SR, subtype="PCM_16")
    return path


def test_file_equals_array_and_is_streamed_in_chunks(tiny_model, wav, monkeypatch):
    import kaudio.embedding.audio_files as audio_files

    data, sr = sf.read(wav, dtype="float32")
    expected, ts = embed(data, sr, model=tiny_model, embedding_size=8, weights=None)
    monkeypatch.setattr(audio_files, "CHUNK_SECONDS", 0.3)  # many small blocks
    got, got_ts = embed_audio_file(wav, model=tiny_model, embedding_size=8, weights=None)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got_ts, ts)


@pytest.mark.parametrize("fmt, ext", [("FLAC", ".flac"), ("OGG", ".ogg"), ("MP3", ".mp3")])
def test_compressed_formats_decode(tiny_model, tmp_path, fmt, ext):
    x = np.sin(2 * np.pi * 440 * np.arange(SR * 2) / SR).astype(np.float32) * 0.3
    path = tmp_path / f"tone{ext}"
    sf.write(path, x, SR, format=fmt)
    emb, ts = embed_audio_file(path, model=tiny_model, embedding_size=8, weights=None)
    assert emb.shape[0] == len(ts) >= 4 and np.isfinite(emb).all()


def test_embed_file_names_skip_and_overwrite(tiny_model, wav, tmp_path):
    out_dir = tmp_path / "out"
    (first,) = embed_file(wav, output_dir=out_dir, suffix="v1", model=tiny_model, embedding_size=8, weights=None)
    assert first == out_dir / "clip_v1.npz"
    with np.load(first) as data:
        assert {"embedding", "timestamps"} <= set(data.files) and data["embedding"].shape[1] == 8
        assert data["model"].item() == tiny_model and data["weights"].item() == "random"
        assert data["hop_size"].item() == 0.1 and data["center"].item() is True and data["mode"].item() == "exact"
    mtime = first.stat().st_mtime_ns
    with pytest.warns(UserWarning, match="exists"):
        embed_file([wav], output_dir=out_dir, suffix="v1", model=tiny_model, embedding_size=8, weights=None)
    assert first.stat().st_mtime_ns == mtime
    embed_file([wav], output_dir=out_dir, suffix="v1", overwrite=True, model=tiny_model, embedding_size=8, weights=None)
    assert first.stat().st_mtime_ns != mtime
    (dotted,) = embed_file(wav, suffix=".emb", model=tiny_model, embedding_size=8, weights=None)
    assert dotted == wav.parent / "clip.emb.npz"
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".")]  # no temp files left


def test_bad_files(tiny_model, tmp_path):
    """The reader's own checks are tested in tests/test_audio_io.py; here: they reach the embedding functions."""
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00not really a wav file" * 10)
    with pytest.raises(InputError, match="junk.wav: cannot decode audio"):
        embed_audio_file(junk, model=tiny_model, embedding_size=8, weights=None)
    good = tmp_path / "good.wav"
    sf.write(good, np.zeros(SR * 2, np.float32), SR, subtype="PCM_16")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[: 44 + SR])  # header promises 2 s, data holds 0.06 s
    with pytest.raises(InputError, match="truncated"):
        embed_audio_file(truncated, model=tiny_model, embedding_size=8, weights=None)
    with pytest.raises(InputError, match="paths must be"):
        embed_file(42)


def test_fixture_formats(tiny_model, fixtures_dir):
    for name in ["chirp_mono.wav", "chirp_stereo.wav", "chirp_44k.wav", "silence.wav", "short.wav"]:
        emb, ts = embed_audio_file(fixtures_dir / name, model=tiny_model, embedding_size=8, weights=None)
        assert len(emb) == len(ts) >= 1 and np.isfinite(emb).all(), name


def test_embed_file_refuses_unwritable_output_and_collisions(tiny_model, wav, tmp_path):
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    with pytest.raises(OutputError, match=f"cannot write to the output folder {a_file}: {a_file} is a file"):
        embed_file(wav, output_dir=a_file, model=tiny_model, embedding_size=8, weights=None)
    other = tmp_path / "other" / "clip.flac"
    other.parent.mkdir()
    sf.write(other, np.zeros(SR, np.float32), SR)
    with pytest.raises(InputError, match="would both write"):
        embed_file([wav, other], output_dir=tmp_path / "out", model=tiny_model, embedding_size=8, weights=None)
    assert not (tmp_path / "out").exists()


def test_embed_file_settings_mismatch_names_the_difference(tiny_model, wav, tmp_path):
    (out,) = embed_file(wav, output_dir=tmp_path, model=tiny_model, embedding_size=8, weights=None)
    with pytest.raises(OutputError, match="center: file has true, this run false.*overwrite=True"):
        embed_file(wav, output_dir=tmp_path, model=tiny_model, embedding_size=8, weights=None, center=False)
    with pytest.raises(OutputError, match="mode: file has exact, this run fast"):
        embed_file(wav, output_dir=tmp_path, model=tiny_model, embedding_size=8, weights=None, mode="fast")
    embed_file(wav, output_dir=tmp_path, model=tiny_model, embedding_size=8, weights=None, mode="fast", overwrite=True)
    with np.load(out) as data:
        assert data["mode"].item() == "fast"
