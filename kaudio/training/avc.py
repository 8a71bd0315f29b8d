"""The ``avc`` trainer: L3-Net audio-visual correspondence training (``train: {type: avc}``).

Does this 1-s audio window belong to this video frame? A two-tower spec (``towers: {vision, audio}``
joined by a 2-way softmax ``fusion``, e.g. ``specs/l3_avc_m256.yaml``) learns it from pairs of a
videos folder or of ``kaudio avc prepare`` shards (:mod:`kaudio.data.avc`), as in Arandjelović &
Zisserman, "Look, Listen and Learn" (ICCV 2017, §3) and Cramer et al., "Look, Listen and Learn
More" (ICASSP 2019, §3.1), trained by ``l3embedding/train.py`` of the marl/l3embedding repository:

* Adam, constant learning rate 1e-5 — no AdamW and no schedule: the only weight decay is the L2
  1e-5 kernel regulariser of every conv and dense layer, which the spec's towers
  (``l2_regularization`` of ``l3_audio`` / ``l3_image``) and fusion carry and which the loss adds
  (:class:`~kaudio.training.model.SupervisedModel` sums the model's regularisation losses);
* categorical cross-entropy on the 2-way softmax against the one-hot ``[mismatch, match]``
  targets; the logged ``accuracy`` / ``val_accuracy`` is the AVC accuracy;
* batches of 64, ``steps_per_epoch`` 4096 batches of the endless augmented training stream
  (:func:`kaudio.data.avc.training_passes`: epoch ``k`` is a new part of the stream, never a
  replay, and a resumed run trains on the pairs an uninterrupted one would); 300 epochs;
* the best checkpoint by ``val_accuracy`` on a fixed validation set (``val_samples`` pairs, the same
  ones every epoch; the reference kept 65,536); ``evaluate`` reports the AVC accuracy and the
  confusion counts on as many test pairs (``metrics.md``).

Several devices: the reference split each batch of 64 over 4 GPUs (Keras' ``multi_gpu_model``), so
batch-norm statistics were computed on 16-pair shards. ``train.distribution: {strategy: mirrored,
devices: [4 GPUs]}`` with ``batch_size: 64`` (the global batch) reproduces that.

::

    train:
      type: avc
      epochs: 300
      batch_size: 64
      steps_per_epoch: 4096
      learning_rate: 1.0e-5
      val_samples: 65536
      frame: window            # or last: the paper-era data (kaudio.data.avc.sampling)
      negatives: fixed_partner # or balanced
      monitor: val_accuracy
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from kaudio import registry
from kaudio.data.avc.augment import AUDIO_KEY, TARGET_KEY, VISION_KEY
from kaudio.data.avc.sampling import FRAME_MODES, NEGATIVE_MODES
from kaudio.errors import KaudioError
from kaudio.spec.schema import Field, Schema
from kaudio.training.trainer import COMMON_FIELDS, Trainer

LOSS = "categorical_crossentropy"
#: The fixed validation and test pairs are drawn with this seed, whatever ``train.seed`` is.
EVAL_SEED = 0
#: Confusion counts: (true label, predicted label) in the softmax's one-hot order.
LABELS = ("mismatch", "match")
#: The reference's defaults for the common keys (batch 64, 300 epochs, best by validation accuracy).
_DEFAULTS = {"batch_size": 64, "epochs": 300, "monitor": "val_accuracy"}


def _common_fields() -> tuple:
    return tuple(dataclasses.replace(f, default=_DEFAULTS[f.name]) if f.name in _DEFAULTS else f
                 for f in COMMON_FIELDS)


@registry.register("train", "avc")
class AVCTrainer(Trainer):
    """Audio-visual correspondence training of a vision + audio two-tower spec (module docstring)."""

    spec_schema = Schema(_common_fields() + (
        Field("learning_rate", float, 1e-5, "Adam's constant learning rate", minimum=0.0, exclusive_minimum=True),
        Field("steps_per_epoch", int, 4096, "batches of the endless training stream per epoch", minimum=1),
        Field("val_samples", int, 65536, "pairs of the fixed validation set (and of the test set)", minimum=1),
        Field("frame", str, "window", "window: the frame lies inside the audio window; last: the video's last "
              "frame (the data the published L3 models were trained on)", choices=FRAME_MODES),
        Field("negatives", str, "fixed_partner", "fixed_partner: two coins per pair (the reference); balanced: "
              "half matches in every batch", choices=NEGATIVE_MODES),
        Field("val_fraction", float, 0.1, "share of the videos in the validation split", minimum=0.0, maximum=0.9),
        Field("test_fraction", float, 0.1, "share of the videos in the test split", minimum=0.0, maximum=0.9),
        Field("cycle_length", int, 20, "videos decoded at once while streaming pairs", minimum=1),
        Field("shuffle_buffer", int, 256, "training pairs in the shuffle buffer (0: none)", minimum=0),
    ))

    # --- spec ---------------------------------------------------------------------------------

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        problems = super().check_spec(params, context)
        if params.get("val_fraction", 0) + params.get("test_fraction", 0) >= 1:
            problems.append(("test_fraction", f"val_fraction + test_fraction = "
                                              f"{params['val_fraction'] + params['test_fraction']:g} leaves no "
                                              "training videos; keep the sum below 1"))
        if params.get("negatives") == "balanced" and params.get("batch_size", 0) % 2:
            problems.append(("batch_size", f"negatives: balanced needs an even batch size, got {params['batch_size']}"))
        if context is None:
            return problems
        towers = context.sections.get("towers") or {}
        if not towers:
            return problems + [("type", "avc training takes a two-tower spec (towers: {vision: ..., audio: ...} "
                                        "joined by a 2-way softmax fusion), e.g. l3_avc_m256")]
        for name, kind in ((VISION_KEY, "image"), (AUDIO_KEY, "audio")):
            tower_input = (towers.get(name) or {}).get("input") or {}
            if tower_input.get("type") != kind:
                problems.append(("type", f"avc training needs a tower {name!r} with an {kind} input (towers: "
                                         f"{', '.join(towers)})"))
        fusion = context.sections.get("fusion") or {}
        if fusion and (fusion.get("num_classes") != 2 or fusion.get("activation") != "softmax"):
            problems.append(("type", "avc training needs a 2-way softmax fusion ([mismatch, match]): set "
                                     "fusion.num_classes: 2 and fusion.activation: softmax"))
        loss = context.sections.get("loss")
        if loss is not None and loss["type"] != LOSS:
            problems.append(("type", f"avc training uses loss {LOSS!r}, the spec's loss is {loss['type']!r}"))
        return problems

    @classmethod
    def monitors_for(cls, context) -> dict[str, str]:
        return {"val_loss": "min", "val_cce": "min", "val_accuracy": "max"}

    @classmethod
    def default_sections(cls, spec) -> dict[str, dict]:
        return {"loss": {"type": LOSS}}

    # --- run ----------------------------------------------------------------------------------

    def training_model(self, model):
        from kaudio.losses import loss_from_spec
        from kaudio.training.avc_model import AVCModel

        return AVCModel(model, loss_from_spec(self.spec), targets=lambda x, y: {"labels": y[TARGET_KEY]})

    def optimizer(self, steps_per_epoch: int):
        import keras

        return keras.optimizers.Adam(learning_rate=self.settings["learning_rate"])

    def check_dataset(self, dataset, model, what: str) -> None:
        element = dataset.element_spec
        example = "({'vision': (B, H, W, 3), 'audio': (B, samples, 1)}, {'correspondence': (B, 2)})"
        if not (isinstance(element, tuple) and len(element) == 2 and isinstance(element[0], dict)
                and isinstance(element[1], dict) and TARGET_KEY in element[1]):
            raise KaudioError(f"the {what} dataset must yield {example} (kaudio.data.avc does)")
        for name, tensor in model.input.items():
            if name not in element[0]:
                raise KaudioError(f"the {what} dataset has no {name!r} input; expected {example}")
            expected, got = tuple(tensor.shape[1:]), tuple(element[0][name].shape[1:])
            if len(got) != len(expected) or any(e is not None and g is not None and e != g
                                                for e, g in zip(expected, got)):
                raise KaudioError(f"the {what} dataset's {name!r} input has shape {got}, the {name} tower expects "
                                  f"{expected}; give the data the spec's sizes (AVCSettings.for_spec)")

    def avc_settings(self):
        """The pair settings of this run: sizes from the spec's towers, the rest from ``train``."""
        from kaudio.data.avc.sampling import AVCSettings

        s = self.settings
        return AVCSettings.for_spec(self.spec, frame=s["frame"], negatives=s["negatives"],
                                    cycle_length=s["cycle_length"], shuffle_buffer=s["shuffle_buffer"])

    def load_data(self, directory, split_file=None, all_test: bool = False) -> "AVCRunData":
        """A videos folder or a ``kaudio avc prepare`` shards folder (:func:`kaudio.data.avc.open_avc_data`);
        with ``split_file`` (a run's ``split.json``) the videos keep that run's split."""
        from kaudio.data.avc import open_avc_data

        if all_test:
            raise KaudioError("an AVC test folder is split like the training videos; evaluate on the run's own "
                              "test split")
        s = self.settings
        run_dir = Path(split_file).parent if split_file is not None else None
        source = open_avc_data(directory, run_dir, self.avc_settings(), val_fraction=s["val_fraction"],
                               test_fraction=s["test_fraction"])
        return AVCRunData(self, directory, source)

    def evaluate(self, model, val_ds, test_ds, run_dir=None, thresholds=None, split: str = "test") -> dict:
        """AVC accuracy and confusion counts on ``test_ds``; ``metrics.md`` / ``metrics.csv`` in ``run_dir``."""
        from kaudio.metrics import summarize_runs, to_markdown, write_table
        from kaudio.training.evaluate import predict_dataset

        targets, scores = predict_dataset(model, test_ds)
        truth = np.argmax(targets[TARGET_KEY], axis=-1)
        predicted = np.argmax(next(iter(scores.values())), axis=-1)
        confusion = {f"{LABELS[t]}_as_{LABELS[p]}": int(np.sum((truth == t) & (predicted == p)))
                     for t in range(2) for p in range(2)}
        rows = [{"level": "all", "accuracy": float(np.mean(truth == predicted))}]
        method = f"{self.spec.name} (AVC, {split} pairs: {len(truth)})"
        counts = confusion_markdown(confusion)
        markdown = to_markdown(summarize_runs({method: rows})) + counts
        if run_dir is not None:
            stem = Path(run_dir) / "metrics"
            write_table({method: rows}, stem)
            with open(f"{stem}.md", "a", encoding="utf-8") as handle:
                handle.write(counts)
        return {"rows": rows, "thresholds": None, "confusion": confusion, "markdown": markdown}


