"""The ``supervised`` trainer: labelled clips → a tagger or classifier (``train: {type: supervised}``).

What is learnt follows from the head (its ``target_kind``):

============  ==========================================  =========================  ======================
kind          heads                                       loss (default)             metrics
============  ==========================================  =========================  ======================
hierarchical  flat, levelwise, topdown, gmp, gap, lp,     ``hierarchical_bce``       ROC-AUC, PR-AUC, F1 at
              resatt (Zhong et al.)                        (Eq. 2)                    fine and coarse level
multilabel    ``tagger`` (PANNs' sigmoid classifier)      ``bce`` (masked)           ROC-AUC, PR-AUC (mAP),
                                                                                     F1 per class, macro
singlelabel   ``classifier`` (softmax)                    ``categorical_crossentropy``  accuracy, macro F1
============  ==========================================  =========================  ======================

F1 uses per-class thresholds tuned on the validation split (F1-optimal), stored in the run's
``thresholds.json`` so ``kaudio evaluate --test-data OTHER`` applies them to another folder.

Defaults follow Zhong et al. §4.2 (AdamW, learning rate 1e-4, weight decay 1e-4, 5-epoch linear
warm-up, batch 16, SpecAugment) and PANNs' SpecAugmentation widths (2 time masks of up to 64
frames, 2 frequency masks of up to 8 mel bins)::

    train:
      type: supervised
      epochs: 50
      batch_size: 16
      learning_rate: 1.0e-4
      weight_decay: 1.0e-4
      warmup_epochs: 5          # linear warm-up, updated every step
      spec_augment: {enabled: true, time_mask_param: 64, n_time_masks: 2, freq_mask_param: 8, n_freq_masks: 2}
      seed: 0
      val_fraction: 0.15        # when the data has no `split` column
      monitor: val_loss         # the best epoch (best.keras) minimises this (or val_<loss part>)
      crop: random              # training window: random (reshuffled each epoch) or start
      init_weights: null        # a .keras model whose backbone weights initialise this model
      init_head: false          # true: its head's weights too (the whole network; same head and classes)
      freeze_backbone: false    # true: train the head only (backbone BN layers in inference mode)

Fine-tuning: ``init_weights`` names a ``.keras`` file — ``kaudio convert panns ... --out
cnn14_16k.keras``, or any model kaudio built or trained — whose ``backbone`` weights are copied by
layer name into this model's backbone before the first epoch (never on a resumed run; see
:mod:`kaudio.training.init_weights`); with ``init_head: true`` the head's weights too, so training
continues the whole network (continual fine-tuning of an extracted once-for-all sub-network, Lin et
al. Table 2: the ``kd`` trainer with ``init_weights`` = ``kaudio ofa extract``'s model). ``freeze_backbone: true`` sets ``backbone.trainable = False``
(linear probing; its batch normalisation uses the moving statistics).

Classes of a flat head: ``head.classes`` names them in output order. When a spec gives none (the
bundled ``panns_cnn10`` has 527 unnamed AudioSet outputs), ``kaudio train`` takes the sorted tag
names of the data folder, sets ``head.classes`` and ``head.num_classes`` to them and says so; the
run's ``spec.yaml`` records them.

Duration policy (:func:`kaudio.data.make_dataset`): every clip is brought to ``input.samples``. With
``crop: random`` a training clip that is longer gives a window at a random offset, drawn again each
epoch, and the training order is reshuffled each epoch; with ``crop: start`` training clips are cut
like validation and test clips: their first ``input.samples`` samples, in a fixed order. Shorter
clips are zero-padded at the end.
"""
from __future__ import annotations

from pathlib import Path

from kaudio import registry
from kaudio.errors import KaudioError
from kaudio.spec.files import resolve_existing_file
from kaudio.spec.schema import Field, Schema
from kaudio.training.trainer import COMMON_FIELDS, Trainer

#: Keys of ``spec_augment`` and their defaults (PANNs' SpecAugmentation widths).
SPEC_AUGMENT_DEFAULTS = {"enabled": True, "time_mask_param": 64, "n_time_masks": 2, "freq_mask_param": 8,
                         "n_freq_masks": 2}
CROPS = ("random", "start")
#: The loss each target kind is trained with.
LOSS_OF_KIND = {"hierarchical": "hierarchical_bce", "multilabel": "bce", "singlelabel": "categorical_crossentropy"}
#: The targets a dataset yields for each kind (:meth:`kaudio.data.TaggingTable.targets`).
TARGETS_OF_KIND = {"hierarchical": ("fine", "coarse"), "multilabel": ("labels",), "singlelabel": ("labels",)}


