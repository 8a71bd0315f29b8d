"""Backbone presets: one table per family, Backbone.from_preset, and the places that read the tables."""
import keras
import numpy as np
import pytest

import kaudio
from kaudio.embedding.models import MODELS
from kaudio.errors import KaudioError, WeightsError
from kaudio.models import Backbone, all_presets
from kaudio.models.l3 import L3AudioBackbone, L3ImageBackbone
from kaudio.models.l3.l3_presets import PRESETS as L3_PRESETS
from kaudio.models.panns import PannsCNN
from kaudio.models.panns.panns_presets import ARCHITECTURES, PRESETS as PANNS_PRESETS
from kaudio.pretrained import load_manifest
from tests.models.panns import tiny_panns_spec


def count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def test_the_family_tables_are_the_only_lists():
    from kaudio.convert.openl3 import SPEC_BY_FILE_NAME_WORD
    from kaudio.convert.panns import ARCHS

    assert set(all_presets()) == set(L3_PRESETS) | set(PANNS_PRESETS)
    assert {n: (i.modality, i.spec, i.overrides, i.pretrained) for n, i in MODELS.items()} == \
        {n: (p.modality, p.spec, p.overrides, p.weights) for n, p in L3_PRESETS.items()}
    assert ARCHS == {n: (p.spec, list(p.overrides)) for n, p in PANNS_PRESETS.items()}
    assert list(ARCHS) == ["cnn14", "cnn10", "cnn14_16k"]
    assert PannsCNN.spec_presets is ARCHITECTURES
    assert SPEC_BY_FILE_NAME_WORD == (("image", "l3_image"), ("linear", "l3_linear"), ("mel128", "l3_m128"),
                                      ("mel256", "l3_m256"))
    for name in ("openl3_mel256_music", "openl3_mel256_music_v04", "openl3_image_linear_env", "openl3_linear_env"):
        assert name in L3_PRESETS


def test_every_preset_builds_its_spec_and_names_fitting_weights():
    manifest = load_manifest()
    for name, preset in all_presets().items():
        spec = preset.load_spec()
        assert preset.backbone_class() is spec.component("backbone") and preset.description
        if preset.weights is not None:
            assert manifest[preset.weights].spec == preset.spec, name
    assert L3_PRESETS["openl3_mel128_env_v04"].load_spec().frontend["padding"] == "end"
    assert PANNS_PRESETS["cnn14_16k"].backbone_config() == {**PANNS_PRESETS["cnn14"].backbone_config()}
    assert set(Backbone.presets()) == set(all_presets())
    assert set(L3AudioBackbone.presets()) == {n for n, p in L3_PRESETS.items() if p.modality == "audio"}
    assert set(PannsCNN.presets()) == set(PANNS_PRESETS)


def test_l3_preset_with_random_weights():
    backbone = L3AudioBackbone.from_preset("openl3_mel128_env", weights=None)
    assert type(backbone) is L3AudioBackbone and backbone.name == "backbone"
    assert backbone.get_config()["feature_shape"] == [128, 199, 1]
    assert tuple(backbone.output.shape[1:]) == (16, 24, 512) and backbone.count_params() == 4_689_860
    image = Backbone.from_preset("openl3_image_mel256_music", weights=None, dtype="mixed_bfloat16", trainable=False)
    assert type(image) is L3ImageBackbone and image.get_config()["feature_shape"] == [224, 224, 3]
    assert image.dtype_policy.name == "mixed_bfloat16" and not image.trainable


