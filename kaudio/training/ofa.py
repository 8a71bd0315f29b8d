"""The ``ofa`` trainer: once-for-all supernet training by distillation (``train: {type: ofa}``).

Lin et al., "Weight-sharing supernet for searching specialized acoustic event classification
networks across device constraints" (ICASSP 2023, §2.3 and §3.3): a supernet (backbone
``ofa_cnn``, :mod:`kaudio.models.ofa`) learns a trained teacher's probabilities with the BCE of
Eq. 2, K uniformly sampled sub-networks per batch, SpecAugment on the students' input only,
Adam with learning rate 1e-3, the largest network alone first. The step itself is
:class:`~kaudio.training.supernet.SupernetDistillationModel` (what is shared, what is drawn per
step, the mean over K); everything else is the ``kd`` trainer's (:mod:`kaudio.training.kd`:
teacher checks, data, SpecAugment settings, evaluation)::

    teacher: {spec: runs/cnn10/spec.yaml, weights: runs/cnn10/best.keras}
    train:
      type: ofa
      subnets_per_step: 4          # K
      warmup_largest_steps: null   # first steps train the largest network only; null: a third of the run
                                   # (the paper: 100K of 300K iterations); 0: none
      sandwich: false              # true: the largest network joins the K every step
      init_from: null              # a plain full-size model (e.g. the teacher's best.keras) to start from
      learning_rate: 1.0e-3        # these three: the paper's Adam (AdamW with no decay, no warm-up)
      weight_decay: 0.0
      warmup_epochs: 0
      monitor: val_map             # the largest network's validation mAP chooses best.keras

Defaults differ from ``kd`` where the paper fixes them: ``learning_rate`` 1e-3, ``weight_decay`` 0,
``warmup_epochs`` 0 and ``monitor: val_map``. The validation values (``val_loss``, ``val_kd_bce``,
``val_map``) are those of the largest network, which is also the configuration active in the
saved ``best.keras`` and checkpoints — so ``kaudio evaluate RUN`` scores the full network and
``kaudio ofa extract`` / ``search`` cut the others out of it. (The validation callback leaves the
largest configuration active on purpose rather than restoring the last sampled one: every
training forward sets its own configuration first, and a saved supernet should not hold a
random sub-network.)

``init_from`` copies every weight of a plain model of the supernet's full sizes
(:func:`~kaudio.models.ofa.init_from_plain`; e.g. the teacher, a ``panns_cnn`` CNN10 with
``input_norm: per_mel_bin``) on a fresh run; with it the warm phase is usually unneeded
(``warmup_largest_steps: 0``). Spec-time checks: an ``ofa_cnn`` backbone, a tagger head and a
teacher that fits (the ``kd`` trainer's checks: same clips, same number and names of classes).
"""
from __future__ import annotations

from pathlib import Path

from kaudio import registry
from kaudio.errors import KaudioError
from kaudio.spec.schema import Field, Schema
from kaudio.training.kd import KDTrainer
from kaudio.training.supervised import resolve_model_file
from kaudio.training.trainer import with_defaults

SUPERNET_BACKBONE = "ofa_cnn"
#: The share of a run's steps that trains the largest network alone by default (the paper: 100K of 300K iterations).
WARMUP_SHARE = 1 / 3


