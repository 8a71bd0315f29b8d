"""Trainers: what ``train.type`` selects (registry kind ``train``), and the hooks every trainer provides.

:func:`kaudio.fit` is the generic run machinery — run folder, seeds, determinism, resume with
bit-identical state (``BackupAndRestore``), the best checkpoint by a named monitor, early
stopping, per-epoch checkpoints, TensorBoard, ``history.csv``, distribution strategies, dtype
policies. Everything that depends on *what* is trained comes from the trainer class of the spec's
``train.type``, through these hooks (a new kind of training adds one registered class and edits
nothing here or in :mod:`kaudio.training.fit`)::

    @register("train", "mytrainer")
    class MyTrainer(Trainer):
        spec_schema = Schema(COMMON_FIELDS + (...,))

        def training_model(self, model): ...      # a keras.Model whose compute_loss / train_step trains `model`
        def optimizer(self, steps_per_epoch): ...

Hooks (all optional but :meth:`Trainer.training_model` and :meth:`Trainer.optimizer`):

=================================  ===========================================================
``check_spec(params, context)``    spec-time rules, e.g. that the model has the outputs the
                                   trainer needs (``context.output_shape``) and that the loss
                                   section fits
``default_sections(spec)``         sections added when the spec lacks them (``loss: ...``)
``monitors(spec)``                 ``{logged name: "min" | "max"}`` the best checkpoint may use
``build_model()``                  the :class:`~kaudio.models.KaudioModel` to train (saved as
                                   ``best.keras``)
``prepare(model, run_dir, ...)``   before compiling (initial weights on a fresh run, freezing,
                                   statistics fitted on the training data)
``training_model(model)``          the ``keras.Model`` that ``fit`` runs (wraps ``model``:
                                   losses, augmentation, teacher …); a ``compute_loss`` override
                                   returns its loss through
                                   :func:`kaudio.training.model.scale_for_replicas` so that
                                   distributed runs train and log like one device
``optimizer(steps_per_epoch)``     the Keras optimizer
``callbacks(run_dir, val_ds)``     extra Keras callbacks (run before the best-checkpoint one, so
                                   they may add metrics computed on the validation data to the
                                   epoch logs)
``check_dataset(dataset, model)``  element structure of the training / validation datasets
``load_data(directory, ...)``      a dataset folder → :class:`kaudio.training.data.SpecData`
``evaluate(model, val, test)``     the run's metrics (``kaudio evaluate``)
=================================  ===========================================================
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kaudio import registry
from kaudio.errors import KaudioError
from kaudio.spec.schema import Field, Schema

#: Keys every trainer's ``train`` section has (trainers add their own to ``spec_schema``).
COMMON_FIELDS = (
    Field("epochs", int, 50, "number of epochs", minimum=1),
    Field("batch_size", int, 16, "examples per step (global batch across replicas)", minimum=1),
    Field("seed", int, 0, "seed of weights, dropout, augmentation, data order and the validation split", minimum=0),
    Field("monitor", str, "val_loss", "the logged value that chooses the best epoch (best.keras)"),
    Field("early_stopping_patience", int, None, "stop after this many epochs without improvement (null = never)",
          minimum=1, nullable=True),
    Field("keep_checkpoints", int, 2, "per-epoch checkpoints kept in checkpoints/ (0 = none)", minimum=0),
    Field("extendable", bool, False, "when the run reaches train.epochs (not stopped early), keep its training "
          "state in final_state/ so that fitting it again with a larger train.epochs continues it"),
    Field("deterministic", bool, True, "enable TensorFlow op determinism (repeatable runs, maybe slower)"),
    Field("jit_compile", bool, False, "compile the train step with XLA"),
    Field("dtype_policy", str, None, "Keras dtype policy of the model while training, e.g. mixed_bfloat16 "
          "(null: float32)", nullable=True),
    Field("distribution", dict, None, "tf.distribute strategy: {strategy: mirrored | multi_worker, "
          "devices: [...]} (null: one device)", nullable=True),
)


def with_defaults(fields: tuple, **defaults) -> tuple:
    """``fields`` (:class:`~kaudio.spec.schema.Field` objects) with other defaults for the named ones, e.g. a
    trainer's own ``batch_size`` or ``learning_rate``."""
    from dataclasses import replace

    unknown = set(defaults) - {f.name for f in fields}
    if unknown:
        raise ValueError(f"no such fields: {sorted(unknown)}")
    return tuple(replace(f, default=defaults[f.name]) if f.name in defaults else f for f in fields)


