"""Build the frozen teacher of a spec's ``teacher:`` section (see :mod:`kaudio.spec.teacher`).

Knowledge distillation (Hinton et al., 2015; Eq. 2 of Lin et al.'s once-for-all supernet for
acoustic event classification) trains a student on a teacher's outputs. The teacher is built from
its own spec, gets its trained weights — a whole ``.keras`` model (e.g. a run's ``best.keras``),
whose weights are copied into the freshly built teacher, or a ``.weights.h5`` file — and is frozen:
``trainable = False``, so its batch normalisation runs in inference mode and no optimizer ever
touches it.
"""
from __future__ import annotations

from pathlib import Path

import keras

from kaudio.errors import KaudioError, WeightsError


def build_teacher(spec) -> keras.Model | None:
    """The frozen teacher of ``spec`` (a :class:`~kaudio.spec.Spec` with a ``teacher`` section), or ``None``."""
    from kaudio.models.kaudio_model import KaudioModel
    from kaudio.spec.validate import load_spec

    section = spec.teacher
    if not section:
        return None
    teacher_spec = load_spec(section["spec"], section["overrides"])
    teacher = KaudioModel(teacher_spec, name=f"teacher_{teacher_spec.name}")
    if section["weights"] is not None:
        _load_teacher_weights(teacher, Path(section["weights"]))
    teacher.trainable = False
    if section["output"] is not None:
        output = teacher.output[section["output"]]
        teacher = keras.Model(teacher.input, output, name=teacher.name)
        teacher.trainable = False
    return teacher


def _load_teacher_weights(teacher: keras.Model, path: Path) -> None:
    """Copy the weights of a saved model (``.keras``) or load a ``.weights.h5`` file; every shape must fit."""
    if path.name.endswith(".weights.h5"):
        try:
            teacher.load_weights(path)
        except (ValueError, KeyError, OSError) as err:
            raise WeightsError(f"teacher.weights: {path} does not fit the teacher {teacher.name!r}: {err}") from err
        return
    from kaudio.training.init_weights import load_source_model

    source = load_source_model(path, key="teacher.weights")
    mine, theirs = teacher.weights, source.weights
    mismatches = [f"{a.path} {tuple(a.shape)} vs {b.path} {tuple(b.shape)}"
                  for a, b in zip(mine, theirs) if tuple(a.shape) != tuple(b.shape)]
    if len(mine) != len(theirs) or mismatches:
        detail = "; ".join(mismatches[:5]) or f"{len(theirs)} weight tensors for {len(mine)}"
        raise KaudioError(f"teacher.weights: {path} is not a model of the teacher's spec ({detail}); give the "
                          "best.keras of a run of that spec")
    teacher.set_weights(source.get_weights())
