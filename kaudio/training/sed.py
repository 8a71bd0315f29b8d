"""The ``sed`` trainer: weakly labelled sound event detection (``train: {type: sed}``).

Clip-level ("weak") labels train a model whose head also gives frame-level activity: 2APAE
(``sed_2apae``: two-step attention + auto-encoder, Deshmukh et al.) or a pooling baseline
(``sed_gap``, ``sed_gmp``, ``sed_gwrp``, ``sed_attention``). As the reference training
(``soham97/MTL_Weakly_labelled_audio_data``, ``main.py`` / ``train_helper.py``):

* the front end's per-mel-bin standardisation is fitted on the training split before the first
  epoch (a fresh run; a resumed run restores it with the other variables) and saved in the model;
* loss ``sed_bce_mse``: BCE on the clip probabilities + α · MSE between the reconstruction and the
  standardised input (α = 0 for the baselines);
* Adam (learning rate 1e-3), batch 24, ReduceLROnPlateau on the validation micro average precision
  (mode max, patience 3, factor 0.1), best checkpoint by the validation micro-AP::

      train:
        type: sed
        epochs: 50
        batch_size: 24
        learning_rate: 1.0e-3
        reduce_lr_patience: 3
        reduce_lr_factor: 0.1
        monitor: val_micro_ap      # or val_macro_ap (higher is better), val_loss, val_bce, val_mse
        frame_threshold: 0.5       # evaluation: frame activity → events
        median_filter: 1           # evaluation: frames of the majority filter (odd)

Data: a ``labels.csv`` folder with weak labels (the classes of the head, or taken from the data),
and for the frame-level metrics an ``events.csv`` with the strong labels (``kaudio mix`` writes
both). Evaluation: clip micro/macro AP and macro ROC-AUC (the paper's Table IV), segment-based F1
and error rate (1-s segments), event-based F1 (200-ms onset collar), overall and per SNR
(:mod:`kaudio.metrics.sed`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from kaudio import registry
from kaudio.errors import KaudioError
from kaudio.spec.schema import Field, Schema
from kaudio.training.trainer import COMMON_FIELDS, Trainer, with_defaults

CROPS = ("random", "start")
SED_HEAD_KIND = "sed"


def _sed_head(sections) -> bool:
    head = sections.get("head")
    return head is not None and getattr(registry.lookup("head", head["type"]), "target_kind", None) == SED_HEAD_KIND


@registry.register("train", "sed")
class SEDTrainer(Trainer):
    """Weakly labelled SED training (module docstring)."""

    spec_schema = Schema(with_defaults(COMMON_FIELDS, batch_size=24, monitor="val_micro_ap") + (
        Field("learning_rate", float, 1e-3, "Adam's learning rate", minimum=0.0, exclusive_minimum=True),
        Field("reduce_lr_patience", int, 3, "epochs without a better validation micro-AP before the learning rate "
              "is reduced (ReduceLROnPlateau)", minimum=1),
        Field("reduce_lr_factor", float, 0.1, "factor of each reduction", minimum=0.0, maximum=1.0,
              exclusive_minimum=True),
        Field("val_fraction", float, 0.15, "validation share when the data has no split column", minimum=0.0,
              maximum=0.9, exclusive_minimum=True),
        Field("crop", str, "random", "training window of clips longer than input.samples", choices=CROPS),
        Field("cache", str, "memory", "dataset cache: memory, a file path, or none", nullable=True),
        Field("frame_threshold", float, 0.5, "evaluation: frame activity ≥ this is an event", minimum=0.0,
              maximum=1.0),
        Field("median_filter", int, 1, "evaluation: odd number of frames of the majority filter", minimum=1),
    ))

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        if params.get("cache") in ("none", ""):
            params["cache"] = None
        problems = super().check_spec(params, context)
        if params["median_filter"] % 2 == 0:
            problems.append(("median_filter", f"got {params['median_filter']}, must be odd"))
        if context is None or context.sections.get("head") is None:
            return problems
        if not _sed_head(context.sections):
            heads = sorted(n for n in registry.names("head")
                           if getattr(registry.lookup("head", n), "target_kind", None) == SED_HEAD_KIND)
            return problems + [("type", f"sed training needs a model with clip and frame outputs (heads: "
                                        f"{', '.join(heads)}); the head is {context.sections['head']['type']!r}")]
        loss = context.sections.get("loss")
        if loss is not None and loss["type"] != "sed_bce_mse":
            problems.append(("type", f"sed training uses the loss 'sed_bce_mse', the spec's loss is {loss['type']!r}"))
        return problems

    @classmethod
    def monitors_for(cls, context) -> dict[str, str]:
        return {"val_loss": "min", "val_bce": "min", "val_mse": "min", "val_micro_ap": "max", "val_macro_ap": "max"}

    @classmethod
    def default_sections(cls, spec) -> dict[str, dict]:
        shape = spec.output_shape
        alpha = 1e-3 if isinstance(shape, dict) and "reconstruction" in shape else 0.0
        return {"loss": {"type": "sed_bce_mse", "alpha": alpha}}

    # --- run ----------------------------------------------------------------------------------

    def prepare(self, model, run_dir: Path, resuming: bool, verbose: int = 1, train_ds=None) -> None:
        """Fit the front end's standardisation on the training split (fresh runs; a resumed run restores
        it and only opens the one pass's iterator that fitting opened, see :meth:`Trainer.prepare`)."""
        from kaudio.training.fit import skip_passes

        frontend = model.frontend
        if frontend is None or getattr(frontend, "standardization", None) is None or train_ds is None:
            return
        if resuming:
            skip_passes(train_ds, 1)
            return
        mean, std = frontend.fit_standardization(train_ds)
        if verbose:
            print(f"standardisation fitted on the training split: {len(mean)} bins, mean {float(np.mean(mean)):.3f}, "
                  f"std {float(np.mean(std)):.3f} (averaged over bins)")

    def training_model(self, model):
        from keras import ops

        from kaudio.losses import loss_from_spec
        from kaudio.training.model import SupervisedModel

        loss = loss_from_spec(self.spec)
        needs_features = loss.alpha > 0

        def targets(x, y):
            out = {"clip": y["labels"], "clip_mask": y.get("labels_mask")}
            if needs_features:  # the reconstruction target: the model's own standardised input
                out["features"] = ops.stop_gradient(model.frontend(x, training=False))
            return out

        return SupervisedModel(model, loss, targets=targets)

    def optimizer(self, steps_per_epoch: int):
        import keras

        return keras.optimizers.Adam(self.settings["learning_rate"])

    def callbacks(self, run_dir: Path, val_ds=None) -> list:
        import keras

        from kaudio.training.callbacks import ValidationMetrics

        metric = "val_micro_ap"
        return [ValidationMetrics(val_ds, _clip_average_precisions),
                keras.callbacks.ReduceLROnPlateau(metric, mode="max", factor=self.settings["reduce_lr_factor"],
                                                  patience=self.settings["reduce_lr_patience"], verbose=0)]

    def check_dataset(self, dataset, model, what: str) -> None:
        element = dataset.element_spec
        if not (isinstance(element, tuple) and len(element) in (2, 3) and isinstance(element[1], dict)
                and "labels" in element[1]):
            raise KaudioError(f"the {what} dataset must yield (audio, targets) with targets a dict {{'labels', "
                              "'labels_mask'}} of weak (clip-level) labels (kaudio.data.make_dataset does)")

    def load_data(self, directory, split_file=None, all_test: bool = False):
        """The labels.csv folder, and its events.csv (strong labels) when there is one; remembered for
        :meth:`evaluate`'s frame-level metrics."""
        from kaudio.data.events import load_events
        from kaudio.training.data import SpecData

        data = SpecData.load(self.spec, directory, split_file=split_file, all_test=all_test)
        data.events = None
        if (Path(directory).expanduser() / "events.csv").is_file():
            data.events = load_events(directory, classes=list(self.spec.head["classes"]),
                                      durations=self.spec.input["duration"])
        self.data = data
        return data

    def evaluate(self, model, val_ds, test_ds, run_dir=None, thresholds=None, split: str = "test") -> dict:
        """Clip metrics (micro/macro AP, macro ROC-AUC), and with the folder's events.csv the segment- and
        event-based metrics, overall and per SNR; writes ``metrics.md``/``.csv`` into ``run_dir``."""
        from kaudio.metrics import summarize_runs, to_markdown, write_table
        from kaudio.metrics.sed import clip_metrics, sed_rows
        from kaudio.training.evaluate import predict_dataset

        targets, scores = predict_dataset(model, test_ds)
        if "clip" not in scores:
            raise KaudioError(f"SED evaluation needs the model outputs 'clip' and 'frames' (outputs: {', '.join(scores)})")
        data = getattr(self, "data", None)
        events = getattr(data, "events", None) if data is not None else None
        if events is not None:
            files = [data.table.keys[i] for i in data.splits[split]]
            frontend = self.spec.frontend or {}
            hop_s = frontend.get("hop_length", 1024) / self.spec.input["sample_rate"]
            group = "snr" if all("snr" in events.columns.get(f, {}) for f in files) else None
            rows = sed_rows(events, {"clip": scores["clip"], "frames": scores["frames"]}, files=files,
                            group_by=group, frame_hop_s=hop_s, threshold=self.settings["frame_threshold"],
                            median_filter=self.settings["median_filter"])
        else:
            rows = [{"level": "all", **clip_metrics(targets["labels"], scores["clip"], targets.get("labels_mask"))}]
        method = self.spec.head["type"]
        if run_dir is not None:
            write_table({method: rows}, Path(run_dir) / "metrics")
        return {"rows": rows, "thresholds": None, "markdown": to_markdown(summarize_runs({method: rows}))}


def _clip_average_precisions(targets: dict, scores: dict) -> dict:
    """``{"val_micro_ap", "val_macro_ap"}`` of clip predictions (sklearn average precision)."""
    from kaudio.metrics.sed import clip_metrics

    metrics = clip_metrics(targets["labels"], scores["clip"], targets.get("labels_mask"))
    return {"val_micro_ap": metrics["micro_ap"], "val_macro_ap": metrics["macro_ap"]}
