"""train.init_weights / train.freeze_backbone: backbone weights from a saved model (Zhong et al. §4.2
fine-tune CNN14 pretrained on AudioSet), copied by layer name with every shape checked."""
import json
import warnings

import keras
import numpy as np
import pytest
import yaml

from kaudio.errors import KaudioError, KaudioWarning, SpecError
from kaudio.models.kaudio_model import KaudioModel
from kaudio.spec import load_spec
from kaudio.training import fit
from kaudio.training import init_weights as init_module
from kaudio.training.init_weights import copy_section_weights, frontend_differences, init_backbone
from tests.training import tiny_spec, toy_arrays, toy_dataset
from tests.training.test_fit import Interrupt, InterruptAfterEpoch

TINY_PANNS = {"type": "panns_cnn", "filters": [4, 8], "embedding_size": 8}


def _target_spec(head="resatt", **train) -> dict:
    """The tiny hierarchical spec of the training tests with a tiny PANNs CNN as backbone."""
    spec = tiny_spec(head=head, epochs=1, **train)
    spec["backbone"] = dict(TINY_PANNS)
    return spec


def _source_spec(**backbone) -> dict:
    """A tiny PANNs-style AudioSet tagger (what `kaudio convert panns` writes), no train section."""
    spec = _target_spec()
    return {"name": "tiny_panns_tagger", "description": "tiny tagger", "input": spec["input"],
            "frontend": spec["frontend"], "backbone": {**TINY_PANNS, **backbone},
            "head": {"type": "tagger", "num_classes": 5}}


def _randomise(model: keras.Model, seed: int) -> None:
    """Weights far from any initialiser, so copied weights are recognisable (variances positive)."""
    rng = np.random.default_rng(seed)
    model.set_weights([np.abs(rng.standard_normal(w.shape)).astype("float32") + 0.5 for w in model.get_weights()])


@pytest.fixture
def source(tmp_path):
    """``(path, model)``: a saved tiny tagger with random backbone weights."""
    model = KaudioModel(_source_spec())
    _randomise(model, 0)
    path = tmp_path / "source.keras"
    model.save(path)
    return path, model


