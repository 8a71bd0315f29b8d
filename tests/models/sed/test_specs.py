"""The bundled SED specs: sed_2apae (Deshmukh et al.'s 2APAE as soham97/MTL_Weakly_labelled_audio_data
codes it) and its baselines sed_gap / sed_gmp / sed_gwrp / sed_attention — each builds, saves and reloads
giving identical outputs of the shapes validation predicts."""
import keras
import numpy as np
import pytest

import kaudio

SPECS = ["sed_2apae", "sed_attention", "sed_gap", "sed_gmp", "sed_gwrp"]


def test_sed_2apae_follows_the_reference():
    spec = kaudio.load_spec("sed_2apae")
    assert spec.input["sample_rate"] == 32000 and spec.input["samples"] == 320000 and spec.input["channels"] == 1
    assert spec.frontend["preset"] == "2apae" and spec.frontend["standardize"] is True
    assert spec.shapes["frontend"] == (311, 64, 1) and spec.shapes["backbone"] == (311, 64, 256)
    assert spec.backbone["filters"] == [32, 64, 128, 256]
    head = spec.head
    assert (head["type"], head["num_classes"], head["sigmoid"], head["time_mixing"]) == ("sed_2apae", 41, "code", "dense")
    assert head["classes"] == sorted(head["classes"]) and head["classes"][0] == "Acoustic_guitar"
    assert spec.loss["type"] == "sed_bce_mse" and spec.loss["alpha"] == 1e-3 and spec.train is None


@pytest.mark.parametrize("name", SPECS[1:])
def test_baselines_change_only_the_head_and_alpha(name):
    spec, base = kaudio.load_spec(name), kaudio.load_spec("sed_2apae")
    assert spec.input == base.input and spec.frontend == base.frontend and spec.backbone == base.backbone
    assert spec.head["type"] == name and spec.head["num_classes"] == 41
    assert spec.loss["alpha"] == 0.0 and "reconstruction" not in spec.output_shape


@pytest.mark.parametrize("name", SPECS)
def test_bundled_sed_spec_builds_saves_reloads(name, tmp_path):
    model = kaudio.build(name)
    x = np.random.default_rng(0).standard_normal((2, 320000, 1)).astype("float32") * 0.1
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / f"{name}.keras")
    loaded = keras.models.load_model(tmp_path / f"{name}.keras")
    assert type(loaded) is kaudio.KaudioModel and loaded.spec == model.spec
    got = loaded.predict(x, verbose=0)
    assert {key: value.shape[1:] for key, value in expected.items()} == model.spec.output_shape
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])
        assert np.isfinite(expected[key]).all()
    for key in ("clip", "frames"):
        assert ((expected[key] >= 0) & (expected[key] <= 1)).all()