def confusion_markdown(confusion: dict) -> str:
    """The confusion counts as a small markdown table (rows: true label, columns: predicted)."""
    lines = ["", "| true \\ predicted | " + " | ".join(LABELS) + " |", "|---|" + "---:|" * len(LABELS)]
    for t in LABELS:
        lines.append(f"| {t} | " + " | ".join(str(confusion[f"{t}_as_{p}"]) for p in LABELS) + " |")
    return "\n".join(lines) + "\n"


class AVCRunData:
    """The data of an AVC run (what ``kaudio train`` asks a trainer's ``load_data`` for).

    ``dataset("train", seed)`` is ``train.steps_per_epoch`` batches of the endless augmented stream
    (:func:`kaudio.data.avc.training_passes`); ``val`` / ``test`` are the fixed sets of
    ``train.val_samples`` pairs (drawn with :data:`EVAL_SEED`, unaugmented), every pair kept.
    """

    unit = "videos"

    def __init__(self, trainer: AVCTrainer, directory, source):
        self.trainer, self.directory, self.source = trainer, Path(directory), source
        self.splits = self._splits()

    def _splits(self) -> dict:
        split = getattr(self.source, "split", None)
        if split is not None:  # a videos folder
            return {name: list(keys) for name, keys in split.items()}
        path = self.source.folder / "split.json"  # a shards folder: the split it was prepared from
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise KaudioError(f"{path}: cannot read the shards' video split ({err}); prepare the shards again with "
                              "`kaudio avc prepare`") from err
        return {name: list(saved.get(name, [])) for name in ("train", "val", "test")}

    def save_split(self, path) -> Path:
        """Write (or check against) the run's ``split.json``: the videos of each split."""
        from kaudio.data.avc.split import load_or_make_split
        from kaudio.atomic import write_text_atomic

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        split = getattr(self.source, "split", None)
        if split is not None:
            s = self.trainer.settings
            keys = [key for name in ("train", "val", "test") for key in split[name]]
            load_or_make_split(path, keys, val=s["val_fraction"], test=s["test_fraction"])
        else:
            write_text_atomic(path, (self.source.folder / "split.json").read_text(encoding="utf-8"))
        return path

    def dataset(self, split: str, seed: int = 0):
        from kaudio.data.avc import training_passes

        s = self.trainer.settings
        if split == "train":
            return training_passes(self.source, s["steps_per_epoch"], s["batch_size"], seed=seed)
        import tensorflow as tf

        fixed = self.source.dataset(split, seed=EVAL_SEED, samples=s["val_samples"], batch_size=s["batch_size"],
                                    drop_remainder=False)
        if isinstance(getattr(self.source, "split", None), dict):  # streamed from videos: exactly val_samples
            fixed = fixed.apply(tf.data.experimental.assert_cardinality(-(-s["val_samples"] // s["batch_size"])))
        return fixed