def _equal(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


# --- the copy ---------------------------------------------------------------------------------


def test_backbone_weights_copied_head_untouched(source):
    path, model = source
    target = KaudioModel(_target_spec())
    head_before = target.head.get_weights()
    with warnings.catch_warnings():
        warnings.simplefilter("error", KaudioWarning)  # same front end: no warning
        report = init_backbone(target, path)
    assert _equal(target.backbone.get_weights(), model.backbone.get_weights())
    assert _equal(target.head.get_weights(), head_before)
    assert report.source == path and report.frontend_differences == []
    assert {"bn0", "conv_block1_conv1_conv", "conv_block2_conv2_bn", "fc1"} <= set(report.layers)
    assert report.n_weights == len(target.backbone.weights)  # BN moving statistics included
    x = np.random.default_rng(1).standard_normal((2, 2000, 1)).astype("float32")
    np.testing.assert_allclose(target.backbone(target.frontend(x)), model.backbone(model.frontend(x)), rtol=1e-5)


def test_mismatched_backbone_lists_every_problem_and_copies_nothing(tmp_path, source):
    path, _ = source
    target = KaudioModel(_target_spec() | {"backbone": {**TINY_PANNS, "filters": [4, 6, 6]}})
    before = target.backbone.get_weights()
    with pytest.raises(KaudioError) as info:
        init_backbone(target, path)
    text = str(info.value)
    assert "nothing was copied" in text
    for needle in ("conv_block3_conv1_conv", "conv_block3_conv2_bn",  # missing in the source
                   "conv_block2_conv1_conv: weight shapes [(3, 3, 4, 8)] in the source, [(3, 3, 4, 6)]",
                   "conv_block2_conv1_bn", "fc1: weight shapes [(8, 8), (8,)] in the source, [(6, 8), (8,)]"):
        assert needle in text, needle
    assert "conv_block1_conv1_conv:" not in text  # matching layers are not listed
    assert _equal(target.backbone.get_weights(), before)


def test_extra_source_layers_are_an_error(source):
    path, _ = source
    target = KaudioModel(_target_spec() | {"backbone": {**TINY_PANNS, "filters": [4]}})
    with pytest.raises(KaudioError, match="layers of the source backbone that the new one lacks: .*conv_block2"):
        init_backbone(target, path)


def test_init_head_copies_the_whole_network(source):
    """Continual fine-tuning (Lin et al. Table 2): the head's weights come too, so the outputs are the source's."""
    path, model = source
    target = KaudioModel(_source_spec())
    report = init_backbone(target, path, head=True)
    assert _equal(target.get_weights(), model.get_weights())
    assert any(name.startswith("head/") for name in report.layers)
    assert report.n_weights == len(target.backbone.weights) + len(target.head.weights)
    x = np.random.default_rng(2).standard_normal((2, 2000, 1)).astype("float32")
    np.testing.assert_allclose(target(x), model(x), rtol=1e-5)


def test_init_head_of_another_head_is_an_error(source):
    path, _ = source
    spec = _source_spec()
    spec["head"] = {"type": "tagger", "num_classes": 3}
    target = KaudioModel(spec)
    before = target.head.get_weights()
    with pytest.raises(KaudioError, match=r"(?s)source head does not fit .*\(8, 3\).*init_head: false"):
        init_backbone(target, path, head=True)
    assert _equal(target.head.get_weights(), before)


def test_init_head_needs_init_weights():
    with pytest.raises(SpecError, match="train.init_head: copies the head"):
        load_spec(_target_spec(init_head=True))


def test_copy_checks_layer_classes():
    def backbone(layer):
        x = keras.Input((4,))
        return keras.Model(x, layer(x))

    source = backbone(keras.layers.Dense(4, name="fc1"))
    target = backbone(keras.layers.EinsumDense("ab,bc->ac", (4,), bias_axes="c", name="fc1"))
    with pytest.raises(KaudioError, match="fc1: source is a Dense, the new backbone has a EinsumDense"):
        copy_section_weights(source, target)


def test_unreadable_file_and_model_without_backbone(tmp_path):
    target = KaudioModel(_target_spec())
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip archive")
    with pytest.raises(KaudioError, match="bad.keras is not a Keras archive"):
        init_backbone(target, bad)
    x = keras.Input((4,))
    plain = keras.Model(x, keras.layers.Dense(2, name="dense")(x))
    plain.save(tmp_path / "plain.keras")
    with pytest.raises(KaudioError, match="has no 'backbone' sub-model .*dense"):
        init_backbone(target, tmp_path / "plain.keras")


def test_other_front_end_warns_with_the_differing_keys(source):
    """A 32 kHz checkpoint into a 16 kHz spec: same backbone shapes, so the copy happens, with a warning."""
    path, model = source
    spec = _target_spec()
    spec["input"] = {**spec["input"], "sample_rate": 16000}
    spec["frontend"] = {**spec["frontend"], "f_max": 6000.0}
    target = KaudioModel(spec)
    with pytest.warns(KaudioWarning, match=r"input.sample_rate: 8000 → 16000; frontend.f_max: 4000.0 → 6000.0"):
        report = init_backbone(target, path)
    assert len(report.frontend_differences) == 2
    assert _equal(target.backbone.get_weights(), model.backbone.get_weights())


def test_frontend_differences_of_the_panns_presets():
    a = load_spec("panns_cnn14")
    b = load_spec("panns_cnn14", ["input.sample_rate=16000", "frontend.preset=panns_16k"])
    keys = [line.split(":")[0] for line in frontend_differences(a, b)]
    assert keys[0] == "input.sample_rate"
    assert {"frontend.preset", "frontend.n_fft", "frontend.hop_length", "frontend.f_max"} <= set(keys)
    assert "frontend.n_mels" not in keys  # 64 either way, so bn0 fits
    assert frontend_differences(a, a) == []


# --- the spec keys ----------------------------------------------------------------------------


def test_spec_keys_default_and_resolve_relative_to_the_spec_folder(tmp_path, monkeypatch, source):
    path, _ = source
    assert load_spec(_target_spec()).train["init_weights"] is None
    assert load_spec(_target_spec()).train["freeze_backbone"] is False
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "weights.keras").write_bytes(path.read_bytes())
    spec_file = folder / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(_target_spec(init_weights="weights.keras", freeze_backbone=True)))
    monkeypatch.chdir(tmp_path)  # not the spec's folder
    spec = load_spec(spec_file)
    assert spec.train["init_weights"] == str((folder / "weights.keras").resolve())
    assert spec.train["freeze_backbone"] is True
    assert load_spec(spec.to_dict()).train == spec.train  # the absolute path validates again
    # a relative --set value not in the spec's folder is looked up in the working directory
    assert load_spec(spec_file, ["train.init_weights=source.keras"]).train["init_weights"] == str(path.resolve())


