"""Fast mode: chunk stitching equals one pass, pooling equals the head's, results close to exact."""
import numpy as np
import pytest

import kaudio
from kaudio.embedding import fast
from kaudio.embedding.audio import embed
from kaudio.embedding.models import load_embedding_model

SR = 8000


def cosine(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def tones(seconds, sr):
    t = np.arange(int(seconds * sr)) / sr
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t)
    return (envelope * sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate([220, 330, 440, 660], 1))).astype(np.float32)


def test_chunks_stitch_into_the_single_pass_map(tiny_model, monkeypatch):
    model = load_embedding_model(tiny_model, 128, None)
    padded = np.concatenate([np.zeros(112, np.float32), tones(6.0, SR) * 0.3, np.zeros(400, np.float32)])
    monkeypatch.setattr(fast, "CHUNK_COLUMNS", 100_000)
    whole = fast.feature_columns(model, padded)
    monkeypatch.setattr(fast, "CHUNK_COLUMNS", 5)
    chunked = fast.feature_columns(model, padded)
    assert chunked.shape == whole.shape == (4, (1 + (len(padded) - 256) // 128) // 2, 8)
    np.testing.assert_allclose(chunked, whole, rtol=1e-4, atol=1e-4)


def test_window_pooling_equals_the_embedding_head(tiny_model):
    model = load_embedding_model(tiny_model, 128, None)
    rng = np.random.default_rng(0)
    fmap = rng.standard_normal((16, 40, 8)).astype(np.float32)  # (H, columns, C) backbone output
    columns = fast._pool_rows(fmap, 4)
    out = fast.pool_windows(columns, n_windows=3, columns_per_hop=5.0, width=16, pool_w=4)
    for i in range(3):
        expected = np.asarray(model.head(fmap[None, :, 5 * i: 5 * i + 16]))[0]
        np.testing.assert_allclose(out[i], expected, rtol=1e-6)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("embedding_size", [128, 8])
def test_fast_has_exact_modes_frames_and_is_close(tiny_model, center, embedding_size):
    x = tones(3.0, SR) * 0.3
    exact, ts = embed(x, SR, model=tiny_model, embedding_size=embedding_size, center=center, weights=None)
    quick, ts_fast = embed(x, SR, model=tiny_model, embedding_size=embedding_size, center=center, weights=None, mode="fast")
    assert quick.shape == exact.shape and np.array_equal(ts, ts_fast)
    assert cosine(exact, quick).mean() > 0.8  # random weights, 2-block toy network: see the benchmark for L3


def test_sliding_reference_follows_loudness():
    spec = np.zeros((4, 10, 1))
    spec[:, :5] = -60.0
    reference = np.array([-60] * 5 + [0] * 5, float)
    out = fast._normalise(spec, {"decibel": "openl3", "db_top": 80.0}, reference)
    np.testing.assert_allclose(out[0, :, 0], 0.0)
    out = fast._normalise(spec, {"decibel": "openl3", "db_top": 30.0}, np.zeros(10))
    np.testing.assert_allclose(out[0, :, 0], [-30] * 5 + [0] * 5)


def test_fast_default_model_on_the_chirp(fixtures_dir):
    import soundfile as sf

    audio, sr = sf.read(fixtures_dir / "chirp_mono.wav", dtype="float32")
    exact, _ = kaudio.embed(audio, sr, weights=None, hop_size=0.5, embedding_size=512)
    quick, _ = kaudio.embed(audio, sr, weights=None, hop_size=0.5, embedding_size=512, mode="fast")
    assert quick.shape == exact.shape == (4, 512)  # 2 s centred at hop 0.5
    assert cosine(exact, quick).min() > 0.8