def _check_spec_augment(value: dict) -> tuple[dict, list[tuple[str, str]]]:
    """Fill defaults into ``spec_augment`` and check its keys (``enabled`` bool, the rest ints)."""
    problems: list[tuple[str, str]] = []
    out = dict(SPEC_AUGMENT_DEFAULTS)
    for key, item in value.items():
        if key not in SPEC_AUGMENT_DEFAULTS:
            problems.append((f"spec_augment.{key}", f"unknown key (valid keys: {', '.join(SPEC_AUGMENT_DEFAULTS)})"))
        elif key == "enabled":
            if not isinstance(item, bool):
                problems.append((f"spec_augment.{key}", f"expected true or false, got {item!r}"))
            out[key] = item
        elif isinstance(item, bool) or not isinstance(item, int):
            problems.append((f"spec_augment.{key}", f"expected an integer, got {item!r}"))
        elif item < (0 if key.startswith("n_") else 1):
            problems.append((f"spec_augment.{key}", f"got {item}, must be >= {0 if key.startswith('n_') else 1}"))
        else:
            out[key] = item
    return out, problems


def resolve_model_file(params: dict, context, key: str = "init_weights") -> list[tuple[str, str]]:
    """Replace ``params[key]`` (a ``.keras`` model that initialises training) by the absolute path of an existing
    file (in place); ``[(key, problem)]`` when there is none."""
    value = params.get(key)
    if value is None:
        return []
    hint = ("give a Keras 3 model archive, e.g. the output of `kaudio convert panns CKPT.pth --arch cnn14 --out "
            f"cnn14.keras` (--arch cnn14_16k for a 16 kHz checkpoint), a run's best.keras, or set {key}: null")
    path, problem = resolve_existing_file(value, context, (".keras",), "a .keras file", hint)
    if problem:
        return [(key, problem)]
    params[key] = path
    return []


def target_kind_of(sections: dict) -> str | None:
    """The target kind of a spec's head (``None`` when the head predicts no labels)."""
    head = sections.get("head")
    cls = registry.lookup("head", head["type"]) if head else None
    return getattr(cls, "target_kind", None)


