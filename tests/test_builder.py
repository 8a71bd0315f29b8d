"""Every bundled spec validates and builds; one spec of each architecture also saves to .keras and
reloads with no custom_objects giving identical outputs.

Bundled specs that differ only in their head's type (the seven openmic_cnn14_* specs: one CNN14,
seven hierarchical heads) form a group: the group's base spec (the one that does not ``extends``
another) gets the full save/reload test at its real input length; the others are validated as
shipped and built and run with a 1-s input (their CNN14 graph and head are the same; the
saved-model round trip of each head type is tested in tests/heads).
"""
import json

import numpy as np
import pytest
import yaml

import kaudio
from kaudio import registry
from kaudio.cli.main import main
from kaudio.hierarchy import Hierarchy
from kaudio.spec import bundled
from tests.conftest import tiny_audio_spec


def _architecture_key(name: str) -> str:
    """The spec without name, description and head type (what head-type variants share)."""
    data = kaudio.load_spec(name).to_dict()
    del data["name"], data["description"]
    head = data.get("head") or {}
    data["head"] = {"hierarchy": head.get("hierarchy")} if "hierarchy" in head else head
    return json.dumps(data, sort_keys=True, default=str)


def _extends(name: str) -> bool:
    return "extends" in (yaml.safe_load(bundled.find(name).read_text(encoding="utf-8")) or {})


def _groups() -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for name in bundled.names():
        groups.setdefault(_architecture_key(name), []).append(name)
    return [sorted(names, key=lambda n: (_extends(n), n)) for names in groups.values()]


GROUPS = _groups()
FULL = sorted(group[0] for group in GROUPS)
HEAD_VARIANTS = sorted(name for group in GROUPS for name in group[1:])


def _expected_shapes(spec, batch: int) -> dict | tuple:
    if spec.fusion:
        return (batch, spec.fusion["num_classes"])
    head = spec.head
    if isinstance(spec.output_shape, dict) and "hierarchy" not in head:  # heads with several outputs (SED)
        return {name: (batch,) + tuple(shape) for name, shape in spec.output_shape.items()}
    if "hierarchy" in head:
        hierarchy = Hierarchy.from_mapping(head["hierarchy"])
        shapes = {"fine": (batch, hierarchy.n_fine), "coarse": (batch, hierarchy.n_coarse)}
        if head.get("output_attention"):
            shapes["attention"] = (batch, hierarchy.n_fine, hierarchy.n_coarse)
        return shapes
    return (batch, head["embedding_size"] if "embedding_size" in head else head["num_classes"])


def _example_inputs(model, batch: int = 2):
    """Random inputs for a model (a dict for a model with towers)."""
    rng = np.random.default_rng(0)

    def one(tensor):
        return rng.standard_normal((batch,) + tuple(tensor.shape[1:])).astype("float32") * 0.1

    return {name: one(t) for name, t in model.input.items()} if isinstance(model.input, dict) else one(model.input)


def _as_dict(output) -> dict:
    return {key: np.asarray(value) for key, value in output.items()} if isinstance(output, dict) else {"": output}


def test_groups_cover_every_bundled_spec_once():
    assert sorted(FULL + HEAD_VARIANTS) == bundled.names()
    openmic = next(group for group in GROUPS if "openmic_cnn14_resatt" in group)
    assert openmic[0] == "openmic_cnn14_resatt"
    assert set(openmic[1:]) == {f"openmic_cnn14_{head}" for head in ("flat", "gap", "gmp", "levelwise", "lp",
                                                                     "topdown")}


@pytest.mark.parametrize("name", FULL)
def test_bundled_spec_builds_saves_reloads_identically(name, tmp_path):
    import keras

    model = kaudio.build(name)
    assert isinstance(model, kaudio.KaudioModel)
    assert model.get_config()["spec"]["name"] == name
    x = _example_inputs(model)
    expected = _as_dict(model.predict(x, verbose=0))
    model.save(tmp_path / f"{name}.keras")
    loaded = keras.models.load_model(tmp_path / f"{name}.keras")
    assert type(loaded) is kaudio.KaudioModel and loaded.spec == model.spec
    got = _as_dict(loaded.predict(x, verbose=0))
    assert got.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])
        assert np.isfinite(expected[key]).all()
    shapes = _expected_shapes(model.spec, 2)
    assert {key: value.shape for key, value in expected.items()} == (shapes if isinstance(shapes, dict) else
                                                                     {"": shapes})


