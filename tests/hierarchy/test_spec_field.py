"""The spec's `hierarchy:` key: inline mapping, file relative to the spec, absolute path, bundled name."""
import pytest
import yaml

import kaudio
from kaudio.errors import SpecError
from kaudio.hierarchy import bundled_hierarchy_names, resolve_hierarchy
from tests.conftest import tiny_tagging_spec

GROUPS = {"high": ["flute", "violin"], "low": ["bass"]}


def spec_with(hierarchy, head_type="gmp"):
    return tiny_tagging_spec(head={"type": head_type, "hierarchy": hierarchy})


def spec_problems(ref):
    with pytest.raises(SpecError) as info:
        kaudio.load_spec(ref)
    return info.value.problems


def test_inline_mapping_is_kept_in_order():
    spec = kaudio.load_spec(spec_with(GROUPS))
    assert spec.head["hierarchy"] == GROUPS and list(spec.head["hierarchy"]) == ["high", "low"]


def test_file_relative_to_the_spec_becomes_inline(tmp_path, write_spec):
    (tmp_path / "trees").mkdir()
    (tmp_path / "trees" / "h.yaml").write_text(yaml.safe_dump(GROUPS, sort_keys=False))
    path = write_spec(yaml.safe_dump(spec_with("trees/h.yaml")))
    spec = kaudio.load_spec(path)
    assert spec.head["hierarchy"] == GROUPS
    # the validated spec is self-contained: re-validating its dict needs no file
    assert kaudio.load_spec(spec.to_dict()).head["hierarchy"] == GROUPS


def test_relative_path_is_not_resolved_against_the_working_directory(tmp_path, write_spec, monkeypatch):
    (tmp_path / "h.yaml").write_text(yaml.safe_dump(GROUPS))
    sub = tmp_path / "specs"
    sub.mkdir()
    spec_path = sub / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec_with("h.yaml")))
    monkeypatch.chdir(tmp_path)  # h.yaml exists here, but not beside the spec
    (problem,) = spec_problems(spec_path)
    assert problem.path == "head.hierarchy" and "no hierarchy file 'h.yaml'" in problem.message
    assert str(sub) in problem.message


def test_absolute_path(tmp_path):
    path = tmp_path / "abs.yaml"
    path.write_text(yaml.safe_dump(GROUPS))
    assert kaudio.load_spec(spec_with(str(path))).head["hierarchy"] == GROUPS


@pytest.mark.parametrize("ref", ["openmic_tone", "openmic_tone.yaml", "hierarchies/openmic_tone.yaml"])
def test_bundled_name(ref):
    assert "openmic_tone" in bundled_hierarchy_names()
    hierarchy = kaudio.load_spec(spec_with(ref)).head["hierarchy"]
    assert hierarchy["woodwind"] == ["flute", "clarinet", "saxophone"] and sum(map(len, hierarchy.values())) == 20


def test_a_local_file_wins_over_a_bundled_name(tmp_path, write_spec):
    (tmp_path / "openmic_tone.yaml").write_text(yaml.safe_dump(GROUPS))
    path = write_spec(yaml.safe_dump(spec_with("openmic_tone.yaml")))
    assert kaudio.load_spec(path).head["hierarchy"] == GROUPS


def test_unknown_file_lists_the_bundled_hierarchies():
    (problem,) = spec_problems(spec_with("no_such_tree"))
    assert problem.path == "head.hierarchy"
    assert "no hierarchy file 'no_such_tree'" in problem.message and "openmic_tone" in problem.message


def test_problems_inside_a_file_name_file_and_line(tmp_path, write_spec):
    tree = tmp_path / "bad.yaml"
    tree.write_text("a: [x, y]\nb:\n  - z\n  - x\nc: []\n")
    path = write_spec(yaml.safe_dump(spec_with("bad.yaml")))
    problems = spec_problems(path)
    assert [p.path for p in problems] == ["head.hierarchy.b[1]", "head.hierarchy.c"]
    assert f"(in {tree}:4)" in problems[0].message and "listed under both 'a' and 'b'" in problems[0].message
    assert f"(in {tree}:5)" in problems[1].message and "has no fine tags" in problems[1].message
    assert all(p.file == str(path) for p in problems)


def test_duplicate_coarse_key_in_a_file(tmp_path, write_spec):
    (tmp_path / "dup.yaml").write_text("a: [x]\na: [y]\n")
    (problem,) = spec_problems(write_spec(yaml.safe_dump(spec_with("dup.yaml"))))
    assert problem.path == "head.hierarchy.a" and "duplicate key" in problem.message and "dup.yaml:2)" in problem.message


def test_empty_file_in_a_spec(tmp_path, write_spec):
    (tmp_path / "empty.yaml").write_text("")
    (problem,) = spec_problems(write_spec(yaml.safe_dump(spec_with("empty.yaml"))))
    assert problem.path == "head.hierarchy" and "got an empty file" in problem.message


def test_inline_problems_have_paths():
    problems = spec_problems(spec_with({"a": ["x", "x"], 3: ["y"]}))
    assert [p.path for p in problems] == ["head.hierarchy.a[1]", "head.hierarchy[3]"]
    assert "listed twice under 'a'" in problems[0].message and "must be strings, got int 3" in problems[1].message


@pytest.mark.parametrize("value, fragment", [(None, "got null"), (3, "got int 3"), ("  ", "got str"),
                                             (["a", "b"], "got list")])
def test_hierarchy_must_be_a_mapping_or_a_name(value, fragment):
    (problem,) = spec_problems(spec_with(value))
    assert problem.path == "head.hierarchy" and "an inline mapping" in problem.message and fragment in problem.message


def test_hierarchy_is_required():
    (problem,) = spec_problems(tiny_tagging_spec(head={"type": "resatt"}))
    assert problem.path == "head.hierarchy" and "missing required key" in problem.message


def test_resolve_hierarchy_without_context_uses_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "h.yaml").write_text(yaml.safe_dump(GROUPS))
    monkeypatch.chdir(tmp_path)
    params = {"hierarchy": "h.yaml"}
    assert resolve_hierarchy(params, None) == [] and params["hierarchy"] == GROUPS
