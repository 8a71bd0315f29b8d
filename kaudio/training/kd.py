"""The ``kd`` trainer: knowledge distillation of a tagger from a frozen teacher (``train: {type: kd}``).

The "KD" baseline of Lin et al., "Weight-sharing supernet for searching specialized acoustic event
classification networks across device constraints" (§3.2, Table 1): a fixed network trained on a
teacher's soft labels with the BCE of Eq. 2 and SpecAugment on the student's input only
(:mod:`kaudio.training.distillation`). Their "from scratch" baseline is the same network with the
``supervised`` trainer (BCE against the labels + SpecAugment). Everything but the loss is the
supervised trainer's: data loading, SpecAugment settings, optimizer, evaluation (mAP = PR-AUC,
ROC-AUC, F1 with thresholds tuned on the validation split) and ``thresholds.json``::

    teacher:
      spec: runs/cnn10/spec.yaml      # the teacher's spec (a bundled name or a file)
      weights: runs/cnn10/best.keras  # its trained weights
    train:
      type: kd
      distillation_weight: 1.0        # w: w·BCE(student, teacher) + (1 − w)·BCE(student, labels)
      learning_rate: 1.0e-3           # with weight_decay 0 and warmup_epochs 0: the paper's Adam, 1e-3
      weight_decay: 0.0
      warmup_epochs: 0
      batch_size: 64
      monitor: val_map                # or val_loss (distillation loss), val_kd_bce, val_bce

Requirements checked when the spec is validated: a ``teacher:`` section; a ``tagger`` head (sigmoid
class probabilities); a teacher whose output (``teacher.output`` of a teacher with several outputs)
gives one probability per class — the same number of classes, and the same class names in the
same order when both specs name them — and that reads the student's clips (same ``input``).
Missing or unreadable teacher weights are reported naming the file (at validation when the file
does not exist, when the teacher is built when it cannot be read or does not fit its spec).

Optimizer: the supervised trainer's AdamW (``learning_rate``, ``weight_decay``, linear warm-up over
``warmup_epochs``). With ``weight_decay: 0`` Keras' AdamW applies no decay and makes exactly Adam's
update, and ``warmup_epochs: 0`` keeps the learning rate constant, so the three keys above give the
paper's "Adam optimizer with a 0.001 learning rate" (§3.3) — tested step for step. The defaults
stay the supervised trainer's, so a KD run and a from-scratch run of the same spec differ only in
the loss.

Logged each epoch: ``loss`` (the distillation loss), ``kd_bce``, ``bce`` and their ``val_*``
(teacher and student on the clean validation clips), and ``val_map``, the validation mAP against
the ground-truth labels (a :class:`~kaudio.training.callbacks.ValidationMetrics` callback on the
network :meth:`KDTrainer.scored_network` returns). ``best.keras`` is the student alone.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from kaudio import registry
from kaudio.errors import KaudioError, KaudioWarning
from kaudio.spec.schema import Field, Schema
from kaudio.training.supervised import LOSS_OF_KIND, SupervisedTrainer, target_kind_of

#: Head target kinds whose outputs are per-class sigmoid probabilities (what Eq. 2's BCE reads).
SIGMOID_KINDS = ("multilabel", "hierarchical", "sed")
TEACHER_EXAMPLE = ("teacher: {spec: runs/cnn10/spec.yaml, weights: runs/cnn10/best.keras} (the spec and best.keras "
                   "of a trained run, or a bundled spec name)")


@registry.register("train", "kd")
class KDTrainer(SupervisedTrainer):
    """Knowledge distillation from the spec's ``teacher`` (module docstring)."""

    spec_schema = Schema(SupervisedTrainer.spec_schema.fields + (
        Field("distillation_weight", float, 1.0, "w of w·BCE(student, teacher) + (1 − w)·BCE(student, labels); "
              "1 = pure distillation (Eq. 2 of Lin et al.)", minimum=0.0, maximum=1.0),
    ))

    # --- spec ---------------------------------------------------------------------------------

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        problems = super().check_spec(params, context)
        if context is None:
            return problems
        if "teacher" not in context.sections:
            if "teacher" not in context.given:  # a given but invalid teacher is reported on its own
                problems.append(("type", f"kd training learns from a teacher; add a `teacher:` section, e.g. "
                                         f"{TEACHER_EXAMPLE}"))
            return problems
        kind = target_kind_of(context.sections)
        if kind is not None and kind != "multilabel":
            problems.append(("type", f"kd training distils class probabilities into a sigmoid tagger (Eq. 2's BCE); "
                                     f"the head is {context.sections['head']['type']!r} ({kind} targets); use "
                                     "head: {type: tagger}"))
        if context.teacher_spec is not None and "head" in context.sections:
            problems += teacher_problems(context.teacher_spec, context.sections["teacher"], context.sections)
        return problems

    @classmethod
    def monitors_for(cls, context) -> dict[str, str]:
        loss = (context.sections.get("loss") if context is not None else None) or {"type": LOSS_OF_KIND["multilabel"]}
        label_parts = getattr(registry.lookup("loss", loss["type"]), "part_names", ())
        return {"val_loss": "min", "val_kd_bce": "min", **{f"val_{part}": "min" for part in label_parts},
                "val_map": "max"}

    # --- run ----------------------------------------------------------------------------------

    def teacher(self):
        """The frozen teacher (:func:`kaudio.models.teacher.build_teacher`), built on first use — inside the
        run's distribution strategy and dtype policy when called from :func:`kaudio.fit`."""
        if getattr(self, "_teacher", None) is None:
            from kaudio.models.teacher import build_teacher

            if not self.spec.teacher:  # `teacher: null`: the spec of a saved model, whose teacher was removed
                raise KaudioError(f"kd training learns from a teacher and the spec's teacher is null (a saved model's "
                                  f"spec records none); give one, e.g. {TEACHER_EXAMPLE}")
            self._teacher = build_teacher(self.spec)
        return self._teacher

    def prepare(self, model, run_dir: Path, resuming: bool, verbose: int = 1, train_ds=None) -> None:
        """The supervised preparation (``init_weights``, ``freeze_backbone``), then the teacher is built
        (its weights read: a missing or corrupt file stops the run here)."""
        super().prepare(model, run_dir, resuming, verbose, train_ds)
        teacher = self.teacher()
        section = self.spec.teacher
        if section["weights"] is None:
            warnings.warn("teacher.weights is null: the student learns from a randomly initialised teacher (for tests "
                          "only; give the teacher's trained best.keras)", KaudioWarning, stacklevel=2)
        if verbose:
            print(f"teacher {teacher.name} ({teacher.count_params():,} parameters, frozen) from "
                  f"{section['weights'] or 'random weights'}; "
                  f"distillation weight {self.settings['distillation_weight']}")

    def training_model(self, model):
        from kaudio.losses import loss_from_spec
        from kaudio.training.distillation import DistillationLoss, DistillationModel

        loss = DistillationLoss(loss_from_spec(self.spec), self.settings["distillation_weight"])
        return DistillationModel(model, self.teacher(), loss, self.spec_augment())

    def scored_network(self, wrapper):
        """The network whose validation mAP is logged as ``val_map``: the student (``wrapper.model``).
        A once-for-all trainer returns its largest sub-network."""
        return wrapper.model

    def callbacks(self, run_dir: Path, val_ds=None) -> list:
        from kaudio.training.callbacks import ValidationMetrics

        return super().callbacks(run_dir, val_ds) + [ValidationMetrics(val_ds, validation_map, self.scored_network)]