@registry.register("train", "supervised")
class SupervisedTrainer(Trainer):
    """Supervised training of a tagger or classifier (module docstring)."""

    spec_schema = Schema(COMMON_FIELDS + (
        Field("learning_rate", float, 1e-4, "peak learning rate of AdamW", minimum=0.0, exclusive_minimum=True),
        Field("weight_decay", float, 1e-4, "AdamW's decoupled weight decay", minimum=0.0),
        Field("warmup_epochs", float, 5.0, "linear warm-up from 0 to learning_rate over this many epochs "
              "(per step; 0 = none)", minimum=0.0),
        Field("spec_augment", dict, dict(SPEC_AUGMENT_DEFAULTS), "SpecAugment (time and frequency masks) on the "
              "front-end output, training only: " + ", ".join(SPEC_AUGMENT_DEFAULTS)),
        Field("val_fraction", float, 0.15, "validation share when the data has no split column",
              minimum=0.0, maximum=0.9, exclusive_minimum=True),
        Field("crop", str, "random", "training window of clips longer than input.samples: random "
              "(reshuffled each epoch) or start (fixed order, like evaluation)", choices=CROPS),
        Field("cache", str, "memory", "dataset cache: memory, a file path, or none", nullable=True),
        Field("init_weights", str, None, "a .keras model whose backbone weights initialise the model before "
              "training (e.g. `kaudio convert panns` output); relative to the spec's folder or the working "
              "directory", nullable=True),
        Field("init_head", bool, False, "with init_weights: copy the head's weights too (same head type, classes "
              "and sizes), continuing the whole network"),
        Field("freeze_backbone", bool, False, "keep the backbone's weights fixed (BN in inference mode); "
              "only the head trains"),
    ))

    # --- spec ---------------------------------------------------------------------------------

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        augment, problems = _check_spec_augment(params.get("spec_augment") or {})
        params["spec_augment"] = augment
        if params.get("cache") in ("none", ""):
            params["cache"] = None
        problems += resolve_model_file(params, context)
        if params.get("init_head") and not params.get("init_weights"):
            problems.append(("init_head", "copies the head of train.init_weights's model; give init_weights too"))
        problems += super().check_spec(params, context)
        if context is None:
            return problems
        if augment["enabled"] and "input" in context.sections and "frontend" not in context.sections:
            problems.append(("spec_augment.enabled", "SpecAugment acts on the front-end output and this spec has "
                                                      "no frontend; set spec_augment.enabled: false"))
        frontend = context.shapes.get("frontend")
        if augment["enabled"] and frontend is not None:
            problems += _augment_problems(augment, frontend, context.sections["frontend"].get("layout", "freq_time"))
        if "towers" in context.sections:
            return problems + [("type", f"{cls.registered_name} training takes a chain (input → frontend → backbone "
                                        "→ head); this spec has towers")]
        if context.sections.get("head") is None:
            return problems
        kind = target_kind_of(context.sections)
        if kind is None:
            heads = sorted(name for name in registry.names("head")
                           if getattr(registry.lookup("head", name), "target_kind", None))
            return problems + [("type", f"{cls.registered_name} training needs a head that predicts labels "
                                        f"({', '.join(heads)}); the head is {context.sections['head']['type']!r}")]
        loss = context.sections.get("loss")
        if loss is not None and loss["type"] != LOSS_OF_KIND[kind]:
            problems.append(("type", f"a {context.sections['head']['type']} head ({kind} targets) is trained with "
                                     f"loss {LOSS_OF_KIND[kind]!r}, the spec's loss is {loss['type']!r}"))
        return problems

    @classmethod
    def monitors_for(cls, context) -> dict[str, str]:
        loss = context.sections.get("loss") if context is not None else None
        parts = getattr(registry.lookup("loss", loss["type"]), "part_names", ()) if loss else ()
        return {"val_loss": "min", **{f"val_{part}": "min" for part in parts}}

    @classmethod
    def default_sections(cls, spec) -> dict[str, dict]:
        kind = target_kind_of(spec.sections)
        return {"loss": {"type": LOSS_OF_KIND[kind]}} if kind else {}

    @property
    def target_kind(self) -> str:
        return target_kind_of(self.spec.sections)

    # --- run ----------------------------------------------------------------------------------

    def prepare(self, model, run_dir: Path, resuming: bool, verbose: int = 1, train_ds=None) -> None:
        """``init_weights`` (fresh runs only) and ``freeze_backbone``."""
        import json

        from kaudio.training import init_weights

        source = self.settings["init_weights"]
        if source and not resuming:
            report = init_weights.init_backbone(model, source, head=self.settings["init_head"])
            (run_dir / "init_weights.json").write_text(json.dumps(
                {"source": str(report.source), "layers": report.layers, "n_weights": report.n_weights,
                 "frontend_differences": report.frontend_differences}, indent=1), encoding="utf-8")
            if verbose:
                print(f"{'model' if self.settings['init_head'] else 'backbone'} initialised from {report.source} "
                      f"({len(report.layers)} layers, {report.n_weights} weight tensors)")
        if self.settings["freeze_backbone"]:
            model.backbone.trainable = False

    def training_model(self, model):
        from kaudio.losses import loss_from_spec
        from kaudio.training.model import SupervisedModel

        return SupervisedModel(model, loss_from_spec(self.spec), self.spec_augment())

    def spec_augment(self):
        """The run's SpecAugment layer (``train.spec_augment``; ``None`` when disabled)."""
        from kaudio.training.model import spec_augment_layer

        feature_shape = tuple(self.spec.shapes.get("frontend") or ())
        return spec_augment_layer(self.spec, self.settings["spec_augment"], feature_shape)

    def optimizer(self, steps_per_epoch: int):
        import keras

        from kaudio.training.schedules import WarmupSchedule

        settings = self.settings
        schedule = WarmupSchedule(settings["learning_rate"], round(settings["warmup_epochs"] * steps_per_epoch))
        return keras.optimizers.AdamW(learning_rate=schedule, weight_decay=settings["weight_decay"])

    def check_dataset(self, dataset, model, what: str) -> None:
        element = dataset.element_spec
        needed = TARGETS_OF_KIND[self.target_kind]
        example = "{'fine', 'coarse', 'fine_mask', 'coarse_mask'}" if self.target_kind == "hierarchical" \
            else "{'labels', 'labels_mask'}"
        if not (isinstance(element, tuple) and len(element) in (2, 3) and isinstance(element[1], dict)):
            raise KaudioError(f"the {what} dataset must yield (audio, targets) with targets a dict {example} "
                              "(kaudio.data.make_dataset does)")
        missing = [key for key in needed if key not in element[1]]
        if missing:
            raise KaudioError(f"the {what} dataset's targets lack {missing}; expected keys {example} for a "
                              f"{self.spec.head['type']} head")
        expected = tuple(model.input.shape[1:])
        got = tuple(element[0].shape[1:])
        if len(got) != len(expected) or any(e is not None and g is not None and e != g for e, g in zip(expected, got)):
            raise KaudioError(f"the {what} dataset yields audio of shape {got}, the model expects {expected} "
                              "(input.samples, channels); crop/pad the clips to the spec's input")

    def load_data(self, directory, split_file=None, all_test: bool = False):
        from kaudio.training.data import SpecData

        return SpecData.load(self.spec, directory, split_file=split_file, all_test=all_test)

    def evaluate(self, model, val_ds, test_ds, run_dir=None, thresholds=None, split: str = "test") -> dict:
        from kaudio.training.evaluate import evaluate_model

        return evaluate_model(model, val_ds, test_ds, run_dir, thresholds=thresholds)


def _augment_problems(augment: dict, feature_shape: tuple, layout: str) -> list[tuple[str, str]]:
    """Masks wider than their axis."""
    time_axis, freq_axis = (0, 1) if layout == "time_freq" else (1, 0)
    sizes = {"time": feature_shape[time_axis], "freq": feature_shape[freq_axis]}
    problems = []
    for axis in ("time", "freq"):
        width = augment[f"{axis}_mask_param"]
        if augment[f"n_{axis}_masks"] and sizes[axis] is not None and width > sizes[axis]:
            problems.append((f"spec_augment.{axis}_mask_param",
                             f"got {width} but the front end gives only {sizes[axis]} "
                             f"{'frames' if axis == 'time' else 'bins'}; lower it to at most {sizes[axis]}"))
    return problems