def test_l3_preset_with_a_weights_file(tmp_path):
    source = L3AudioBackbone.from_preset("openl3_linear_music", weights=None)
    source.set_weights([np.random.default_rng(i).standard_normal(w.shape).astype(w.dtype)
                        for i, w in enumerate(source.get_weights())])
    source.save_weights(tmp_path / "linear.weights.h5")
    loaded = L3AudioBackbone.from_preset("openl3_linear_music_v04", weights=tmp_path / "linear.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), source.get_weights()))
    # a .keras model built by kaudio: its backbone's weights are copied by layer name
    model = kaudio.build("l3_linear")
    model.backbone.set_weights(source.get_weights())
    model.save(tmp_path / "linear.keras")
    copied = L3AudioBackbone.from_preset("openl3_linear_env", weights=str(tmp_path / "linear.keras"))
    assert all(np.array_equal(a, b) for a, b in zip(copied.get_weights(), source.get_weights()))


def test_l3_preset_with_a_released_openl3_file(tmp_path):
    from kaudio.convert.openl3 import read_openl3_h5
    from tests.convert import write_openl3_file

    path = write_openl3_file(tmp_path / "openl3_image_mel128_env.h5", modality="image", seed=3)
    backbone = Backbone.from_preset("openl3_image_mel128_env", weights=path)
    expected = [array for _, arrays in read_openl3_h5(path) for array in arrays]
    assert all(np.array_equal(a, b) for a, b in zip(backbone.get_weights(), expected))
    with pytest.raises(WeightsError, match="differ in shape"):
        Backbone.from_preset("openl3_mel128_env", weights=path)


def test_weights_that_do_not_fit(tmp_path):
    image = L3ImageBackbone.from_preset("openl3_image_mel256_env", weights=None)
    image.save_weights(tmp_path / "image.weights.h5")
    with pytest.raises(WeightsError, match="image.weights.h5: does not fit the kaudio backbone 'backbone'"):
        L3AudioBackbone.from_preset("openl3_mel256_env", weights=tmp_path / "image.weights.h5")
    kaudio.build(tiny_panns_spec()).save(tmp_path / "panns.keras")
    with pytest.raises(WeightsError) as info:
        L3AudioBackbone.from_preset("openl3_mel256_env", weights=tmp_path / "panns.keras")
    text = str(info.value)
    assert text.startswith(f"{tmp_path / 'panns.keras'}: the source backbone does not fit")
    assert "layers of the new backbone that the source lacks: input_bn" in text
    with pytest.raises(WeightsError, match="no such weights file"):
        PannsCNN.from_preset("cnn10", weights=tmp_path / "missing.weights.h5")


def test_pretrained_weights_come_from_the_manifest(monkeypatch):
    calls = []
    monkeypatch.setattr("kaudio.pretrained.load_backbone_weights", lambda backbone, source: calls.append(source))
    Backbone.from_preset("openl3_mel256_music_v04")
    assert calls == ["openl3_audio_mel256_music"]
    with pytest.raises(KaudioError, match=r"preset 'cnn10' has no pretrained weights .*`kaudio convert panns "
                                          r"CHECKPOINT.pth --arch cnn10 --out cnn10.keras`"):
        PannsCNN.from_preset("cnn10")


def test_unknown_presets_and_arguments():
    with pytest.raises(KaudioError) as info:
        Backbone.from_preset("openl3_mel256_musc", weights=None)
    text = str(info.value)
    assert "unknown preset 'openl3_mel256_musc'; did you mean 'openl3_mel256_music'?" in text
    assert "valid presets: openl3_linear_music, " in text and text.endswith("cnn14, cnn10, cnn14_16k")
    with pytest.raises(KaudioError, match="unknown PannsCNN preset 'cnn12'; did you mean 'cnn14'.*"
                                          "valid presets: cnn14, cnn10, cnn14_16k$"):
        PannsCNN.from_preset("cnn12", weights=None)
    with pytest.raises(KaudioError, match="preset 'openl3_image_linear_env' builds a L3ImageBackbone, not a "
                                          "L3AudioBackbone"):
        L3AudioBackbone.from_preset("openl3_image_linear_env", weights=None)
    with pytest.raises(KaudioError, match="PannsCNN.from_preset: unknown argument widht; valid: .*embedding_size"):
        PannsCNN.from_preset("cnn10", weights=None, widht=3)


def test_panns_cnn10_parameters():
    """The CNN10 tagger (5,219,279 trainable) less its 527-class head (512·527 + 527 = 270,351)."""
    backbone = PannsCNN.from_preset("cnn10", weights=None)
    assert backbone.get_config()["feature_shape"] == [1001, 64, 1]
    assert count(backbone.trainable_weights) == 4_948_928 == 5_219_279 - (512 * 527 + 527)
    assert count(backbone.non_trainable_weights) == 3_968
    assert backbone.output.shape == (None, 512)
    variable = PannsCNN.from_preset("cnn14_16k", weights=None, feature_shape=(None, 64, 1), dtype="mixed_bfloat16")
    assert variable.get_config()["filters"][-1] == 2048 and variable.get_config()["dtype"] == "mixed_bfloat16"
    assert np.asarray(variable(np.zeros((1, 100, 64, 1), "float32")), np.float32).shape == (1, 2048)
    assert isinstance(variable.get_layer("fc1"), keras.layers.Dense)


def test_a_preset_gives_its_input_and_a_front_end():
    from kaudio.models.presets import get_preset

    preset = get_preset("openl3_mel256_music")
    assert preset.input["sample_rate"] == 48000 and preset.input["samples"] == 48000
    frontend = preset.frontend()
    assert frontend.name == "frontend" and frontend.compute_output_shape((None, 48000, 1)) == (None, 256, 199, 1)
    assert get_preset("openl3_image_mel256_music").frontend() is None
