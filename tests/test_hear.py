"""HEAR 2021 API: shapes, dtypes and units the API prescribes."""
import keras
import numpy as np
import pytest

from kaudio import hear
from kaudio.embedding.models import load_embedding_model
from kaudio.errors import InputError


@pytest.fixture
def weights_file(tiny_model, tmp_path):
    path = tmp_path / "tiny.weights.h5"
    load_embedding_model(tiny_model, 8, None).backbone.save_weights(path)
    return path


def test_hear_api(tiny_model, weights_file):
    model = hear.load_model(str(weights_file), model_name=tiny_model, embedding_size=8)
    assert model.sample_rate == 8000 and model.timestamp_embedding_size == model.scene_embedding_size == 8
    audio = keras.ops.convert_to_tensor(np.random.default_rng(0).standard_normal((3, 8000)).astype("float32") * 0.1)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    n = 1 + -(-(8000 + 2000 - 4000) // 400)  # centred, 50 ms hop at 8 kHz
    assert tuple(emb.shape) == (3, n, 8) and tuple(ts.shape) == (3, n)
    assert keras.backend.standardize_dtype(emb.dtype) == "float32"
    assert keras.backend.standardize_dtype(ts.dtype) == "float32"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ts)[0, :3], [0.0, 50.0, 100.0])
    scene = hear.get_scene_embeddings(audio, model)
    assert tuple(scene.shape) == (3, 8)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scene), keras.ops.convert_to_numpy(emb).mean(axis=1), rtol=1e-5)


def test_hear_rejects_bad_shapes(tiny_model, weights_file):
    model = hear.load_model(str(weights_file), model_name=tiny_model, embedding_size=8)
    with pytest.raises(InputError, match=r"\(n_sounds, n_samples\)"):
        hear.get_timestamp_embeddings(np.zeros(8000, np.float32), model)
    with pytest.raises(InputError, match="empty"):
        hear.get_scene_embeddings(np.zeros((0, 8000), np.float32), model)
