"""kaudio.audio_io: reading files in mono blocks, whole-file decode, soxr resampling with the
⌊n · out / in⌋ length rule, and the names the embedding and data packages import it under."""
import numpy as np
import pytest
import soundfile as sf

from kaudio import audio_io
from kaudio.audio_io import AudioFileReader, StreamResampler, read_mono, resample, resampled_length
from kaudio.errors import InputError


def write(path, signal, rate, **kwargs):
    sf.write(path, np.asarray(signal, np.float32), rate, **kwargs)
    return path


def test_reader_gives_mono_blocks_and_header_facts(tmp_path):
    stereo = np.stack([np.linspace(-1, 1, 2500), np.linspace(1, -1, 2500) * 0.5], axis=1)
    path = write(tmp_path / "clip.wav", stereo, 1000, subtype="FLOAT")
    reader = AudioFileReader(path)
    assert (reader.sample_rate, reader.frames, reader.channels) == (1000, 2500, 2)
    assert (reader.format, reader.subtype) == ("WAV", "FLOAT")
    blocks = list(reader.blocks(seconds=1.0))
    assert [len(b) for b, _ in blocks] == [1000, 1000, 500] and [last for _, last in blocks] == [False, False, True]
    np.testing.assert_allclose(np.concatenate([b for b, _ in blocks]), stereo.mean(axis=1), atol=1e-7)
    mono, rate = read_mono(path)
    assert rate == 1000 and mono.dtype == np.float32
    np.testing.assert_array_equal(mono, np.concatenate([b for b, _ in blocks]))


def test_reader_errors_name_the_file(tmp_path, fixtures_dir):
    with pytest.raises(InputError, match="missing.wav: file not found"):
        AudioFileReader(tmp_path / "missing.wav")
    with pytest.raises(InputError, match="is a directory"):
        AudioFileReader(tmp_path)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00not really a wav file" * 10)
    with pytest.raises(InputError, match="junk.wav: cannot decode audio"):
        AudioFileReader(junk)
    with pytest.raises(InputError, match="contains no audio samples"):
        AudioFileReader(fixtures_dir / "empty.wav")
    good = write(tmp_path / "good.wav", np.zeros(16000), 8000, subtype="PCM_16")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[: 44 + 8000])  # header promises 2 s, data holds 0.5 s
    with pytest.raises(InputError, match="truncated.wav: truncated — its header declares 32000 bytes"):
        AudioFileReader(truncated)
    nan = write(tmp_path / "nan.wav", np.r_[np.zeros(10), np.nan], 8000, subtype="FLOAT")
    with pytest.raises(InputError, match="nan.wav: contains NaN or infinite samples"):
        read_mono(nan)


@pytest.mark.parametrize("n, rate_in, rate_out", [(44100, 44100, 16000), (44101, 44100, 32000), (7, 44100, 16000),
                                                  (1000, 22050, 48000), (123457, 48000, 16000), (999, 16000, 16000)])
def test_resample_length_rule(n, rate_in, rate_out):
    """⌊n · out / in⌋ for every length (soxr alone gives one more sample for some of these)."""
    audio = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1
    expected = n * rate_out // rate_in
    assert resampled_length(n, rate_in, rate_out) == expected == StreamResampler(rate_in, rate_out, n).length_out
    out = resample(audio, rate_in, rate_out)
    assert out.shape == (expected,) and out.dtype == np.float32
    if rate_in == rate_out:
        np.testing.assert_array_equal(out, audio)


def test_resample_is_accurate_and_streaming_matches_whole():
    rate_in, rate_out = 22050, 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(2 * rate_in) / rate_in)).astype(np.float32)
    whole = resample(tone, rate_in, rate_out)
    reference = 0.5 * np.sin(2 * np.pi * 440 * np.arange(len(whole)) / rate_out)
    np.testing.assert_allclose(whole[500:-500], reference[500:-500], atol=1e-5)  # soxr VHQ, away from the edges
    stream = StreamResampler(rate_in, rate_out, len(tone))
    chunks = [stream(tone[i: i + 5000], last=i + 5000 >= len(tone)) for i in range(0, len(tone), 5000)]
    streamed = np.concatenate(chunks)[: stream.length_out]
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


def test_load_resampled_is_read_then_resample_and_the_data_pipelines_clip(tmp_path):
    from kaudio.data import load_audio

    path = write(tmp_path / "clip.flac", np.sin(np.arange(30000) / 7) * 0.3, 44100)
    mono, rate = read_mono(path)
    clip = audio_io.load_resampled(path, 16000)
    np.testing.assert_array_equal(clip, resample(mono, rate, 16000))
    np.testing.assert_array_equal(load_audio(path, 16000), clip)


def test_embedding_imports_this_module():
    import kaudio.embedding.audio as embedding_audio
    import kaudio.embedding.audio_files as audio_files

    assert audio_files.AudioFileReader is AudioFileReader
    assert embedding_audio.StreamResampler is StreamResampler and embedding_audio._resample_all is resample
