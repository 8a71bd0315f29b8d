"""Hierarchy validation, tag checks and max-rule coarse labels (Zhong et al. §3.1, Fig. 1)."""
import numpy as np
import pytest

from kaudio.errors import InputError, KaudioError, SpecError
from kaudio.hierarchy import Hierarchy, TagError
from kaudio.spec import bundled

GROUPS = {"woodwind": ["flute", "clarinet", "saxophone"], "brass": ["trumpet", "trombone"], "vocals": ["voice"]}


def problems_of(mapping):
    with pytest.raises(SpecError) as info:
        Hierarchy.from_mapping(mapping)
    return [(p.path, p.message) for p in info.value.problems]


# --- construction -----------------------------------------------------------------------------


def test_order_membership_and_views():
    h = Hierarchy.from_mapping(GROUPS)
    assert h.coarse_names == ("woodwind", "brass", "vocals")
    assert h.fine_names == ("flute", "clarinet", "saxophone", "trumpet", "trombone", "voice")
    assert (h.n_fine, h.n_coarse) == (6, 3)
    assert h.parent_of == (0, 0, 0, 1, 1, 2)
    expected = np.zeros((6, 3), np.float32)
    expected[[0, 1, 2], 0] = expected[[3, 4], 1] = expected[5, 2] = 1
    np.testing.assert_array_equal(h.membership, expected)
    assert h.membership.dtype == np.float32 and not h.membership.flags.writeable
    assert h.to_mapping() == GROUPS and list(h.to_mapping()) == list(GROUPS)
    assert h.children("brass") == ("trumpet", "trombone")
    assert h.parent("saxophone") == "woodwind"
    assert h.fine_index(["voice", "flute"]) == [5, 0]
    assert Hierarchy.from_mapping(h) is h
    assert h == Hierarchy.from_mapping(dict(GROUPS)) and hash(h) == hash(Hierarchy.from_mapping(GROUPS))
    assert h != Hierarchy.from_mapping({"brass": ["trumpet", "trombone"], **GROUPS})  # other order
    assert "3 coarse, 6 fine" in repr(h)


def test_unknown_coarse_in_children_suggests():
    h = Hierarchy.from_mapping(GROUPS)
    with pytest.raises(TagError, match="unknown coarse tag 'bras'; did you mean 'brass'"):
        h.children("bras")


@pytest.mark.parametrize("mapping, path, fragment", [
    ({"a": ["x", 3]}, "a[1]", "fine tag names must be strings, got int 3"),
    ({"a": ["x", None]}, "a[1]", "got null"),
    ({"a": ["x", True]}, "a[1]", "booleans"),
    ({5: ["x"]}, "[5]", "coarse tag names must be strings, got int 5"),
    ({"a": ["x", "  "]}, "a[1]", "must not be empty"),
    ({"": ["x"]}, "", "coarse tag names must not be empty"),
    ({"a": [" x"]}, "a[0]", "leading or trailing spaces"),
    ({"a": ["x;y"]}, "a[0]", "tag separator"),
    ({"a": []}, "a", "has no fine tags"),
    ({"a": None}, "a", "expected a list of fine tags, got nothing"),
    ({"a": "x"}, "a", "got string 'x' (write [x])"),
    ({"a": {"x": 1}}, "a", "expected a list of fine tags, got dict"),
    ({"a": ["x", "y", "x"]}, "a[2]", "'x' is listed twice under 'a' (items 0 and 2)"),
    ({"a": ["x"], "b": ["y", "x"]}, "b[1]", "listed under both 'a' and 'b'; every fine tag needs exactly one parent"),
])
def test_each_validation_error(mapping, path, fragment):
    ((p, message),) = problems_of(mapping)
    assert p == path and fragment in message


@pytest.mark.parametrize("mapping, fragment", [
    ([["a", "x"]], "got a list"), (None, "got nothing"), ({}, "the hierarchy is empty"), ("a", "got 'a'"),
])
def test_not_a_mapping(mapping, fragment):
    ((path, message),) = problems_of(mapping)
    assert path == "" and fragment in message and "coarse_tag: [fine_tag, ...]" in message


