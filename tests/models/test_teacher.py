"""build_teacher: the teacher of a spec, built from its own spec with its trained weights, frozen."""
import numpy as np
import pytest
import yaml

import kaudio
from kaudio.errors import KaudioError
from kaudio.models.teacher import build_teacher
from tests.conftest import tiny_audio_spec


def test_frozen_teacher_with_the_trained_weights(tmp_path):
    trained = kaudio.build(tiny_audio_spec(name="teacher"))
    for variable in trained.trainable_weights:
        variable.assign(np.random.default_rng(1).standard_normal(variable.shape).astype("float32") * 0.1)
    trained.save(tmp_path / "teacher.keras")
    (tmp_path / "teacher.yaml").write_text(yaml.safe_dump(tiny_audio_spec(name="teacher")))
    spec = kaudio.load_spec({**tiny_audio_spec(), "teacher": {"spec": str(tmp_path / "teacher.yaml"),
                                                              "weights": str(tmp_path / "teacher.keras")}})
    teacher = build_teacher(spec)
    assert not teacher.trainable and not teacher.trainable_weights
    x = np.random.default_rng(0).standard_normal((2, 4000, 1)).astype("float32") * 0.1
    np.testing.assert_allclose(np.asarray(teacher(x)), np.asarray(trained(x)), rtol=1e-5, atol=1e-6)
    trained.backbone.save_weights(tmp_path / "backbone.weights.h5")
    assert build_teacher(kaudio.load_spec(tiny_audio_spec())) is None


def test_weights_of_another_model_are_refused(tmp_path):
    kaudio.build(tiny_audio_spec(backbone={"type": "l3_audio", "filters": [4, 4]},
                                 head={"type": "embedding_pool", "embedding_size": 64,
                                       "pool_sizes": {64: [4, 4]}})).save(tmp_path / "other.keras")
    (tmp_path / "teacher.yaml").write_text(yaml.safe_dump(tiny_audio_spec(name="teacher")))
    spec = kaudio.load_spec({**tiny_audio_spec(), "teacher": {"spec": str(tmp_path / "teacher.yaml"),
                                                              "weights": str(tmp_path / "other.keras")}})
    with pytest.raises(KaudioError, match="is not a model of the teacher's spec"):
        build_teacher(spec)
