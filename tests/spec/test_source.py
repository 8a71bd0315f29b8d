"""extends merging and --set overrides."""
import pytest
import yaml

from kaudio.errors import SpecError
from kaudio.spec import load_spec
from kaudio.spec.source import SpecLoader, apply_overrides, load_raw

BASE = """\
name: base
description: base spec
input: {type: audio, sample_rate: 8000, samples: 4000}
frontend: {type: mel, n_fft: 256, hop_length: 128, n_mels: 32}
backbone: {type: l3_audio, filters: [4, 8]}
head: {type: embedding_pool, embedding_size: 128, pool_sizes: {128: [4, 4], 8: [16, 16]}}
"""


def test_extends_merges_sections_and_replaces_on_type_change(write_spec):
    write_spec(BASE, "base.yaml")
    child = write_spec("extends: base.yaml\nname: child\nfrontend:\n  type: linear\n  n_fft: 128\n"
                       "head: {embedding_size: 8, pool_sizes: {8: [64, 64]}}\n", "child.yaml")
    spec = load_spec(child)
    assert spec.name == "child" and spec.description == "base spec"
    assert spec.frontend["type"] == "linear" and "n_mels" not in spec.frontend  # replaced, not merged
    assert spec.backbone["filters"] == [4, 8]


def test_extends_chain_and_bundled_parent(write_spec):
    child = write_spec("extends: l3_m128\nname: mine\nhead:\n  embedding_size: 512\n")
    spec = load_spec(child)
    assert spec.frontend["n_mels"] == 128 and spec.head["embedding_size"] == 512
    assert spec.head["pool_sizes"][512] == [16, 24]


def test_problem_location_points_at_the_file_that_set_the_value(write_spec):
    base = write_spec(BASE.replace("n_mels: 32", "n_mels: many"), "base.yaml")
    child = write_spec("extends: base.yaml\nname: child\n", "child.yaml")
    with pytest.raises(SpecError) as info:
        load_spec(child)
    (problem,) = info.value.problems
    assert problem.path == "frontend.n_mels" and problem.file == str(base.resolve()) and problem.line == 4


def test_circular_extends(write_spec):
    write_spec("extends: b.yaml\nname: a\n", "a.yaml")
    b = write_spec("extends: a.yaml\nname: b\n", "b.yaml")
    with pytest.raises(SpecError, match=r"circular extends: b.yaml -> a.yaml -> b.yaml"):
        load_raw(b)


def test_missing_parent(write_spec):
    child = write_spec("extends: nowhere.yaml\nname: a\n")
    with pytest.raises(SpecError, match="no such spec file in .* or bundled spec: 'nowhere.yaml'"):
        load_spec(child)


def test_overrides_parse_yaml_values_and_validate(write_spec):
    path = write_spec(BASE)
    spec = load_spec(path, ["backbone.filters=[2, 8]", "frontend.f_max=3000", "backbone.filters.0=3"])
    assert spec.backbone["filters"] == [3, 8] and spec.frontend["f_max"] == 3000.0


def test_exponent_floats_without_a_dot_are_numbers(write_spec):
    """YAML 1.2 floats: 1e-3 (PyYAML's YAML 1.1 would read it as a string and the schema refuse it)."""
    path = write_spec(BASE.replace("n_mels: 32}", "n_mels: 32, f_max: 3e3}"))
    spec = load_spec(path, ["frontend.f_min=2.5E1", "frontend.n_fft=256"])
    assert spec.frontend["f_max"] == 3000.0 and spec.frontend["f_min"] == 25.0 and spec.frontend["n_fft"] == 256
    assert [yaml.load(text, Loader=SpecLoader) for text in ("-1e+1", "1_0e2", "1.5e-3", "12", "1.5")] == [
        -10.0, 1000.0, 0.0015, 12, 1.5]
    assert apply_overrides(load_raw(path), ["name=1e3x"]).data["name"] == "1e3x"  # not a number: still a string


def test_override_of_nonexistent_key_is_reported_with_its_origin(write_spec):
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(BASE), ["head.embeding_size=512", "nothing.at.all=1"])
    by_path = {p.path: p for p in info.value.problems}
    assert "did you mean 'embedding_size'" in by_path["head.embeding_size"].message
    assert by_path["head.embeding_size"].file == "--set head.embeding_size=512"
    assert "unknown top-level key" in by_path["nothing"].message


@pytest.mark.parametrize("override, message", [
    ("head.embedding_size", "expected KEY.PATH=VALUE"),
    ("backbone.filters.5=1", "index 5 is out of range"),
    ("name.x=1", "not a mapping"),
    ("a..b=1", "empty key"),
])
def test_malformed_overrides(write_spec, override, message):
    with pytest.raises(SpecError, match=message):
        apply_overrides(load_raw(write_spec(BASE)), [override])


def test_missing_extends_target_is_reported_at_the_child_line(write_spec):
    child = write_spec("name: child\nextends: nosuch.yaml\n", "child.yaml")
    with pytest.raises(SpecError) as info:
        load_spec(child)
    (problem,) = info.value.problems
    assert problem.file == str(child.resolve()) and problem.line == 2 and problem.path == "extends"
    assert f"no such spec file in {child.parent.resolve()} or bundled spec: 'nosuch.yaml'" in problem.message
