"""Every bundled spec builds, saves to .keras, reloads with no custom_objects and gives identical outputs."""
import numpy as np
import pytest

import kaudio
from kaudio.spec import bundled
from tests.conftest import tiny_audio_spec
from tests.helpers import keras_round_trip


@pytest.mark.parametrize("name", bundled.names())
def test_bundled_spec_builds_saves_reloads_identically(name, tmp_path):
    model = kaudio.build(name)
    assert isinstance(model, kaudio.KaudioModel)
    assert model.get_config()["spec"]["name"] == name
    shape = (2,) + tuple(model.inputs[0].shape[1:])
    x = np.random.default_rng(0).standard_normal(shape).astype("float32") * 0.1
    expected, loaded = keras_round_trip(model, x, tmp_path, f"{name}.keras")
    assert type(loaded) is kaudio.KaudioModel and loaded.spec == model.spec
    head = model.spec.head
    width = head["embedding_size"] if "embedding_size" in head else head["num_classes"]
    assert expected.shape == (2, width) and np.isfinite(expected).all()


def test_build_accepts_path_name_dict_and_overrides(tmp_path):
    by_name = kaudio.build("l3_m256", ["head.embedding_size=512"])
    assert by_name.output.shape == (None, 512)
    path = bundled.find("l3_m128")
    assert kaudio.build(str(path)).spec.frontend["n_mels"] == 128
    tiny = kaudio.build(tiny_audio_spec())
    assert tiny.output.shape == (None, 128)
    assert tiny.frontend.name == "frontend" and tiny.backbone.name == "backbone" and tiny.head.name == "head"


def test_model_config_records_the_resolved_spec():
    model = kaudio.build("l3_linear_512")
    spec = model.get_config()["spec"]
    assert spec["frontend"]["type"] == "linear" and spec["frontend"]["n_fft"] == 512
    assert spec["head"]["embedding_size"] == 512
    assert kaudio.load_spec(spec) == model.spec


def test_bare_backbone_without_head():
    spec = tiny_audio_spec()
    del spec["head"]
    model = kaudio.build(spec)
    assert model.head is None and tuple(model.output.shape[1:]) == (16, 16, 8)
