"""kaudio.downstream.features: the protocol's windows, embedding and log-mel features, the cache."""
import librosa
import numpy as np
import pytest

from kaudio.downstream.datasets import load_downstream_dataset
from kaudio.downstream.features import (FeatureCache, EmbeddingFeatures, LogMelFeatures, compute_features,
                                        feature_extractor, load_cached_features, uniform_signal, uniform_window_count,
                                        uniform_windows)
from kaudio.embedding.framing import window_count
from kaudio.embedding.models import load_embedding_model
from kaudio.embedding.output import is_temporary
from kaudio.errors import KaudioError
from tests.downstream.synthetic import make_tone_dataset

RATE = 8000  # the tiny model's rate; window 4000 samples


def test_trailing_partial_window_is_dropped_unlike_openl3():
    signal = np.arange(11, dtype=np.float32)
    assert uniform_window_count(11, 4, 3) == 3 and window_count(11, 4, 3, center=False) == 4  # openl3 pads the end
    np.testing.assert_array_equal(uniform_signal(signal, 4, 3), signal[:10])
    np.testing.assert_array_equal(uniform_windows(signal, 4, 3), [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    assert uniform_window_count(10, 4, 3) == 3 and len(uniform_signal(signal[:10], 4, 3)) == 10


def test_short_clips_are_padded_symmetrically():
    signal = np.array([1, 2, 3], np.float32)
    np.testing.assert_array_equal(uniform_signal(signal, 8, 2), [0, 0, 1, 2, 3, 0, 0, 0])  # pad 5: 2 before, 3 after
    np.testing.assert_array_equal(uniform_windows(signal, 8, 2), [[0, 0, 1, 2, 3, 0, 0, 0]])
    assert uniform_window_count(3, 8, 2) == 1 and uniform_window_count(8, 8, 2) == 1


def test_embedding_features_are_the_model_on_the_protocol_windows(tiny_model):
    rng = np.random.default_rng(0)
    long_clip = 0.1 * rng.standard_normal(10400).astype(np.float32)  # 1.3 s: 4 windows at hop 0.25 s (openl3: 5)
    short_clip = 0.1 * rng.standard_normal(3000).astype(np.float32)
    extractor = EmbeddingFeatures(tiny_model, 128, weights=None, hop_size=0.25, batch_size=3)
    assert (extractor.sample_rate, extractor.window, extractor.hop) == (RATE, 4000, 2000)
    features = extractor.compute([long_clip, short_clip])
    model = load_embedding_model(tiny_model, 128, None)
    for clip, values in zip((long_clip, short_clip), features):
        windows = uniform_windows(clip, 4000, 2000)
        expected = model.predict(windows[..., None], verbose=0)
        assert values.shape == (len(windows), 128)
        np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-5)
    assert len(features[0]) == 4 and len(features[1]) == 1


def test_logmel_is_per_band_mean_and_std_of_each_window():
    extractor = LogMelFeatures(sample_rate=RATE, n_fft=256, stft_hop=80, n_mels=16, hop_size=0.25)
    signal = np.random.default_rng(1).standard_normal(int(1.6 * RATE)).astype(np.float32)
    (features,) = extractor.compute([signal])
    assert features.shape == (3, 32) and features.dtype == np.float32
    window = signal[2 * 2000: 2 * 2000 + RATE]  # the third window
    power = np.abs(librosa.stft(window, n_fft=256, hop_length=80, center=False)) ** 2
    mel = librosa.filters.mel(sr=RATE, n_fft=256, n_mels=16) @ power
    log_mel = 10 * np.log10(np.maximum(mel, 1e-10))
    np.testing.assert_allclose(features[2, :16], log_mel.mean(axis=1), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(features[2, 16:], log_mel.std(axis=1), rtol=1e-4, atol=1e-3)
    assert "16 slaney mel bands 0-4000 Hz" in extractor.settings(".").frontend


def test_settings_record_model_weights_framing_and_dataset(tiny_model, tmp_path):
    settings = EmbeddingFeatures(tiny_model, 8, weights=None, hop_size=0.25).settings(tmp_path)
    items = settings.items()
    assert items["model"] == tiny_model and items["weights"] == "random" and items["center"] is False
    assert items["hop_size"] == 0.25 and items["dataset"] == str(tmp_path.resolve())
    assert "trailing partial window dropped" in items["framing"]
    logmel = feature_extractor("logmel").settings(tmp_path).items()
    assert logmel["model"] == "logmel" and logmel["embedding_size"] == 256 and logmel["weights"] == "none"
    with pytest.raises(KaudioError, match="unknown audio embedding model 'openl3_mel265_music'"):
        feature_extractor("openl3_mel265_music")


class CountingExtractor:
    """A log-mel extractor that counts the clips it computes and can be told to fail."""

    def __init__(self, fail_on_call=None, **options):
        self.inner = LogMelFeatures(sample_rate=RATE, n_fft=256, stft_hop=80, n_mels=8, **options)
        self.sample_rate, self.window, self.hop = self.inner.sample_rate, self.inner.window, self.inner.hop
        self.clips, self.calls, self.fail_on_call = 0, 0, fail_on_call

    def settings(self, root):
        return self.inner.settings(root)

    def compute(self, signals):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt
        self.clips += len(signals)
        return self.inner.compute(signals)


@pytest.fixture
def small_dataset(tmp_path):
    return load_downstream_dataset(make_tone_dataset(tmp_path / "tones", folds=(1, 2), clips_per_class=1))


def test_features_are_cached_per_clip_and_reused(small_dataset, tmp_path):
    extractor = CountingExtractor()
    cache = FeatureCache(tmp_path / "cache", extractor.settings(small_dataset.root))
    table = compute_features(small_dataset, extractor, cache)
    assert (table.computed, table.reused, extractor.clips) == (6, 0, 6)
    assert table.dimension == 16 and table.windows == 6 * 6  # 1.5-s clips, 1-s windows every 0.1 s
    assert (tmp_path / "cache" / "audio" / "low_1_0.wav.npz").is_file()
    assert (tmp_path / "cache" / "features.json").is_file()
    again = CountingExtractor()
    cache = FeatureCache(tmp_path / "cache", again.settings(small_dataset.root))
    table2 = compute_features(small_dataset, again, cache)
    assert (table2.computed, table2.reused, again.clips) == (0, 6, 0)
    for first, second in zip(table.features, table2.features):
        np.testing.assert_array_equal(first, second)
    loaded = load_cached_features(tmp_path / "cache", extractor.settings(small_dataset.root), small_dataset.keys)
    np.testing.assert_array_equal(loaded[3], table.features[3])


def test_a_cache_of_other_settings_is_refused(small_dataset, tmp_path):
    extractor = CountingExtractor()
    compute_features(small_dataset, extractor, FeatureCache(tmp_path / "cache", extractor.settings(small_dataset.root)))
    other = CountingExtractor(hop_size=0.5)
    with pytest.raises(KaudioError, match=r"was made with other settings \(hop_size: file has 0.1, this run 0.5\)"):
        FeatureCache(tmp_path / "cache", other.settings(small_dataset.root))
    with pytest.raises(KaudioError, match="dataset: file has"):
        FeatureCache(tmp_path / "cache", extractor.settings(tmp_path))
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("x")
    with pytest.raises(KaudioError, match="is a folder with other content and no features.json"):
        FeatureCache(tmp_path / "stuff", extractor.settings(small_dataset.root))


def test_a_cache_file_of_other_settings_is_refused(small_dataset, tmp_path):
    from kaudio.embedding.output import save_npz_atomic

    extractor = CountingExtractor()
    cache = FeatureCache(tmp_path / "cache", extractor.settings(small_dataset.root))
    other = CountingExtractor(hop_size=0.5).settings(small_dataset.root)
    save_npz_atomic(cache.path(small_dataset.keys[0]), other, features=np.zeros((2, 16), np.float32))
    with pytest.raises(KaudioError, match=r"low_1_0.wav.npz was made with other settings \(hop_size"):
        compute_features(small_dataset, extractor, cache)


def test_an_interrupted_run_leaves_complete_files_and_continues(small_dataset, tmp_path):
    extractor = CountingExtractor(fail_on_call=2)
    cache = FeatureCache(tmp_path / "cache", extractor.settings(small_dataset.root))
    with pytest.raises(KeyboardInterrupt):
        compute_features(small_dataset, extractor, cache, clips_per_call=2)
    written = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.name != "features.json"]
    assert len(written) == 2 and not any(is_temporary(p) for p in written)
    resumed = CountingExtractor()
    table = compute_features(small_dataset, resumed, cache, clips_per_call=2)
    assert (table.computed, table.reused, resumed.clips) == (4, 2, 4)


def test_a_keras_file_is_the_model_on_its_own_windows_and_its_sha256_keys_the_cache(small_dataset, tmp_path):
    import keras

    from kaudio.downstream.features import KerasFileFeatures
    from tests.training.avc_data import tiny_keras_embedding

    path = tiny_keras_embedding(tmp_path / "model")
    extractor = feature_extractor(str(path), None, "pretrained", hop_size=0.25, batch_size=3)
    assert isinstance(extractor, KerasFileFeatures)
    assert (extractor.sample_rate, extractor.window, extractor.hop) == (RATE, 8000, 2000)
    clip = 0.1 * np.random.default_rng(0).standard_normal(13000).astype(np.float32)  # 1.625 s: 3 windows
    features = extractor.compute([clip])[0]
    windows = uniform_windows(clip, 8000, 2000)[..., None]
    np.testing.assert_allclose(features, keras.models.load_model(path).predict(windows, verbose=0), atol=1e-6)
    assert features.shape == (3, 8)
    settings = extractor.settings(small_dataset.root)
    assert settings.model == "tiny_avc_audio_embedding" and settings.weights.startswith("file sha256 ")
    compute_features(small_dataset, extractor, FeatureCache(tmp_path / "cache", settings))
    # another file with the same network and name, other weights: refused by its sha256
    other = tiny_keras_embedding(tmp_path / "other")
    model = keras.models.load_model(other)
    model.backbone.layers[-1].set_weights([w + 0.5 for w in model.backbone.layers[-1].get_weights()])
    model.save(other)
    with pytest.raises(KaudioError, match=r"other settings \(weights: file has file sha256 [0-9a-f]+, this run "
                                          r"file sha256 [0-9a-f]+\)"):
        FeatureCache(tmp_path / "cache", feature_extractor(str(other), hop_size=0.25).settings(small_dataset.root))
    random = feature_extractor(str(path), None, None, hop_size=0.25, seed=3)
    with pytest.raises(KaudioError, match=r"this run random seed 3 \(the network of file sha256"):
        FeatureCache(tmp_path / "cache", random.settings(small_dataset.root))
    with pytest.raises(KaudioError, match="gives 8-d embeddings, not 512; drop --embedding-size"):
        feature_extractor(str(path), 512)