class Trainer:
    """Base of the registered trainers (see the module docstring for the hooks).

    Args:
        spec: the validated :class:`~kaudio.spec.Spec` with a ``train`` section of this type.
    """

    spec_schema = Schema(COMMON_FIELDS)

    def __init__(self, spec):
        self.spec = spec
        self.settings: dict[str, Any] = spec.params("train")

    # --- spec ---------------------------------------------------------------------------------

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        """Common rules: a monitor the trainer logs, a known dtype policy and distribution strategy."""
        from kaudio.training.distribution import distribution_problems

        problems = []
        monitors = cls.monitors_for(context)
        if monitors and params["monitor"] not in monitors:
            from kaudio.spec.schema import did_you_mean

            problems.append(("monitor", f"got {params['monitor']!r}{did_you_mean(params['monitor'], monitors)}; "
                                        f"this training logs {', '.join(monitors)}"))
        if params.get("dtype_policy") is not None:
            problems += [("dtype_policy", message) for message in _dtype_policy_problems(params["dtype_policy"])]
        problems += [(f"distribution{'.' + key if key else ''}", message)
                     for key, message in distribution_problems(params.get("distribution"))]
        return problems

    @classmethod
    def monitors_for(cls, context) -> dict[str, str]:
        """``{logged name: "min" | "max"}`` for a spec being validated (``context.sections``)."""
        return {"val_loss": "min"}

    @classmethod
    def from_spec(cls, params: dict, spec=None) -> dict:
        """The section's settings (a trainer is run by :func:`kaudio.fit`, not built as a layer)."""
        return dict(params)

    @classmethod
    def default_sections(cls, spec) -> dict[str, dict]:
        """Sections ``kaudio train`` adds to ``spec`` (a validated model spec) when it has none."""
        return {}

    # --- run ----------------------------------------------------------------------------------

    @property
    def monitor(self) -> tuple[str, str]:
        """``(name, mode)`` of the value that chooses the best epoch."""
        from kaudio.spec.validate import ValidationContext

        context = ValidationContext(self.spec.source)
        context.sections, context.shapes = dict(self.spec.sections), dict(self.spec.shapes)
        name = self.settings["monitor"]
        return name, self.monitors_for(context).get(name, "min")

    def build_model(self):
        """The model to train and save (``best.keras``)."""
        from kaudio.models.kaudio_model import KaudioModel

        return KaudioModel(self.spec)

    def prepare(self, model, run_dir: Path, resuming: bool, verbose: int = 1, train_ds=None) -> None:
        """Before compiling: initial weights or statistics from ``train_ds`` on a fresh run (a resumed
        run restores every variable from its backup), frozen parts. Default: nothing.

        A hook that iterates ``train_ds`` on a fresh run must open as many iterators of it on a
        resumed run (:func:`kaudio.training.fit.skip_passes`): every iterator advances the
        dataset's reshuffling, and a resumed run must see the epochs' orders of an uninterrupted one."""

    def training_model(self, model):
        """The ``keras.Model`` that ``fit`` runs; it must train ``model``'s variables."""
        raise NotImplementedError

    def optimizer(self, steps_per_epoch: int):
        """The Keras optimizer of the run."""
        raise NotImplementedError

    def callbacks(self, run_dir: Path, val_ds=None) -> list:
        """Extra Keras callbacks of this kind of training (``val_ds``: the validation dataset)."""
        return []

    def check_dataset(self, dataset, model, what: str) -> None:
        """Raise a :class:`KaudioError` when ``dataset`` cannot feed ``model`` (structure, shapes)."""

    def load_data(self, directory, split_file=None, all_test: bool = False):
        """A dataset folder as :class:`kaudio.training.data.SpecData` (``kaudio train --data``)."""
        raise KaudioError(f"train.type {self.spec.train['type']!r} does not read dataset folders")

    def evaluate(self, model, val_ds, test_ds, run_dir=None, thresholds=None, split: str = "test") -> dict:
        """The run's metrics on ``test_ds`` (the ``split`` of the data :meth:`load_data` read):
        ``{"rows", "markdown", ...}`` (``kaudio train`` / ``kaudio evaluate``)."""
        raise KaudioError(f"train.type {self.spec.train['type']!r} has no evaluation")


def trainer_for(spec) -> Trainer:
    """The trainer of ``spec`` (its ``train.type``)."""
    if not spec.train:
        raise KaudioError(f"the spec {spec.name!r} has no train section; add `train: {{type: ...}}` "
                          f"(types: {', '.join(registry.names('train'))})")
    return registry.get("train", spec.train["type"])(spec)


def _dtype_policy_problems(name: str) -> list[str]:
    from kaudio.dtypes import get_policy

    try:
        get_policy(name)
    except KaudioError as err:
        return [str(err)]
    return []