@registry.register("train", "ofa")
class OfaTrainer(KDTrainer):
    """Once-for-all supernet training (module docstring)."""

    spec_schema = Schema(with_defaults(KDTrainer.spec_schema.fields, learning_rate=1e-3, weight_decay=0.0,
                                       warmup_epochs=0.0, monitor="val_map") + (
        Field("subnets_per_step", int, 4, "K: sub-networks sampled uniformly and distilled each step (Eq. 2 of Lin "
              "et al.)", minimum=1),
        Field("warmup_largest_steps", int, None, "first optimizer steps that train the largest network only (null: a "
              "third of the run's steps, as the paper's 100K of 300K iterations; 0: none)", minimum=0, nullable=True),
        Field("sandwich", bool, False, "also train the largest network every step (K + 1 forwards)"),
        Field("init_from", str, None, "a plain .keras model of the supernet's full sizes (e.g. the teacher's "
              "best.keras) whose weights initialise the supernet on a fresh run", nullable=True),
    ))

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        problems = resolve_model_file(params, context, "init_from") + super().check_spec(params, context)
        if params.get("init_from") and params.get("init_weights"):
            problems.append(("init_from", "give init_from (the whole supernet from a plain full-size model) or "
                                          "init_weights (backbone layers by name), not both"))
        if params.get("freeze_backbone"):
            problems.append(("freeze_backbone", "ofa training trains the backbone's sub-networks; set it to false"))
        backbone = context.sections.get("backbone") if context is not None else None
        if backbone is not None and backbone["type"] != SUPERNET_BACKBONE:
            problems.append(("type", f"ofa training trains a once-for-all supernet; the backbone is "
                                     f"{backbone['type']!r}: use backbone: {{type: {SUPERNET_BACKBONE}}} (e.g. the "
                                     "bundled ofa_cnn10)"))
        return problems

    # --- run ----------------------------------------------------------------------------------

    def prepare(self, model, run_dir: Path, resuming: bool, verbose: int = 1, train_ds=None) -> None:
        """The kd preparation (teacher built, its weights read), then ``init_from`` on a fresh run."""
        from kaudio.models.ofa import init_from_plain
        from kaudio.training.init_weights import load_source_model

        super().prepare(model, run_dir, resuming, verbose, train_ds)
        self._verbose = verbose
        source = self.settings["init_from"]
        if source and not resuming:
            plain = load_source_model(source, key="train.init_from")
            try:
                init_from_plain(model, plain)
            except KaudioError as err:
                raise KaudioError(f"train.init_from: {source} does not fit the supernet's full sizes: {err}") from err
            if verbose:
                print(f"supernet initialised from {source} ({plain.count_params():,} parameters)")

    def training_model(self, model):
        from kaudio.losses import loss_from_spec
        from kaudio.training.distillation import DistillationLoss
        from kaudio.training.supernet import SupernetDistillationModel

        settings = self.settings
        loss = DistillationLoss(loss_from_spec(self.spec), settings["distillation_weight"])
        self.wrapper = SupernetDistillationModel(model, self.teacher(), loss, self.spec_augment(),
                                                 subnets_per_step=settings["subnets_per_step"],
                                                 sandwich=settings["sandwich"], seed=settings["seed"])
        return self.wrapper

    def warmup_largest_steps(self, steps_per_epoch: int) -> int:
        """The optimizer steps that train the largest network only (``train.warmup_largest_steps``, or its share
        of the run by default)."""
        steps = self.settings["warmup_largest_steps"]
        return round(WARMUP_SHARE * self.settings["epochs"] * steps_per_epoch) if steps is None else steps

    def optimizer(self, steps_per_epoch: int):
        """The kd optimizer (Adam 1e-3 with this trainer's defaults); sets the wrapper's warm phase, which
        needs the run's length."""
        wrapper = self.wrapper
        wrapper.warmup_largest_steps = self.warmup_largest_steps(steps_per_epoch)
        if getattr(self, "_verbose", 0):
            k = self.settings["subnets_per_step"]
            total = self.settings["epochs"] * steps_per_epoch
            print(f"once-for-all: {wrapper.space.size:,} sub-networks; steps 1-{wrapper.warmup_largest_steps} of "
                  f"{total} train the largest only, then {k} sampled per step"
                  + (" + the largest (sandwich)" if wrapper.sandwich else "")
                  + (f"; kd_bce logged by size: {', '.join(wrapper.bucket_trackers)}" if wrapper.bucket_trackers
                     else ""))
        return super().optimizer(steps_per_epoch)

    def scored_network(self, wrapper):
        """The largest sub-network (set here and left active: see the module docstring)."""
        from kaudio.models.ofa import set_subnet

        set_subnet(wrapper.model, wrapper.space.largest())
        return wrapper.model