def test_a_tag_on_both_levels_is_refused():
    # its own parent
    ((path, message),) = problems_of({"strings": ["strings", "cello"]})
    assert path == "strings[0]" and "tag 'strings' is its own parent" in message
    # a cycle: both listings are reported
    problems = problems_of({"strings": ["violin", "brass"], "brass": ["trumpet", "strings"]})
    assert [p for p, _ in problems] == ["strings[1]", "brass[1]"]
    assert "cycle: 'brass' is listed under 'strings' and 'strings' under 'brass'" in problems[0][1]
    # a third level
    ((path, message),) = problems_of({"strings": ["violin", "bowed"], "bowed": ["cello"]})
    assert path == "strings[1]" and "'bowed' is a coarse tag" in message and "exactly two levels" in message


def test_cycle_in_a_file_names_the_line(tmp_path):
    path = tmp_path / "h.yaml"
    path.write_text("strings: [violin, brass]\nbrass:\n  - trumpet\n  - strings\n")
    with pytest.raises(SpecError) as info:
        Hierarchy.load(path)
    lines = [(p.path, p.line) for p in info.value.problems]
    assert lines == [("strings[1]", 1), ("brass[1]", 4)]


def test_every_problem_reported_at_once():
    problems = problems_of({"a": ["x", "x", 1], "b": [], "c": ["x"]})
    assert [p for p, _ in problems] == ["a[1]", "a[2]", "b", "c[0]"]


def test_errors_are_kaudio_errors():
    assert issubclass(SpecError, KaudioError) and issubclass(TagError, KaudioError)


# --- files ------------------------------------------------------------------------------------


def load_problems(tmp_path, text):
    path = tmp_path / "h.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        Hierarchy.load(path)
    return info.value.problems, str(path)


def test_load_keeps_file_order_and_source(tmp_path):
    path = tmp_path / "h.yaml"
    path.write_text("# comment\nz: [b, a]\ny:\n  - c\n")
    h = Hierarchy.load(path)
    assert h.coarse_names == ("z", "y") and h.fine_names == ("b", "a", "c") and h.source == str(path)


def test_duplicate_coarse_key_with_line(tmp_path):
    (problem,), file = load_problems(tmp_path, "a: [x]\nb: [y]\na: [z]\n")
    assert (problem.path, problem.file, problem.line) == ("a", file, 3) and "duplicate key" in problem.message


def test_file_problems_carry_lines(tmp_path):
    problems, file = load_problems(tmp_path, "a:\n  - x\n  - y\nb:\n  - 7\n  - x\n")
    assert [(p.path, p.line, p.file) for p in problems] == [("b[0]", 5, file), ("b[1]", 6, file)]
    assert "listed under both 'a' and 'b'" in problems[1].message


@pytest.mark.parametrize("text, fragment", [
    ("", "got an empty file"), ("# only a comment\n", "got an empty file"), ("- a\n- b\n", "got a list"),
    ("just words\n", "got 'just words'"),
])
def test_empty_or_wrong_kind_of_file(tmp_path, text, fragment):
    (problem,), file = load_problems(tmp_path, text)
    assert fragment in problem.message and problem.file == file and problem.line == 1


def test_yaml_syntax_error_has_line(tmp_path):
    (problem,), _ = load_problems(tmp_path, "a: [x, y\nb: [z]\n")
    assert "YAML syntax error" in problem.message and problem.line == 2


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="cannot read the hierarchy file"):
        Hierarchy.load(tmp_path / "nope.yaml")


def test_bundled_openmic_tone_hierarchy():
    h = Hierarchy.load(bundled.directory() / "hierarchies" / "openmic_tone.yaml")
    openmic = {"accordion", "banjo", "bass", "cello", "clarinet", "cymbals", "drums", "flute", "guitar",
               "mallet_percussion", "mandolin", "organ", "piano", "saxophone", "synthesizer", "trombone",
               "trumpet", "ukulele", "violin", "voice"}
    assert set(h.fine_names) == openmic and h.n_fine == 20
    assert h.children("woodwind") == ("flute", "clarinet", "saxophone")  # named in the paper, §3.1


