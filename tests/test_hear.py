"""HEAR 2021 API (https://hearbenchmark.com): the model object, the shapes, dtypes and units the API
prescribes, and the official submission checker (the ``hearvalidator`` package) run on a tiny model."""
import dataclasses
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest

from kaudio import hear
from kaudio.embedding import models
from kaudio.embedding.models import load_embedding_model
from kaudio.errors import InputError, KaudioError, WeightsError


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
    np.testing.assert_array_equal(np.diff(keras.ops.convert_to_numpy(ts), axis=1), 50.0)  # exactly 50 ms apart
    scene = hear.get_scene_embeddings(audio, model)
    assert tuple(scene.shape) == (3, 8)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scene), keras.ops.convert_to_numpy(emb).mean(axis=1), rtol=1e-5)


def test_hear_rejects_bad_shapes(tiny_model, weights_file):
    model = hear.load_model(str(weights_file), model_name=tiny_model, embedding_size=8)
    with pytest.raises(InputError, match=r"\(n_sounds, n_samples\)"):
        hear.get_timestamp_embeddings(np.zeros(8000, np.float32), model)
    with pytest.raises(InputError, match="empty"):
        hear.get_scene_embeddings(np.zeros((0, 8000), np.float32), model)


def test_load_model_returns_tf_module(tiny_model, weights_file):
    import tensorflow as tf

    model = hear.load_model(str(weights_file), model_name=tiny_model, embedding_size=8)
    assert isinstance(model, tf.Module)
    assert type(model.sample_rate) is int and model.sample_rate == 8000
    assert type(model.timestamp_embedding_size) is int and model.timestamp_embedding_size == 8
    assert type(model.scene_embedding_size) is int and model.scene_embedding_size == 8
    assert model.keras_model is load_embedding_model(tiny_model, 8, str(weights_file))
    assert (model.model_name, model.embedding_size, model.weights, model.hop_size) == (
        tiny_model, 8, str(weights_file), hear.HOP_SIZE)
    # tf.Module reports the Keras model's variables (it does not find Keras 3 variables by itself)
    assert len(model.trainable_variables) == len(model.keras_model.trainable_variables) > 0
    assert len(model.variables) == len(model.keras_model.variables)
    assert all(isinstance(v, tf.Variable) for v in model.variables)
    assert tiny_model in repr(model)


def test_load_model_weights(tiny_model, weights_file):
    random = hear.load_model(weights=None, model_name=tiny_model, embedding_size=8)
    assert random.weights is None
    assert random.keras_model is load_embedding_model(tiny_model, 8, None)
    from_file = hear.load_model(weights=weights_file, model_name=tiny_model, embedding_size=8)
    assert from_file.keras_model is hear.load_model(str(weights_file), model_name=tiny_model,
                                                    embedding_size=8).keras_model
    # a non-empty model_file_path wins over weights (the HEAR tools pass only the path)
    assert hear.load_model(str(weights_file), weights=None, model_name=tiny_model,
                           embedding_size=8).weights == str(weights_file)
    # the default is the pretrained weights, with no fallback to random ones
    with pytest.raises(WeightsError, match="no_such_weights"):
        hear.load_model(model_name=tiny_model, embedding_size=8)
    with pytest.raises(WeightsError, match="no_such_weights"):
        hear.load_model("", model_name=tiny_model, embedding_size=8)
    for bad in ("", 3):
        with pytest.raises(InputError, match="weights"):
            hear.load_model(weights=bad, model_name=tiny_model, embedding_size=8)


def test_load_model_needs_tensorflow_backend(tiny_model, monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(KaudioError, match="KERAS_BACKEND=tensorflow"):
        hear.load_model(weights=None, model_name=tiny_model, embedding_size=8)


@pytest.fixture
def tiny_model_16k(tiny_model, monkeypatch):
    """The tiny model at 16 kHz, a rate HEAR accepts (16, 22.05, 44.1 or 48 kHz). The window keeps its
    4000 samples, so the network and its weights are those of ``tiny_model``."""
    info = models.MODELS[tiny_model]
    spec = {**info.spec, "input": {**info.spec["input"], "sample_rate": 16000}}
    monkeypatch.setitem(models.MODELS, tiny_model, dataclasses.replace(info, spec=spec))
    models.clear_cache()
    return tiny_model


@pytest.fixture
def hear_module(tiny_model_16k, tmp_path, monkeypatch):
    """An importable module exposing ``kaudio.hear`` with the tiny 16-kHz model, as HEAR tools import one."""
    name = "kaudio_hear_tiny"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(f'''\
        """kaudio.hear with the tiny test model (8-d embeddings)."""
        from kaudio import hear
        from kaudio.hear import get_scene_embeddings, get_timestamp_embeddings


        def load_model(model_file_path=""):
            return hear.load_model(model_file_path, model_name={tiny_model_16k!r}, embedding_size=8)
        '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    yield name
    sys.modules.pop(name, None)


#: Every check ``ValidateModel`` makes of a TensorFlow module, in order.
VALIDATOR_CHECKS = ("import_model", "check_load_model", "check_sample_rate", "check_embedding_size",
                    "check_timestamp_embeddings", "tf2_timestamp_embeddings", "check_scene_embeddings",
                    "tf2_scene_embeddings")


@pytest.mark.parametrize("device", [None, "/CPU:0"])
def test_hear_validator(hear_module, weights_file, device, capsys):
    """``hear-validator kaudio_hear_tiny --model tiny.weights.h5 [--device /CPU:0]``, check by check."""
    pytest.importorskip("torch")
    validate = pytest.importorskip("hearvalidator.validate")
    ran = []

    class RecordingValidator(validate.ValidateModel):
        pass

    for check in VALIDATOR_CHECKS:
        def recorded(self, _check=check, _method=getattr(validate.ValidateModel, check)):
            ran.append(_check)
            return _method(self)
        setattr(RecordingValidator, check, recorded)

    validator = RecordingValidator(hear_module, str(weights_file), device=device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        validator()  # raises hearvalidator.validate.ModelError on a failed check
    out = capsys.readouterr().out
    print(out)  # shown with the failure report
    assert validator.model_type == "tf"
    reload = ["check_load_model"] if device else []  # a tf model is loaded again on the device
    assert ran == list(VALIDATOR_CHECKS[:2]) + reload + list(VALIDATOR_CHECKS[2:])
    # the validator only warns (timestamps more than 50 ms apart): there must be no warning from it
    assert not [w for w in caught if "hearvalidator" in w.filename], [str(w.message) for w in caught]
    assert "Received tensorflow Module" in out
    assert "Model sample rate is: 16000" in out
    assert "scene_embedding_size: 8" in out and "timestamp_embedding_size: 8" in out
    n = 1 + -(-(32000 + 2000 - 4000) // 800)  # 2 s at 16 kHz, 0.25-s windows centred 50 ms apart
    assert f"Received embedding of shape: (16, {n}, 8)" in out and f"Received timestamps of shape: (16, {n})" in out
    assert "Interval between timestamps is 50.0ms" in out
    assert "Received embedding of shape: (8, 8)" in out