def validation_map(targets: dict, scores: dict) -> dict:
    """``{"val_map": mean average precision}`` of tagger predictions against the labels (masked macro
    PR-AUC, the evaluation's mAP; NaN when no class has both a positive and a negative)."""
    from kaudio.metrics.tagging import pr_auc

    return {"val_map": pr_auc(targets["labels"], scores["labels"], targets.get("labels_mask")).value}


def teacher_problems(teacher_spec, teacher: dict, sections: dict) -> list[tuple[str, str]]:
    """A teacher the student cannot learn from: not sigmoid probabilities, other clips, other class names.

    (The number of outputs is checked with the ``teacher:`` section, :mod:`kaudio.spec.teacher`.)
    Paths are relative to the ``train`` section, whose ``type`` asks for these rules.
    """
    problems = []
    name = teacher_spec.name
    head = teacher_spec.head or {}
    kind = getattr(registry.lookup("head", head.get("type", "")), "target_kind", None)
    if kind not in SIGMOID_KINDS:
        what = f"a {head['type']!r} head ({kind} targets)" if head else "no head"
        problems.append(("type", f"the teacher {name!r} has {what}; kd learns per-class sigmoid probabilities "
                                 "(a tagger, a hierarchical or an SED head)"))
    theirs, mine = teacher_spec.input, sections.get("input")
    keys = ("sample_rate", "samples", "channels")
    if theirs is None or mine is None or any(theirs.get(k) != mine.get(k) for k in keys):
        describe = lambda s: ", ".join(f"{k} {s.get(k)}" for k in keys) if s else "towers"  # noqa: E731
        problems.append(("type", f"the teacher {name!r} reads other clips than the student (teacher: "
                                 f"{describe(theirs)}; student: {describe(mine)}); the teacher sees the student's "
                                 "batches, so give it the same input (e.g. teacher.overrides: [input.sample_rate=..., "
                                 "input.duration=...]) or a student with the teacher's input"))
    teacher_classes = class_names(teacher_spec.sections, teacher["output"])
    student_classes = class_names(sections, None)
    if teacher_classes and student_classes and list(teacher_classes) != list(student_classes):
        same = sorted(teacher_classes) == sorted(student_classes)
        problems.append(("type", f"the teacher {name!r} predicts the classes {_shown(teacher_classes)}, the student "
                                 f"{_shown(student_classes)}" + ("; the same classes in another order" if same else "")
                                 + "; a student learns the teacher's probabilities class by class, so give the student "
                                   "head.classes in the teacher's order"))
    return problems


def class_names(sections: dict, output: str | None) -> list[str] | None:
    """The class names of a head's output (``head.classes``, or a hierarchy's ``fine`` / ``coarse`` level),
    or ``None`` when the spec does not name them."""
    head = sections.get("head") or {}
    if head.get("classes"):
        return list(head["classes"])
    if head.get("hierarchy") and output in ("fine", "coarse"):
        from kaudio.hierarchy import Hierarchy

        hierarchy = Hierarchy.from_mapping(head["hierarchy"])
        return list(hierarchy.fine_names if output == "fine" else hierarchy.coarse_names)
    return None


def _shown(names: list[str], limit: int = 8) -> str:
    return "(" + ", ".join(names[:limit]) + (f", … {len(names)} in all" if len(names) > limit else "") + ")"
