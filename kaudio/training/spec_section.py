"""The spec's ``train`` section (registry kind ``train``), type ``supervised``.

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
      monitor: val_loss         # the best epoch (best.keras) minimises this
      crop: random              # training window: random (reshuffled each epoch) or start
      early_stopping_patience: null
      init_weights: null        # a .keras model whose backbone weights initialise this model
      freeze_backbone: false    # true: train the head only (backbone BN layers in inference mode)

Fine-tuning (Zhong et al. §4.2 fine-tune CNN14 pretrained on AudioSet): ``init_weights`` names a
``.keras`` file — ``kaudio convert panns Cnn14_16k_mAP=0.438.pth --arch cnn14_16k --out
cnn14_16k.keras``, or any model kaudio built or trained — whose ``backbone`` weights are copied by
layer name into this model's backbone before the first epoch (never on a resumed run; see
:mod:`kaudio.training.init_weights`). A relative path is looked up in the spec file's folder,
then in the working directory (so ``--set train.init_weights=cnn14_16k.keras`` on a bundled spec
finds the file in the working directory); validation replaces it by the absolute path and reports a
missing file. ``freeze_backbone: true`` sets ``backbone.trainable = False``: its weights stay as
initialised and its BatchNormalization layers use their moving statistics (Keras' rule for
non-trainable BN), so only the head learns (linear probing).

Duration policy (``kaudio train`` through :func:`kaudio.data.make_dataset`): every clip is brought
to ``input.samples``. With ``crop: random`` a training clip that is longer gives a window at a
random offset, drawn again each epoch, and the training order is reshuffled each epoch; with
``crop: start`` training clips are cut like validation and test clips: their first
``input.samples`` samples, in a fixed order. Shorter clips are zero-padded at the end.
"""
from __future__ import annotations

from kaudio.registry import register
from kaudio.spec.files import resolve_existing_file
from kaudio.spec.schema import Field, Schema

#: Keys of ``spec_augment`` and their defaults (PANNs' SpecAugmentation widths).
SPEC_AUGMENT_DEFAULTS = {"enabled": True, "time_mask_param": 64, "n_time_masks": 2, "freq_mask_param": 8,
                         "n_freq_masks": 2}
MONITORS = ("val_loss", "val_fine_bce", "val_coarse_bce")
OPTIMIZERS = ("adamw",)
CROPS = ("random", "start")


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


def _resolve_init_weights(params: dict, context) -> list[tuple[str, str]]:
    """Replace ``init_weights`` by the absolute path of an existing ``.keras`` file (in place)."""
    value = params.get("init_weights")
    if value is None:
        return []
    hint = ("give a Keras 3 model archive, e.g. the output of `kaudio convert panns CKPT.pth --arch cnn14 --out "
            "cnn14.keras` (--arch cnn14_16k for a 16 kHz checkpoint), a run's best.keras, or set init_weights: null")
    path, problem = resolve_existing_file(value, context, (".keras",), "a .keras file", hint)
    if problem:
        return [("init_weights", problem)]
    params["init_weights"] = path
    return []


@register("train", "supervised")
class SupervisedTraining:
    """Supervised training of a hierarchical tagger with :func:`kaudio.fit` (see the module docstring)."""

    spec_schema = Schema((
        Field("epochs", int, 50, "number of epochs", minimum=1),
        Field("batch_size", int, 16, "examples per step", minimum=1),
        Field("learning_rate", float, 1e-4, "peak learning rate of AdamW", minimum=0.0, exclusive_minimum=True),
        Field("weight_decay", float, 1e-4, "AdamW's decoupled weight decay", minimum=0.0),
        Field("warmup_epochs", float, 5.0, "linear warm-up from 0 to learning_rate over this many epochs "
              "(per step; 0 = none)", minimum=0.0),
        Field("optimizer", str, "adamw", "optimizer", choices=OPTIMIZERS),
        Field("spec_augment", dict, dict(SPEC_AUGMENT_DEFAULTS), "kapre SpecAugment on the front-end output, "
              "training only: " + ", ".join(SPEC_AUGMENT_DEFAULTS)),
        Field("seed", int, 0, "seed of weights, dropout, augmentation and the validation split", minimum=0),
        Field("val_fraction", float, 0.15, "validation share when the data has no split column",
              minimum=0.0, maximum=0.9, exclusive_minimum=True),
        Field("monitor", str, "val_loss", "the best epoch minimises this", choices=MONITORS),
        Field("crop", str, "random", "training window of clips longer than input.samples: random "
              "(reshuffled each epoch) or start (fixed order, like evaluation)", choices=CROPS),
        Field("early_stopping_patience", int, None, "stop after this many epochs without improvement "
              "(null = never)", minimum=1, nullable=True),
        Field("keep_checkpoints", int, 2, "per-epoch checkpoints kept in checkpoints/ (0 = none)", minimum=0),
        Field("cache", str, "memory", "dataset cache: memory, a file path, or none", nullable=True),
        Field("deterministic", bool, True, "enable TensorFlow op determinism (repeatable runs, maybe slower)"),
        Field("jit_compile", bool, False, "compile the train step with XLA"),
        Field("init_weights", str, None, "a .keras model whose backbone weights initialise the model before "
              "training (e.g. `kaudio convert panns` output); relative to the spec's folder or the working "
              "directory", nullable=True),
        Field("freeze_backbone", bool, False, "keep the backbone's weights fixed (BN in inference mode); "
              "only the head trains"),
    ))

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        augment, problems = _check_spec_augment(params.get("spec_augment") or {})
        params["spec_augment"] = augment
        if params.get("cache") in ("none", ""):
            params["cache"] = None
        problems += _resolve_init_weights(params, context)
        if augment["enabled"] and context is not None and "input" in context.sections \
                and "frontend" not in context.sections:
            problems.append(("spec_augment.enabled", "SpecAugment acts on the front-end output and this spec has "
                                                      "no frontend; set spec_augment.enabled: false"))
        return problems

    @classmethod
    def from_spec(cls, params: dict, spec=None) -> dict:
        """The section's parameters (training is run by :func:`kaudio.fit`, not built as a layer)."""
        return dict(params)