# --- tags -------------------------------------------------------------------------------------


def test_check_tags_lists_every_offender_with_suggestions():
    h = Hierarchy.from_mapping(GROUPS)
    h.check_tags(["flute", "voice"])  # no error
    with pytest.raises(TagError) as info:
        h.check_tags(["flute", "flutte", "brass", "kazoo", "kazoo"])
    message = str(info.value)
    assert message.startswith("3 tags not in the hierarchy: ")
    assert "'flutte' (did you mean 'flute'?)" in message
    assert "'brass' (a coarse tag: list its fine tags instead)" in message
    assert "'kazoo';" in message and message.count("kazoo") == 1  # deduplicated, no suggestion
    assert "known fine tags: flute, clarinet, saxophone, trumpet, trombone, voice" in message


def test_check_tags_names_the_file(tmp_path):
    path = tmp_path / "h.yaml"
    path.write_text("a: [x]\n")
    with pytest.raises(TagError, match=r"1 tag not in the hierarchy in .*h\.yaml: 'y'"):
        Hierarchy.load(path).fine_index(["y"])


# --- coarse labels (max rule) -----------------------------------------------------------------


def test_coarse_from_fine_truth_table():
    h = Hierarchy.from_mapping({"a": ["x", "y"], "b": ["z"]})
    # rows: (x, y, z) labels and masks (1 known)
    y = np.array([[1, 0, 0],        # positive child → a = 1 known
                  [1, np.nan, 1],   # positive known child, unknown sibling → still 1 known
                  [0, 0, 0],        # all children known negative → 0 known
                  [0, np.nan, np.nan],  # unknown child, no positive → masked
                  [np.nan, 1, 0],   # unknown x, positive y → 1 known
                  [0.3, 0.7, 0.2]])  # soft labels: max rule
    m = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1], [1, 0, 0], [0, 1, 1], [1, 1, 1]])
    yc, mc = h.coarse_from_fine(y, m)
    np.testing.assert_allclose(yc, [[1, 0], [1, 1], [0, 0], [0, 0], [1, 0], [0.7, 0.2]], rtol=1e-6)
    np.testing.assert_array_equal(mc, [[1, 1], [1, 1], [1, 1], [0, 0], [1, 1], [1, 1]])
    assert yc.dtype == mc.dtype == np.float32


def test_coarse_from_fine_without_mask_and_soft_negative():
    h = Hierarchy.from_mapping({"a": ["x", "y"]})
    yc, mc = h.coarse_from_fine([[0, 1], [0, 0]])
    np.testing.assert_array_equal(yc, [[1], [0]])
    np.testing.assert_array_equal(mc, [[1], [1]])
    # a soft known label below 0.5 with an unknown sibling: not enough to know the parent
    yc, mc = h.coarse_from_fine([[0.4, 0]], [[1, 0]])
    np.testing.assert_array_equal(mc, [[0]])
    np.testing.assert_array_equal(yc, [[0]])


@pytest.mark.parametrize("y, mask, fragment", [
    (np.zeros((2, 2)), None, r"shape \(n, 3\)"),
    (np.zeros(3), None, r"shape \(n, 3\)"),
    (np.zeros((2, 3)), np.ones((2, 2)), "the fine mask has shape"),
    (np.zeros((1, 3)), [[1, 0.5, 1]], "mask values must be 0"),
    ([[0, 2, 0]], None, r"finite numbers in \[0, 1\]"),
    ([[0, np.nan, 0]], [[1, 1, 1]], "finite"),
    ([[-1, 0, 0]], None, "finite"),
])
def test_coarse_from_fine_rejects_bad_input(y, mask, fragment):
    h = Hierarchy.from_mapping({"a": ["x", "y"], "b": ["z"]})
    with pytest.raises(InputError, match=fragment):
        h.coarse_from_fine(y, mask)