@pytest.mark.parametrize("name", HEAD_VARIANTS)
def test_head_variant_spec_validates_builds_and_runs(name):
    spec = kaudio.load_spec(name)  # as shipped (full input length)
    base = kaudio.load_spec(next(group[0] for group in GROUPS if name in group))
    assert spec.head["type"] != base.head["type"]
    assert spec.backbone == base.backbone and spec.frontend == base.frontend and spec.input == base.input
    model = kaudio.build(name, ["input.duration=1.0"])
    assert model.spec.head == spec.head and model.head.name == "head"
    assert type(model.head) is registry.get("head", spec.head["type"])
    x = np.random.default_rng(0).standard_normal((2, 16000, 1)).astype("float32") * 0.1
    output = _as_dict(model.predict(x, verbose=0))
    shapes = _expected_shapes(spec, 2)
    assert {key: value.shape for key, value in output.items()} == shapes
    assert all(np.isfinite(value).all() for value in output.values())
    assert all(((value >= 0) & (value <= 1)).all() for value in output.values())


def test_openmic_cnn14_specs_follow_the_paper():
    """Zhong et al. §4.2: 16 kHz mono 10-s clips, 64-bin log-mel 50–8000 Hz, 32-ms window, 10-ms hop,
    CNN14 (2048-d), batch 16, lr 1e-4, weight decay 1e-4, 5-epoch warm-up, SpecAugment."""
    for name in ["openmic_cnn14_resatt", *(n for n in HEAD_VARIANTS if n.startswith("openmic_cnn14_"))]:
        spec = kaudio.load_spec(name)
        assert spec.input["sample_rate"] == 16000 and spec.input["samples"] == 160000
        assert spec.input["channels"] == 1
        frontend = spec.frontend
        assert (frontend["n_mels"], frontend["f_min"], frontend["f_max"]) == (64, 50.0, 8000.0)
        assert (frontend["win_length"], frontend["hop_length"]) == (512, 160)  # 32 ms, 10 ms at 16 kHz
        assert spec.backbone["preset"] == "cnn14" and spec.backbone["embedding_size"] == 2048
        assert len(Hierarchy.from_mapping(spec.head["hierarchy"]).fine_names) == 20  # OpenMIC's 20 instruments
        train = spec.train
        assert (train["batch_size"], train["learning_rate"], train["weight_decay"]) == (16, 1e-4, 1e-4)
        assert train["warmup_epochs"] == 5.0 and train["spec_augment"]["enabled"] is True
        assert train["init_weights"] is None and train["freeze_backbone"] is False
        assert spec.loss["type"] == "hierarchical_bce" and spec.loss["fine_weight"] == 0.8
    resatt = kaudio.load_spec("openmic_cnn14_resatt").head
    assert resatt["type"] == "resatt" and resatt["output_attention"] is False
    # a section whose type changes is replaced, not merged: no resatt key leaks into another head
    assert "output_attention" not in kaudio.load_spec("openmic_cnn14_gmp").head


def test_openmic_cnn14_init_weights_override_resolves_in_working_directory(tmp_path, monkeypatch):
    (tmp_path / "cnn14_16k.keras").write_bytes(b"not checked at validation")
    monkeypatch.chdir(tmp_path)
    spec = kaudio.load_spec("openmic_cnn14_gmp", ["train.init_weights=cnn14_16k.keras"])
    assert spec.train["init_weights"] == str((tmp_path / "cnn14_16k.keras").resolve())


def test_kaudio_specs_lists_the_openmic_specs_with_descriptions(capsys):
    assert main(["specs"]) == 0
    rows = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    for head in ("resatt", "flat", "gmp", "gap", "lp", "levelwise", "topdown"):
        name = f"openmic_cnn14_{head}"
        assert name in rows, name
        assert rows[name].strip() == kaudio.load_spec(name).description
        assert "OpenMIC" in rows[name] and "CNN14" in rows[name]
    descriptions = [rows[f"openmic_cnn14_{head}"] for head in ("resatt", "flat", "gmp", "gap", "lp", "levelwise",
                                                                "topdown")]
    assert len(set(descriptions)) == len(descriptions)


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


def test_l3_avc_m256_is_the_reference_audio_visual_network():
    """marl/l3embedding's AVC network: towers with BN + ReLU after the embedding conv, max-pooled to 512,
    concat vision first → Dense 128 ReLU → Dense 2 softmax; 9,516,434 parameters (7,688 BN statistics)."""
    model = kaudio.build("l3_avc_m256")
    assert model.count_params() == 9_516_434
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == 7_688
    assert model.tower_names == ["vision", "audio"] and model.spec.fusion["order"] == ["vision", "audio"]
    assert model.tower("vision").count_params() == 4_693_068 and model.tower("audio").count_params() == 4_691_908
    assert model.get_layer("fusion").count_params() == 131_458
    audio_backbone = model.tower("audio").get_layer("backbone")
    assert audio_backbone.layers[-3].name == "audio_embedding_layer"  # the embedding tap, before BN + ReLU
    assert [layer.name for layer in audio_backbone.layers[-2:]] == ["audio_embedding_layer_bn", "audio_embedding_layer_relu"]
    assert model.output.shape == (None, 2)


def test_bare_backbone_without_head():
    spec = tiny_audio_spec()
    del spec["head"]
    model = kaudio.build(spec)
    assert model.head is None and tuple(model.output.shape[1:]) == (16, 16, 8)

