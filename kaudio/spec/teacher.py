"""The ``teacher:`` section: a trained model that a distillation trainer learns from.

::

    teacher:
      spec: panns_cnn10               # a bundled spec name, or a spec file (relative to this spec's folder)
      weights: runs/cnn10/best.keras  # the trained teacher: a .keras model or a .weights.h5 file
      overrides: [train.seed=1]       # optional --set style overrides of the teacher's spec
      output: null                    # the teacher output to learn from, when it has several

Validation resolves ``spec`` (the teacher's spec is validated in full; its problems are reported
under ``teacher.spec`` with their own file and line) and ``weights`` (absolute path of an existing
file, like ``train.init_weights``), and refuses a teacher whose output does not have the student
model's output shape (a student learns the teacher's outputs element by element, e.g. the
527 AudioSet probabilities of Eq. 2 of the once-for-all paper, Lin et al.). ``weights: null``
gives a randomly initialised teacher: only for tests, never for real distillation. ``teacher: null``
means no teacher: a saved model's spec records it in place of the teacher it was trained with
(:func:`kaudio.models.kaudio_model.model_spec`), so it loads without the teacher's files.

:func:`kaudio.models.teacher.build_teacher` builds it frozen (``trainable = False``, batch
normalisation in inference mode). The teacher is not part of the student model: a saved student
(``best.keras``) carries no teacher.
"""
from __future__ import annotations

from typing import Any

from kaudio.errors import SpecError
from kaudio.spec.files import resolve_existing_file
from kaudio.spec.schema import Field, Schema

TEACHER_SCHEMA = Schema((
    Field("spec", str, doc="the teacher's spec: a bundled spec name or a spec file"),
    Field("weights", str, doc="the trained teacher: a .keras model or a .weights.h5 file (null: random weights, "
                              "for tests only)", nullable=True),
    Field("overrides", list, None, "--set style overrides of the teacher's spec", item_kind=str, nullable=True),
    Field("output", str, None, "the teacher output to learn from, when it has several", nullable=True),
))
WEIGHT_SUFFIXES = (".keras", ".weights.h5")


def validate_teacher(section: Any, raw, report, context) -> dict | None:
    """Validate the ``teacher`` section; returns its normalised params (paths resolved) or ``None``."""
    path = ("teacher",)
    if not isinstance(section, dict):
        report(path, f"expected a mapping with the keys {', '.join(TEACHER_SCHEMA.names)}, got {section!r}")
        return None
    params, problems = TEACHER_SCHEMA.validate(section, path)
    for where, message in problems:
        report(where, message)
    if problems:
        return None
    teacher_spec = _teacher_spec(params, raw, report, context)
    if params["weights"] is not None:
        resolved, problem = resolve_existing_file(params["weights"], context, WEIGHT_SUFFIXES, "a trained teacher",
                                                  "train the teacher first (kaudio train) and give its best.keras")
        if problem:
            report(path + ("weights",), problem)
            return None
        params["weights"] = resolved
    if teacher_spec is None:
        return None
    output = teacher_output_shape(teacher_spec, params["output"])
    if isinstance(output, str):
        report(path + ("output",), output)
        return None
    student = context.output_shape
    if output is not None and student is not None and not isinstance(student, dict) and tuple(output) != tuple(student):
        report(path + ("spec",), _shape_mismatch(teacher_spec, tuple(output), tuple(student)))
        return None
    context.teacher_spec = teacher_spec
    return params


def _shape_mismatch(teacher_spec, teacher: tuple, student: tuple) -> str:
    """Why the student cannot learn the teacher's output; for class probabilities: both class counts and the fix."""
    from kaudio import registry

    message = (f"the teacher {teacher_spec.name!r} outputs {teacher} per example, the student {student}; a student "
               "learns the teacher's outputs one for one, so they must have the same shape")
    head = teacher_spec.head or {}
    predicts_labels = getattr(registry.lookup("head", head.get("type", "")), "target_kind", None) is not None
    if predicts_labels and len(teacher) == len(student) == 1:
        message += (f": the teacher predicts {teacher[0]} classes, the student {student[0]}. Give the student's head "
                    f"the teacher's classes (head.num_classes: {teacher[0]}, or the same head.classes as the "
                    "teacher's spec), or distil from a teacher trained on the student's classes")
    return message


def _teacher_spec(params: dict, raw, report, context):
    from kaudio.spec.validate import load_spec

    ref = params["spec"]
    local = context.source_dir / ref
    if local.is_file():  # a spec file beside this one wins over a bundled name, as for `extends`
        params["spec"] = ref = str(local.resolve())
    try:
        return load_spec(ref, params["overrides"])
    except SpecError as err:
        for problem in err.problems:
            report(("teacher", "spec"), f"the teacher spec is invalid: {problem}")
        return None


def teacher_output_shape(teacher_spec, output: str | None):
    """The shape of the teacher output a student learns, or a message saying why it cannot be chosen."""
    shape = teacher_spec.output_shape
    if isinstance(shape, dict):
        if output is None:
            return (f"the teacher {teacher_spec.name!r} has several outputs ({', '.join(shape)}); name the one to "
                    "learn from with `output:`")
        if output not in shape:
            return f"the teacher {teacher_spec.name!r} has no output {output!r} (outputs: {', '.join(shape)})"
        return shape[output]
    if output is not None:
        return f"the teacher {teacher_spec.name!r} has a single output; remove `output: {output}`"
    return shape
