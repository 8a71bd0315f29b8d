"""KaudioModel: chains and towers, tower extraction, the spec a saved model records."""
import copy

import keras
import numpy as np
import pytest
import yaml

import kaudio
from kaudio.errors import KaudioError, SpecError
from kaudio.models.kaudio_model import KaudioModel, model_spec
from tests.conftest import tiny_audio_spec

TOWERS = {
    "name": "tiny_avc", "description": "two towers",
    "towers": {
        "vision": {"input": {"type": "image", "height": 32, "width": 32, "channels": 3},
                   "backbone": {"type": "l3_image", "filters": [4, 8]}, "pooling": {"type": "global_pool"}},
        "audio": {"input": {"type": "audio", "sample_rate": 8000, "samples": 4000},
                  "frontend": {"type": "mel", "n_fft": 256, "hop_length": 128, "n_mels": 32},
                  "backbone": {"type": "l3_audio", "filters": [4, 8]}, "pooling": {"type": "global_pool"}},
    },
    "fusion": {"type": "concat_mlp", "order": ["vision", "audio"], "hidden": [16], "num_classes": 2},
}


def towers_spec(**changes):
    spec = copy.deepcopy(TOWERS)
    spec.update(changes)
    return spec


def inputs(batch=2):
    rng = np.random.default_rng(0)
    return {"vision": rng.uniform(size=(batch, 32, 32, 3)).astype("float32"),
            "audio": (rng.standard_normal((batch, 4000, 1)) * 0.1).astype("float32")}


def test_towers_build_run_save_and_reload(tmp_path):
    model = kaudio.build(towers_spec())
    assert model.tower_names == ["vision", "audio"]
    out = np.asarray(model(inputs()))
    assert out.shape == (2, 2) and np.allclose(out.sum(axis=1), 1)
    assert model.spec.shapes["fusion"] == (2,)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, KaudioModel)
    np.testing.assert_allclose(np.asarray(loaded(inputs())), out, rtol=1e-5)


def test_a_tower_is_its_own_model_sharing_the_weights(tmp_path):
    model = kaudio.build(towers_spec())
    audio = model.tower("audio")
    assert isinstance(audio, keras.Model) and audio.name == "audio_tower"
    embedding = np.asarray(audio(inputs()["audio"]))
    assert embedding.shape == (2, 8)
    audio.get_layer("backbone").get_layer("input_bn").gamma.assign(np.full(1, 3.0, "float32"))  # shared variable
    assert model.tower("audio").get_layer("backbone").get_layer("input_bn").gamma.numpy()[0] == 3.0
    audio.save(tmp_path / "audio.keras")
    np.testing.assert_allclose(np.asarray(keras.models.load_model(tmp_path / "audio.keras")(inputs()["audio"])),
                               np.asarray(audio(inputs()["audio"])), rtol=1e-5)
    with pytest.raises(KaudioError, match="no tower 'audo'; did you mean 'audio'"):
        model.tower("audo")
    with pytest.raises(KaudioError, match="this model has no towers"):
        kaudio.build(tiny_audio_spec()).tower("audio")


def test_model_card_of_towers():
    card = kaudio.model_card(kaudio.build(towers_spec()))
    assert card.input.startswith("vision: (32, 32, 3) image; audio: (4000, 1)")
    assert set(card.frontend) == {"audio"} and card.output_shape == (None, 2)
    assert "front end (audio):" in card.to_text()


def test_saved_models_record_no_teacher_and_no_init_weights(tmp_path):
    teacher = tmp_path / "teacher.keras"
    kaudio.build(tiny_audio_spec()).save(teacher)
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(tiny_audio_spec()))
    spec = kaudio.load_spec({**tiny_audio_spec(), "teacher": {"spec": str(tmp_path / "t.yaml"), "weights": str(teacher)}})
    assert spec.teacher["weights"] == str(teacher.resolve())
    stripped = model_spec(spec)
    assert stripped.teacher is None and stripped.name == spec.name
    model = KaudioModel(spec)
    assert model.get_config()["spec"]["teacher"] is None  # removed (a distillation trainer still validates)
    teacher.unlink()  # a saved student does not need its teacher
    model.save(tmp_path / "student.keras")
    assert isinstance(keras.models.load_model(tmp_path / "student.keras"), KaudioModel)


def test_tower_problems_are_spec_problems():
    spec = towers_spec()
    spec["towers"]["audio"]["frontend"]["n_mels"] = 1
    with pytest.raises(SpecError) as info:
        kaudio.load_spec(spec)
    (problem,) = info.value.problems
    assert problem.path == "towers.audio.backbone" and "max-pools" in problem.message


def test_a_dtype_policy_is_recorded_and_survives_saving(tmp_path):
    model = KaudioModel(tiny_audio_spec(), dtype_policy="mixed_bfloat16")
    assert model.dtype_policy.name == "mixed_bfloat16"
    assert model.backbone.get_layer("block1_conv1_conv").dtype_policy.name == "mixed_bfloat16"
    assert model.frontend.filterbank_layers[0].dtype_policy.name == "float32"  # the front end keeps its precision
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.get_config()["dtype_policy"] == "mixed_bfloat16"
    assert loaded.backbone.get_layer("block1_conv1_conv").dtype_policy.name == "mixed_bfloat16"
    assert "dtype_policy" not in kaudio.build(tiny_audio_spec()).get_config()
