"""kaudio.training.avc_export: a run's towers → the .weights.h5 files kaudio.embed / embed_image load."""
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

import kaudio
from kaudio.errors import KaudioError
from kaudio.spec import load_spec
from kaudio.training.avc_export import (audio_embedding_spec, embedding_model_for, export_embeddings,
                                        export_keras_embedding)
from tests.training.avc_data import tiny_avc_spec, write_avc_run

EXAMPLE_SPEC = Path(__file__).resolve().parents[2] / "examples" / "avc_synthetic" / "avc_small.yaml"


def _tapped(model, tower, x):
    """The tower's embedding conv output (before its BN/ReLU), max-pooled over the whole map."""
    tower_model = model.tower(tower)
    backbone = tower_model.get_layer("backbone")
    tap = keras.Model(backbone.input, backbone.get_layer(f"{tower}_embedding_layer").output)
    features = tower_model.get_layer("frontend")(x) if tower == "audio" else x
    return np.max(np.asarray(tap(features)), axis=(1, 2))


def test_exported_towers_give_the_tapped_embedding(tmp_path):
    spec = load_spec("l3_avc_m256")
    model = write_avc_run(tmp_path / "run", spec)
    files = export_embeddings(tmp_path / "run", tmp_path / "my_l3.weights.h5", tmp_path / "my_l3_image.weights.h5")
    assert [(f.tower, f.model) for f in files] == [("audio", "openl3_mel256_music"),
                                                   ("vision", "openl3_image_mel256_music")]
    rng = np.random.default_rng(1)
    audio = (0.3 * rng.standard_normal(48000)).astype("float32")
    embedding, _ = kaudio.embed(audio, 48000, model="openl3_mel256_music", embedding_size=512, center=False,
                                hop_size=1.0, weights=str(tmp_path / "my_l3.weights.h5"))
    assert embedding.shape == (1, 512)
    np.testing.assert_allclose(embedding[0], _tapped(model, "audio", audio[None, :, None])[0], atol=1e-5, rtol=1e-5)
    from kaudio.embedding.models import load_embedding_model

    image_model = load_embedding_model("openl3_image_mel256_music", 512, weights=str(tmp_path / "my_l3_image.weights.h5"))
    image = rng.uniform(-1, 1, (2, 224, 224, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(image_model(image)), _tapped(model, "vision", image), atol=1e-5, rtol=1e-5)


def test_the_model_name_follows_the_audio_front_end():
    assert embedding_model_for(load_spec("l3_avc_m128"), "audio") == "openl3_mel128_music"
    assert embedding_model_for(load_spec("l3_avc_linear"), "audio") == "openl3_linear_music"
    assert embedding_model_for(load_spec("l3_avc_linear"), "vision") == "openl3_image_linear_music"


def test_towers_no_embedding_model_reproduces_are_refused(tmp_path):
    tiny = load_spec(tiny_avc_spec())
    with pytest.raises(KaudioError, match=r"front end .* is none of OpenL3's"):
        embedding_model_for(tiny, "audio")
    small_vision = load_spec("l3_avc_m256", ["towers.vision.input.height=64", "towers.vision.input.width=64"])
    assert embedding_model_for(small_vision, "audio") == "openl3_mel256_music"
    with pytest.raises(KaudioError, match=r"not the network of openl3_image_mel256_music \(input.height: 64"):
        embedding_model_for(small_vision, "vision")
    with pytest.raises(KaudioError, match="no spec.yaml"):
        export_embeddings(tmp_path, tmp_path / "x.weights.h5")


def test_a_damaged_best_keras_is_named(tmp_path):
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(load_spec("l3_avc_m256").to_dict(), sort_keys=False))
    (tmp_path / "best.keras").write_bytes(b"not a zip archive")
    with pytest.raises(KaudioError, match="best.keras: cannot load the run's model"):
        export_embeddings(tmp_path, tmp_path / "x.weights.h5")


@pytest.mark.parametrize("spec", [tiny_avc_spec(), str(EXAMPLE_SPEC)])
def test_the_keras_export_gives_the_tapped_embedding_of_any_run(tmp_path, spec):
    """Any AVC tower, scaled down too (no OpenL3 model has its network): the standalone .keras model is the
    tower's embedding conv before its BN/ReLU, max-pooled."""
    spec = load_spec(spec)
    model = write_avc_run(tmp_path / "run", spec)
    path = export_keras_embedding(tmp_path / "run", tmp_path / "out" / "audio.keras")
    exported = keras.models.load_model(path)
    assert exported.spec.backbone["embedding_bn_relu"] is False and exported.spec.head == {"type": "global_pool",
                                                                                            "mode": "max"}
    samples = spec.towers["audio"]["input"]["samples"]
    audio = (0.3 * np.random.default_rng(1).standard_normal((2, samples, 1))).astype("float32")
    expected = _tapped(model, "audio", audio)
    assert exported.output.shape[-1] == expected.shape[-1]
    np.testing.assert_allclose(np.asarray(exported(audio)), expected, atol=1e-5, rtol=1e-5)
    # the tap differs from the tower's own output (after BN + ReLU): the export is not the tower
    assert not np.allclose(np.asarray(model.tower("audio")(audio)), expected, atol=1e-3)


def test_the_keras_export_names_its_problems(tmp_path):
    write_avc_run(tmp_path / "run", load_spec(tiny_avc_spec()))
    with pytest.raises(KaudioError, match=r"a.weights.h5: the output must end in .keras"):
        export_keras_embedding(tmp_path / "run", tmp_path / "a.weights.h5")
    with pytest.raises(KaudioError, match="no spec.yaml"):
        export_keras_embedding(tmp_path / "nothing", tmp_path / "a.keras")
    with pytest.raises(KaudioError, match="has no 'audio' tower"):
        audio_embedding_spec(load_spec("l3_m256"))
