"""Knowledge distillation from a frozen teacher: the loss (:class:`DistillationLoss`) and the training
wrapper (:class:`DistillationModel`).

Eq. 2 of Lin, Tang, Kao, Rozgic and Wang, "Weight-sharing supernet for searching specialized acoustic
event classification networks across device constraints" (§2.3): a student ``f_s`` learns the
probabilities of a trained teacher ``f_t`` with the binary cross-entropy::

    BCE(f_s(x), f_t(x)) = −[f_t(x)·ln f_s(x) + (1 − f_t(x))·ln(1 − f_s(x))]

(the paper prints it without the minus sign; training minimises the negative log-likelihood),
averaged over the classes and the batch. The teacher sees the clean input; SpecAugment (Park et
al. 2019; two time masks of up to 64 frames and two frequency masks of up to 8 bins, §3.3)
distorts the student's spectrogram only (Fig. 1).

Optionally the ground truth is mixed in, as in Hinton, Vinyals and Dean, "Distilling the knowledge
in a neural network" (2015, §2), with ``w = train.distillation_weight``::

    loss = w·BCE(student, teacher) + (1 − w)·BCE(student, labels)

``w = 1`` (the default) is the paper's pure distillation; ``w = 0`` is plain supervised training
(the label BCE is the spec's ``bce`` loss: masked, so unknown labels do not count). Both terms are
logged every epoch: ``kd_bce`` (against the teacher) and ``bce`` (against the labels), ``val_*`` on
the validation data (teacher and student on the clean input).

One student forward — a once-for-all trainer trains K sampled sub-networks per step with the same
loss (Eq. 2 sums over them) and runs the teacher once::

    targets = wrapper.loss_targets(x, y)               # the labels + the teacher's probabilities
    for each sampled sub-network:                      # (activate it on the supernet)
        y_pred = wrapper(x, training=True)             # front end → SpecAugment → backbone → head
        parts = wrapper.task_loss.parts(targets, y_pred)   # {"loss", "kd_bce", "bce"}
"""
from __future__ import annotations

from typing import Mapping

import keras
from keras import ops

from kaudio.errors import KaudioError
from kaudio.losses.hierarchical_bce import masked_bce
from kaudio.losses.outputs import select
from kaudio.training.model import SupervisedModel

#: The key of the teacher's probabilities in the loss targets (:meth:`DistillationModel.loss_targets`).
TEACHER_KEY = "teacher"


class DistillationLoss:
    """``w·BCE(student, teacher) + (1 − w)·label_loss`` (module docstring) for one student forward.

    Args:
        label_loss: the loss against the labels, with ``parts(y_true, y_pred)``, ``part_names`` and
            ``outputs["labels"]`` (the spec's ``bce`` loss, :class:`kaudio.losses.MaskedBCE`); its
            output selection and ``epsilon`` apply to the distillation term too.
        distillation_weight: ``w`` in [0, 1].
    """

    def __init__(self, label_loss, distillation_weight: float = 1.0):
        if not 0.0 <= float(distillation_weight) <= 1.0:
            raise KaudioError(f"distillation_weight must be in [0, 1], got {distillation_weight}")
        self.label_loss = label_loss
        self.weight = float(distillation_weight)
        self.output = getattr(label_loss, "outputs", {}).get("labels")
        self.epsilon = getattr(label_loss, "settings", {}).get("epsilon", 1e-7)
        self.part_names = ("kd_bce",) + tuple(label_loss.part_names)

    def __call__(self, y_true, y_pred):
        return self.parts(y_true, y_pred)["loss"]

    def parts(self, y_true: Mapping, y_pred) -> dict:
        """``{"loss", "kd_bce", <label loss parts>}``; ``y_true`` holds the labels and the teacher's
        probabilities under ``"teacher"``."""
        if not isinstance(y_true, Mapping) or TEACHER_KEY not in y_true:
            raise KaudioError("distillation targets must be a dict with the teacher's probabilities under "
                              f"{TEACHER_KEY!r} (DistillationModel.loss_targets adds them)")
        student = ops.cast(select(y_pred, self.output, "kd"), "float32")
        teacher = ops.cast(y_true[TEACHER_KEY], "float32")
        kd_bce = masked_bce(teacher, student, ops.ones_like(teacher), self.epsilon)  # every entry: a mean
        label_parts = self.label_loss.parts(y_true, y_pred)
        loss = self.weight * kd_bce + (1.0 - self.weight) * label_parts["loss"]
        return {"kd_bce": kd_bce, **{name: label_parts[name] for name in self.label_loss.part_names}, "loss": loss}


class DistillationModel(SupervisedModel):
    """Trains ``model`` (the student) on the frozen ``teacher``'s probabilities (module docstring).

    A :class:`~kaudio.training.model.SupervisedModel` whose loss targets also hold the teacher's
    output on the clean input batch: the student runs ``frontend → augment (training only) →
    backbone → head``; the teacher runs in inference mode (batch normalisation with its moving
    statistics) and receives no gradient. The teacher is an attribute of this wrapper only, so the
    saved model (``wrapper.model``, ``best.keras``) carries no teacher. The loss goes through
    :func:`~kaudio.training.model.scale_for_replicas` like the supervised one, so distribution
    strategies and dtype policies work the same (the loss is computed in float32).

    Args:
        model: the student :class:`~kaudio.models.KaudioModel`.
        teacher: a ``keras.Model`` with one output of the student's shape
            (:func:`kaudio.models.teacher.build_teacher`); frozen here.
        loss: a :class:`DistillationLoss`.
        augment: SpecAugment for the student's front-end output (``None``: none).
    """

    def __init__(self, model, teacher: keras.Model, loss: DistillationLoss, augment=None, **kwargs):
        kwargs.setdefault("name", f"{model.name}_distillation")
        super().__init__(model, loss, augment, **kwargs)
        if isinstance(teacher.output, Mapping):
            raise KaudioError(f"the teacher {teacher.name!r} has several outputs ({', '.join(teacher.output)}); "
                              "name the one to learn from with teacher.output")
        student_in, teacher_in = tuple(model.input.shape[1:]), tuple(teacher.input.shape[1:])
        if student_in != teacher_in:
            raise KaudioError(f"the teacher {teacher.name!r} takes inputs of shape {teacher_in}, the student "
                              f"{student_in}; both must read the same clips")
        teacher.trainable = False
        self.teacher = teacher

    def teacher_probabilities(self, x):
        """The teacher's output on the clean input ``x``: inference mode, float32, no gradient."""
        return ops.stop_gradient(ops.cast(self.teacher(x, training=False), "float32"))

    def loss_targets(self, x, y):
        return {**y, TEACHER_KEY: self.teacher_probabilities(x)}
