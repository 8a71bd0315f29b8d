"""kaudio.embedding.keras_file: a .keras audio embedding model, loaded and checked, and its random-weight twin."""
import keras
import numpy as np
import pytest

from kaudio.builder import build
from kaudio.embedding.keras_file import is_keras_file, load_keras_embedding
from kaudio.errors import InputError
from tests.training.avc_data import tiny_avc_spec, tiny_keras_embedding


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return tiny_keras_embedding(tmp_path_factory.mktemp("keras_file"))


def test_the_file_is_identified_by_its_sha256(exported):
    import hashlib

    embedding = load_keras_embedding(exported)
    assert (embedding.name, embedding.sample_rate, embedding.samples, embedding.dimension, embedding.frontend) == (
        "tiny_avc_audio_embedding", 8000, 8000, 8, "openl3")
    assert embedding.sha256 == hashlib.sha256(exported.read_bytes()).hexdigest()
    assert embedding.weights_identity == f"file sha256 {embedding.sha256}"
    assert load_keras_embedding(exported, "pretrained").weights_identity == embedding.weights_identity
    assert is_keras_file(exported) and is_keras_file("A.KERAS") and not is_keras_file("openl3_mel256_music")


def test_random_weights_are_the_same_network_drawn_afresh_with_the_seed(exported):
    trained = load_keras_embedding(exported)
    first, again, other = (load_keras_embedding(exported, None, seed) for seed in (0, 0, 1))
    assert first.weights_identity == f"random seed 0 (the network of file sha256 {trained.sha256})"
    audio = (0.3 * np.random.default_rng(0).standard_normal((2, 8000, 1))).astype("float32")
    outputs = [np.asarray(e.model(audio)) for e in (trained, first, again, other)]
    assert outputs[1].shape == outputs[0].shape == (2, 8)
    np.testing.assert_array_equal(outputs[1], outputs[2])
    assert not np.allclose(outputs[1], outputs[0]) and not np.allclose(outputs[1], outputs[3])
    assert [w.shape for w in first.model.weights] == [w.shape for w in trained.model.weights]


def test_files_that_are_no_audio_embedding_model_are_refused_by_name(exported, tmp_path):
    with pytest.raises(InputError, match="no such embedding model file"):
        load_keras_embedding(tmp_path / "missing.keras")
    (tmp_path / "garbage.keras").write_bytes(b"not a zip archive")
    with pytest.raises(InputError, match="garbage.keras: cannot load as a Keras model"):
        load_keras_embedding(tmp_path / "garbage.keras")
    inputs = keras.Input((8000, 1))
    keras.Model(inputs, keras.layers.GlobalMaxPooling1D()(inputs)).save(tmp_path / "plain.keras")
    with pytest.raises(InputError, match=r"plain.keras: not a kaudio embedding model \(a Functional"):
        load_keras_embedding(tmp_path / "plain.keras")
    build(tiny_avc_spec()).save(tmp_path / "avc.keras")
    with pytest.raises(InputError, match="not a kaudio embedding model but the two-tower network 'tiny_avc'"):
        load_keras_embedding(tmp_path / "avc.keras")
    image = {"name": "tiny_image", "description": "an image chain", "input": {"type": "image", "height": 32,
             "width": 32, "channels": 3}, "backbone": {"type": "l3_image", "filters": [4, 8]},
             "head": {"type": "global_pool", "mode": "max"}}
    build(image).save(tmp_path / "image.keras")
    with pytest.raises(InputError, match=r"wrong input shape .* it takes \(32, 32, 3\) \(image input\)"):
        load_keras_embedding(tmp_path / "image.keras")
    with pytest.raises(InputError, match="does not apply to tiny.keras"):
        load_keras_embedding(exported, str(exported))


def test_an_output_that_is_not_one_vector_per_window_is_refused(tmp_path):
    spec = {"name": "maps", "description": "a backbone without pooling", "input": {"type": "audio",
            "sample_rate": 8000, "duration": 1.0, "channels": 1},
            "frontend": {"type": "mel", "preset": "openl3", "n_mels": 16}, "backbone": {"type": "l3_audio",
                                                                                     "filters": [4, 8]}}
    build(spec).save(tmp_path / "maps.keras")
    with pytest.raises(InputError, match=r"wrong output for an audio embedding model: \(None, 8, 17, 8\)"):
        load_keras_embedding(tmp_path / "maps.keras")
