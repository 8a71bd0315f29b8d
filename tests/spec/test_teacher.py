"""The teacher: section: the teacher's spec and weights resolved and checked at validation."""
import pytest
import yaml

from kaudio.errors import SpecError
from kaudio.spec import load_spec
from tests.conftest import tiny_audio_spec


def problems_of(spec):
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    return {p.path: p for p in info.value.problems}


@pytest.fixture
def teacher_files(tmp_path):
    (tmp_path / "teacher.yaml").write_text(yaml.safe_dump(tiny_audio_spec(name="teacher")))
    (tmp_path / "teacher.keras").write_bytes(b"pretend")
    return tmp_path


def test_paths_are_resolved_against_the_spec_folder(teacher_files, write_spec):
    path = write_spec(yaml.safe_dump({**tiny_audio_spec(), "teacher": {"spec": "teacher.yaml", "weights": "teacher.keras"}}))
    spec = load_spec(path)
    assert spec.teacher == {"spec": str(teacher_files / "teacher.yaml"), "weights": str(teacher_files / "teacher.keras"),
                            "overrides": None, "output": None}


def test_bundled_teacher_and_output_size_check():
    spec = tiny_audio_spec(backbone={"type": "l3_audio", "filters": [4, 8]})
    problems = problems_of({**spec, "teacher": {"spec": "l3_m256_512", "weights": None}})
    message = problems["teacher.spec"].message
    assert "the teacher 'l3_m256_512' outputs (512,) per example, the student (128,)" in message
    assert "classes" not in message  # embeddings, not class probabilities


def test_teacher_problems(teacher_files):
    problems = problems_of({**tiny_audio_spec(), "teacher": {"spec": "l3_m25", "weigths": None}})
    assert "did you mean 'weights'" in problems["teacher.weigths"].message
    assert "missing required key" in problems["teacher.weights"].message
    problems = problems_of({**tiny_audio_spec(), "teacher": {"spec": "l3_m25", "weights": str(teacher_files / "x.h5")}})
    assert "did you mean 'l3_m256'" in problems["teacher.spec"].message
    assert "not a trained teacher (a file ending in .keras or .weights.h5)" in problems["teacher.weights"].message
    problems = problems_of({**tiny_audio_spec(), "teacher": {"spec": "l3_m256", "weights": "nope.keras"}})
    assert "no such file" in problems["teacher.weights"].message
    problems = problems_of({**tiny_audio_spec(),
                            "teacher": {"spec": str(teacher_files / "teacher.yaml"), "weights": None,
                                        "overrides": ["backbone.filters=[4, nope]"]}})
    assert "the teacher spec is invalid" in problems["teacher.spec"].message and "expected an integer" in problems["teacher.spec"].message


def test_a_teacher_with_several_outputs_needs_output(tmp_path):
    from tests.conftest import tiny_tagging_spec

    hierarchical = tiny_tagging_spec(head={"type": "gmp", "hierarchy": {"a": ["x", "y"], "b": ["z"]}}, name="t")
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(hierarchical))
    student = tiny_tagging_spec(head={"type": "tagger", "num_classes": 3})
    problems = problems_of({**student, "teacher": {"spec": str(tmp_path / "t.yaml"), "weights": None}})
    assert "has several outputs (fine, coarse); name the one to learn from" in problems["teacher.output"].message
    spec = load_spec({**student, "teacher": {"spec": str(tmp_path / "t.yaml"), "weights": None, "output": "fine"}})
    assert spec.teacher["output"] == "fine"