@pytest.mark.parametrize("value, message", [
    ("missing.keras", "train.init_weights: no such file: .*missing.keras"),
    ("weights.h5", "not a .keras file"),
    ("", "empty string"),
])
def test_bad_init_weights_is_a_spec_problem(tmp_path, monkeypatch, value, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights.h5").write_bytes(b"")
    with pytest.raises(SpecError, match=message):
        load_spec(_target_spec(init_weights=value))


def test_bad_freeze_backbone_type():
    with pytest.raises(SpecError, match="train.freeze_backbone"):
        load_spec(_target_spec(freeze_backbone="yes"))


# --- in kaudio.fit ----------------------------------------------------------------------------


def _count_calls(monkeypatch) -> list:
    calls = []
    original = init_module.init_backbone

    def spy(model, path, head=False):
        calls.append(path)
        return original(model, path, head=head)

    monkeypatch.setattr(init_module, "init_backbone", spy)
    return calls


def test_fit_with_frozen_initialised_backbone(tmp_path, monkeypatch, source):
    """freeze_backbone: after an epoch the backbone (BN statistics included) is still the source's,
    the head has trained; the saved model does not need the source file to load."""
    path, model = source
    calls = _count_calls(monkeypatch)
    spec = _target_spec(init_weights=str(path), freeze_backbone=True)
    result = fit(spec, toy_dataset(16, 0), toy_dataset(8, 1), run_dir=tmp_path / "run", verbose=0)
    assert len(calls) == 1
    assert _equal(result.model.backbone.get_weights(), model.backbone.get_weights())
    keras.utils.set_random_seed(0)  # fit seeds with train.seed before building: the head's initial weights
    fresh = KaudioModel(load_spec(spec, {"train.init_weights": None}))
    assert not _equal(result.model.head.get_weights(), fresh.head.get_weights())
    info = json.loads((tmp_path / "run" / "init_weights.json").read_text())
    assert info["source"] == str(path) and "fc1" in info["layers"] and info["frontend_differences"] == []
    assert yaml.safe_load((tmp_path / "run" / "spec.yaml").read_text())["train"]["init_weights"] == str(path)
    path.unlink()  # best.keras records init_weights: null, so it loads without the source file
    best = keras.models.load_model(tmp_path / "run" / "best.keras")
    assert best.spec.train["init_weights"] is None and best.spec.train["freeze_backbone"] is True
    assert _equal(best.backbone.get_weights(), result.model.backbone.get_weights())


def test_fit_without_freeze_trains_the_initialised_backbone(tmp_path, monkeypatch, source):
    path, model = source
    calls = _count_calls(monkeypatch)
    result = fit(_target_spec(init_weights=str(path)), toy_dataset(16, 0), toy_dataset(8, 1),
                 run_dir=tmp_path / "run", verbose=0)
    assert len(calls) == 1
    trained = [w.numpy() for w in result.model.backbone.trainable_weights]
    start = [w.numpy() for w in model.backbone.trainable_weights]
    assert not _equal(trained, start)
    # started from the source: every trainable weight moved only a little in one epoch of 2 steps at
    # lr ≤ 3e-3 (the BN moving statistics do move far: batch statistics of the randomised network)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(trained, start)) < 0.1


def _tagging_dataset(n, seed):
    """The toy clips with 5 random tags each (the source tagger's classes)."""
    import tensorflow as tf

    audio, _ = toy_arrays(n, seed, masked=False)
    labels = np.random.default_rng(seed).integers(0, 2, (n, 5)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((audio, {"labels": labels})).batch(8)


def test_fit_with_init_head_starts_from_the_whole_source_and_saves_a_loadable_model(tmp_path, source):
    path, model = source
    spec = _source_spec() | {"train": {"type": "supervised", "epochs": 1, "batch_size": 8, "init_weights": str(path),
                                       "init_head": True, "learning_rate": 1e-9, "warmup_epochs": 0,
                                       "spec_augment": {"enabled": False}}}
    result = fit(spec, _tagging_dataset(16, 0), _tagging_dataset(8, 1), run_dir=tmp_path / "run", verbose=0)
    start = [w.numpy() for w in model.head.trainable_weights]
    assert all(np.allclose(a.numpy(), b, atol=1e-5) for a, b in zip(result.model.head.trainable_weights, start))
    best = keras.models.load_model(tmp_path / "run" / "best.keras")
    assert best.spec.train["init_weights"] is None and best.spec.train["init_head"] is False


def test_resume_does_not_reapply_init_weights(tmp_path, monkeypatch, source):
    path, model = source
    calls = _count_calls(monkeypatch)
    spec = _target_spec(init_weights=str(path), freeze_backbone=True)
    spec["train"]["epochs"] = 2
    with pytest.raises(Interrupt):
        fit(spec, toy_dataset(16, 0), toy_dataset(8, 1), run_dir=tmp_path / "run", verbose=0,
            callbacks=[InterruptAfterEpoch(0)])
    assert len(calls) == 1 and (tmp_path / "run" / "init_weights.json").is_file()
    # another source in the same place: a resumed run must keep its restored state, not reload it
    other = KaudioModel(_source_spec())
    _randomise(other, 5)
    other.save(path)
    resumed = fit(spec, toy_dataset(16, 0), toy_dataset(8, 1), run_dir=tmp_path / "run", verbose=0)
    assert len(calls) == 1
    assert len(resumed.history["loss"]) == 2
    assert _equal(resumed.model.backbone.get_weights(), model.backbone.get_weights())  # frozen on resume too
    assert json.loads((tmp_path / "run" / "init_weights.json").read_text())["source"] == str(path)
