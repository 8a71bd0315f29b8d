"""kaudio.embed: framing parity with openl3, input handling and every bad-input error."""
import warnings

import keras
import numpy as np
import pytest

import kaudio
from kaudio.embedding.audio import embed, to_mono_float
from kaudio.embedding.models import load_embedding_model
from kaudio.errors import InputError, KaudioError, KaudioWarning
from tests.embedding.test_framing import openl3_frames

SR = 8000  # the tiny model's rate; window 4000 samples


def signal(seconds, seed=0, sr=SR):
    return np.random.default_rng(seed).standard_normal(int(seconds * sr)).astype(np.float32) * 0.1


def test_exact_mode_equals_model_on_openl3_frames(tiny_model):
    x = signal(1.3)
    emb, ts = embed(x, SR, model=tiny_model, embedding_size=128, hop_size=0.1, weights=None, batch_size=3)
    frames = openl3_frames(x, 4000, 800, center=True)
    model = load_embedding_model(tiny_model, 128, None)
    expected = model.predict(frames[..., None], verbose=0)
    assert emb.shape == (len(frames), 128) and emb.dtype == np.float32
    np.testing.assert_allclose(emb, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ts, np.arange(len(frames)) * 0.1)


def test_hop_is_truncated_and_timestamps_use_hop_size(tiny_model):
    x = signal(2.0)
    emb, ts = embed(x, SR, model=tiny_model, embedding_size=8, hop_size=0.33, center=False, weights=None)
    hop = int(0.33 * SR)  # 2640
    assert len(emb) == 1 + -(-(len(x) - 4000) // hop)
    np.testing.assert_allclose(ts, np.arange(len(emb)) * 0.33)


def test_lists_share_batches_and_match_single_calls(tiny_model):
    a, b = signal(1.0, 1), signal(0.7, 2)
    embs, tss = embed([a, b], [SR, SR], model=tiny_model, embedding_size=8, weights=None, batch_size=4)
    single_a, _ = embed(a, SR, model=tiny_model, embedding_size=8, weights=None)
    assert [len(e) for e in embs] == [len(t) for t in tss]
    np.testing.assert_allclose(embs[0], single_a, rtol=1e-5, atol=1e-6)


def test_stereo_int_and_resampled_inputs(tiny_model):
    mono = signal(1.0)
    stereo = np.stack([mono, mono], axis=1)
    e_mono, _ = embed(mono, SR, model=tiny_model, embedding_size=8, weights=None)
    e_stereo, _ = embed(stereo, SR, model=tiny_model, embedding_size=8, weights=None)
    np.testing.assert_allclose(e_stereo, e_mono, rtol=1e-5, atol=1e-6)
    ints = (mono * 32767).astype(np.int16)
    e_int, _ = embed(ints, SR, model=tiny_model, embedding_size=8, weights=None)
    np.testing.assert_allclose(e_int, e_mono, rtol=1e-2, atol=1e-2)
    e_16k, ts = embed(signal(1.0, sr=16000), 16000, model=tiny_model, embedding_size=8, weights=None)
    assert len(e_16k) == len(e_mono)  # resampled length floor(n * 8000 / 16000)


def test_int_scaling():
    np.testing.assert_allclose(to_mono_float(np.array([-32768, 0, 16384], np.int16)), [-1.0, 0.0, 0.5])
    np.testing.assert_allclose(to_mono_float(np.array([0, 128, 255], np.uint8)), [-1.0, 0.0, 127 / 128])


def test_short_audio_warns_and_is_padded_silence_works(tiny_model):
    with pytest.warns(KaudioWarning, match="shorter than one window"):
        emb, ts = embed(signal(0.01), SR, model=tiny_model, embedding_size=8, center=False, weights=None)
    assert emb.shape == (1, 8) and list(ts) == [0.0]
    emb, _ = embed(np.zeros(8000, np.float32), SR, model=tiny_model, embedding_size=8, weights=None)
    assert np.isfinite(emb).all()


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_hop_longer_than_the_audio_warns_about_padding_only_frames(tiny_model, mode):
    # 1 s at 8 kHz, centred (2000 zeros in front of a 4000-sample window): a 10-s hop gives a
    # second frame that starts after the audio's end
    with pytest.warns(KaudioWarning, match=r"the last 1 of 2 frames hold only zero padding.*hop \(10 s\)"):
        emb, ts = embed(signal(1.0), SR, model=tiny_model, embedding_size=8, hop_size=10.0, weights=None, mode=mode)
    assert emb.shape == (2, 8) and list(ts) == [0.0, 10.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an ordinary hop gives no warning
        embed(signal(1.0), SR, model=tiny_model, embedding_size=8, hop_size=0.25, weights=None, mode=mode)


def test_wide_multichannel_arrays_are_fine():
    assert to_mono_float(np.ones((4000, 16), np.float32)).shape == (4000,)  # 16 channels, samples first


@pytest.mark.parametrize("audio, sr, kwargs, message", [
    (np.zeros(0, np.float32), SR, {}, "is empty"),
    (np.zeros((10, 2, 2), np.float32), SR, {}, "3 dimensions"),
    (np.array([0.0, np.nan] * 100, np.float32), SR, {}, "NaN or infinite"),
    (np.array([0.0, np.inf] * 100, np.float32), SR, {}, "NaN or infinite"),
    (np.zeros((2, 8000), np.float32), SR, {}, "looks like (channels, samples)"),
    (np.zeros((16, 48000), np.float32), SR, {}, "16 samples of 48000 channels, so it looks like (channels, samples)"),
    (np.zeros((3, 5), np.float32), SR, {}, "pass audio.T"),
    (np.array(["a", "b"]), SR, {}, "dtype"),
    ([1.0, 2.0], SR, {}, "must be a numpy array"),
    ("audio.wav", SR, {}, "numpy array"),
    ([], SR, {}, "empty list"),
    (np.zeros(100, np.float32), 0, {}, "sr must be a positive number"),
    (np.zeros(100, np.float32), -8000, {}, "sr must be a positive number"),
    (np.zeros(100, np.float32), "8000", {}, "sr must be a positive number"),
    (np.zeros(100, np.float32), [SR, SR], {}, "sample rates"),
    (np.zeros(100, np.float32), SR, {"hop_size": 0}, "hop_size must be a positive"),
    (np.zeros(100, np.float32), SR, {"hop_size": -0.1}, "hop_size must be a positive"),
    (np.zeros(100, np.float32), SR, {"hop_size": 1e-6}, "less than one sample"),
    (np.zeros(100, np.float32), SR, {"batch_size": 0}, "batch_size"),
    (np.zeros(100, np.float32), SR, {"center": "yes"}, "center"),
    (np.zeros(100, np.float32), SR, {"mode": "quick"}, "mode must be one of"),
])
def test_bad_input_raises_clear_errors(tiny_model, audio, sr, kwargs, message):
    with pytest.raises(InputError) as info:
        embed(audio, sr, model=tiny_model, embedding_size=8, weights=None, **kwargs)
    assert message in str(info.value)


def test_unknown_model_and_embedding_size(tiny_model):
    with pytest.raises(KaudioError, match="unknown audio embedding model 'openl3_mel265_music'.*did you mean 'openl3_mel256_music'"):
        embed(np.zeros(100, np.float32), SR, model="openl3_mel265_music", weights=None)
    with pytest.raises(KaudioError, match="embedding_size 1024 is not offered by tiny_test_model; choose one of 128, 8"):
        embed(np.zeros(100, np.float32), SR, model=tiny_model, embedding_size=1024, weights=None)
    with pytest.raises(KaudioError, match="unknown audio embedding model"):
        embed(np.zeros(100, np.float32), SR, model="openl3_image_mel256_music", weights=None)


def test_model_is_built_once_per_configuration(tiny_model):
    a = load_embedding_model(tiny_model, 8, None)
    assert load_embedding_model(tiny_model, 8, None) is a
    assert load_embedding_model(tiny_model, 128, None) is not a


def test_default_model_end_to_end_on_the_chirp(fixtures_dir):
    import soundfile as sf

    audio, sr = sf.read(fixtures_dir / "chirp_44k.wav")
    emb, ts = kaudio.embed(audio, sr, weights=None, hop_size=0.5, center=False, embedding_size=512)
    assert emb.shape == (3, 512) and list(ts) == [0.0, 0.5, 1.0]  # openl3's tests/data/regression shape
    assert kaudio.load_embedding_model(embedding_size=512, weights=None).output.shape == (None, 512)
    assert isinstance(kaudio.load_embedding_model(embedding_size=512, weights=None), keras.Model)
