"""Heads of weakly labelled sound event detection on a ``(time, mel, C)`` encoder map (the
``seg_encoder`` backbone): clip-level probabilities learnt from clip labels, and frame-level
activity for the SED metrics.

Every head outputs a dict with at least ``{"clip": (K,), "frames": (T, K)}``, both in [0, 1] (but
``sed_2apae``'s frames with ``sigmoid: paper``, see :class:`~kaudio.layers.TwoStepAttention`); the
spec picks the method by ``head.type``::

    head: {type: sed_2apae, classes: [Acoustic_guitar, Applause, ...]}

=================  ====================  =========================================  ====================
type               class map (T, F, K)   clip (K,)                                  frames (T, K)
=================  ====================  =========================================  ====================
``sed_2apae``      1×1 conv, linear      two-step attention, Eqs. 8–15              step-1 output v
``sed_gap``        1×1 conv, σ           mean over T·F                              mean over F
``sed_gmp``        1×1 conv, σ           max over T·F                               mean over F
``sed_gwrp``       1×1 conv, σ           weighted rank pooling over T·F (``r``)     mean over F
``sed_attention``  1×1 conv, σ           softmax-over-time attention on the frames  mean over F
=================  ====================  =========================================  ====================

Extra outputs: ``sed_2apae`` — ``reconstruction`` (T, F, 1), ``mel_attention`` (T, F, K) and
``time_attention`` (T, K); ``sed_attention`` — ``time_attention`` (T, K).

``sed_2apae`` is 2APAE (Deshmukh et al., "Multi-Task Learning for Interpretable Weakly Labelled
Sound Event Detection", §III-C, §III-D, Tables II–III; ``soham97/MTL_Weakly_labelled_audio_data``
``models.py``): the class convolution (``enc.class_conv``: 1×1, with bias, no activation) feeds
:class:`~kaudio.layers.TwoStepAttention` (``dsa``), and the auto-encoder's decoder (``dec``: four
:func:`~kaudio.models.sed.segmentation_block`\\ s 256 → 128 → 64 → 32 → 1) reads the *encoder output*,
not the class map, and ends with BN → ReLU → average pool, so the reconstruction is non-negative.
With 41 classes on the default ``seg_encoder`` the model has 1,967,366 trainable parameters
(1,970,186 with the BN moving statistics), as the reference.

The baselines are those of the paper's Table IV as its code builds them (``models_extension.py``,
from Kong et al., "Sound event detection and time–frequency segmentation from weakly labelled
data", 2019, ``qiuqiangkong/sed_time_freq_segmentation``): a sigmoid 1×1 class convolution gives a
T–F segmentation map per class, pooled to the clip by GAP, GMP or GWRP (``r``, Kolesnikov & Lampert
2016; r = 0 is GMP, r = 1 GAP). ``sed_attention`` pools the frames over time with learnt weights
(Kong et al. 2018). Their ``frames`` output is Kong's frame-wise SED output, the map's mean over
frequency. Here they share the 2APAE encoder, so only the pooling differs.

Every head declares ``target_kind = "sed"`` (multi-hot clip labels; the SED trainer reads it) and
is trained with the ``sed_bce_mse`` loss (``alpha: 0`` for the heads without a reconstruction).
"""
from __future__ import annotations

from typing import Any, Sequence

import keras

from kaudio.heads.tagging import TaggerHead
from kaudio.layers.sed import (FRAME_ACTIVITIES, SIGMOID_READINGS, TIME_MIXINGS, FrequencyMean, GlobalWeightedRankPooling,
                               TimeAttentionPooling, TwoStepAttention)
from kaudio.models.sed.seg_encoder import BN_EPSILON, BN_MOMENTUM, segmentation_block
from kaudio.registry import register
from kaudio.spec.schema import Field, Schema

_CLASS_FIELDS = (
    Field("num_classes", int, None, "number of classes (or give `classes`)", minimum=1, nullable=True),
    Field("classes", list, None, "class names in output order (default: from the data at `kaudio train`)",
          item_kind=str, nullable=True),
)


def class_convolution(x, num_classes: int, activation: str | None, name: str = "class_conv"):
    """The 1×1 convolution C → K with bias (He-uniform kernel, zero bias, as the reference's ``init_layer``)."""
    return keras.layers.Conv2D(num_classes, 1, use_bias=True, activation=activation, kernel_initializer="he_uniform",
                               bias_initializer="zeros", name=name)(x)


def _named(tensor, name: str):
    """``tensor`` under the layer name ``name`` (outputs of a multi-output layer get their own name)."""
    return keras.layers.Identity(name=name)(tensor)


# === Base ===


class SEDHead(keras.Model):
    """Base of the SED heads: a functional model ``(time, mel, C)`` → ``{"clip", "frames", ...}``.

    Args:
        num_classes: number of classes K.
        feature_shape: the encoder map per example ``(time, mel, C)``; time may be ``None`` where the
            head allows it.
        classes: class names in output order (optional; ``kaudio train`` can fill them from the data).
        **options: head-specific keys (``option_defaults``); the rest go to ``keras.Model``.
    """

    #: What the head predicts, for the trainer; and the loss it is trained with by default.
    target_kind = "sed"
    default_loss = "sed_bce_mse"
    #: Extra constructor arguments of a subclass and their defaults.
    option_defaults: dict[str, Any] = {}
    spec_schema = Schema(_CLASS_FIELDS)

    def __init__(self, num_classes: int, feature_shape: Sequence[int | None], classes=None, **kwargs):
        options = {key: kwargs.pop(key, default) for key, default in self.option_defaults.items()}
        # === Layers === (created per method in `detect`) / === Functional Model ===
        features = keras.Input(tuple(feature_shape), name="features")
        outputs = self.detect(features, int(num_classes), **options)
        super().__init__(inputs=features, outputs=outputs, **kwargs)
        # === Config ===
        self.num_classes = int(num_classes)
        self.feature_shape = tuple(feature_shape)
        self.classes = list(classes) if classes is not None else None
        self.options = options

    @classmethod
    def detect(cls, features, num_classes: int, **options) -> dict:
        """The method's graph on the encoder map: ``{"clip": …, "frames": …, ...}``."""
        raise NotImplementedError

    def get_config(self):
        return {"num_classes": self.num_classes, "feature_shape": list(self.feature_shape), "classes": self.classes,
                **self.options, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # --- spec component -----------------------------------------------------------------------

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        """``num_classes`` follows from ``classes`` (the tagger's rules), then the head's own checks."""
        return TaggerHead.check_spec(params, context) + cls.check_options(params, context)

    @classmethod
    def check_options(cls, params: dict, context) -> list[tuple[str, str]]:
        return []

    @classmethod
    def spec_output_shape(cls, params: dict, feature_shape) -> tuple[dict | None, list[tuple[str, str]]]:
        """``{output: shape}`` from the encoder map ``(time, mel, C)``."""
        if len(feature_shape) != 3 or feature_shape[1] is None or feature_shape[2] is None:
            return None, [("", f"{params['type']} head needs a (time, mel, channels) map with known mel bins and "
                               f"channels from the backbone (e.g. seg_encoder), the backbone gives "
                               f"({', '.join(map(str, feature_shape))})")]
        time, mel, _ = feature_shape
        return cls.output_shapes(params, time, mel, params["num_classes"])

    @classmethod
    def output_shapes(cls, params: dict, time, mel: int, classes: int) -> tuple[dict | None, list[tuple[str, str]]]:
        return {"clip": (classes,), "frames": (time, classes)}, []

    @classmethod
    def from_spec(cls, params: dict, feature_shape, name: str = "head"):
        return cls(feature_shape=feature_shape, name=name, **params)


# === 2APAE ===


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "sed_2apae")
class TwoStepAttentionAEHead(SEDHead):
    """2APAE: linear class convolution → two-step attention, plus the auto-encoder's decoder (module
    docstring; :class:`~kaudio.layers.TwoStepAttention` for the attention and the paper-vs-code
    differences).

    Outputs: ``clip`` (K,), ``frames`` (T, K), ``reconstruction`` (T, F, 1) and, with
    ``output_attention`` (default), ``mel_attention`` (T, F, K) and ``time_attention`` (T, K).

    Options:
        sigmoid: ``code`` (σ on the classification branch, the reference) or ``paper`` (σ on the
            attention logits, Eqs. 8 and 12).
        time_mixing: ``dense`` (the reference's Linear(T → T); fixed T) or ``conv`` (a 1-D convolution
            over time of width ``time_kernel_size``; any T).
        time_kernel_size: width of the ``conv`` time mixing (odd; 1 = a per-frame score).
        frame_activity: ``step1`` (step 1's output, the paper's Z_p1) or ``step2`` (step 2's per-frame
            classification branch, which the clip output averages; needs ``time_mixing: conv``).
        decoder_filters: channels of the decoder blocks; the last is 1 (the log-mel's channel).
        output_attention: also output both attention maps.
        bn_epsilon / bn_momentum: of the decoder's BatchNormalization (PyTorch defaults).
    """

    option_defaults = {"sigmoid": "code", "time_mixing": "dense", "time_kernel_size": 1, "frame_activity": "step1",
                       "decoder_filters": [128, 64, 32, 1], "output_attention": True, "bn_epsilon": BN_EPSILON,
                       "bn_momentum": BN_MOMENTUM}
    spec_schema = Schema(_CLASS_FIELDS + (
        Field("sigmoid", str, "code", "sigmoid placement: code (on the classification branch, the reference) or "
              "paper (on the attention logits, Eqs. 8, 12)", choices=SIGMOID_READINGS),
        Field("time_mixing", str, "dense", "step 2 over time: dense (the reference's Linear(T->T), fixed T) or conv "
              "(1-D convolution over time, any T)", choices=TIME_MIXINGS),
        Field("time_kernel_size", int, 1, "width of the conv time mixing (odd; 1 = a per-frame score)", minimum=1),
        Field("frame_activity", str, "step1", "the frames output: step1 (step 1's output, the paper's Z_p1) or step2 "
              "(step 2's per-frame classification branch; needs time_mixing: conv)", choices=FRAME_ACTIVITIES),
        Field("decoder_filters", list, [128, 64, 32, 1], "channels of the decoder blocks (the last must be 1)",
              item_kind=int, minimum=1),
        Field("output_attention", bool, True, "also output mel_attention (T, F, K) and time_attention (T, K)"),
        Field("bn_epsilon", float, BN_EPSILON, "decoder BatchNormalization epsilon (PyTorch default)", minimum=0.0,
              exclusive_minimum=True),
        Field("bn_momentum", float, BN_MOMENTUM, "decoder BatchNormalization momentum, Keras convention",
              minimum=0.0, maximum=1.0),
    ))

    @classmethod
    def detect(cls, features, num_classes, sigmoid="code", time_mixing="dense", time_kernel_size=1,
               frame_activity="step1", decoder_filters=(128, 64, 32, 1), output_attention=True, bn_epsilon=BN_EPSILON,
               bn_momentum=BN_MOMENTUM):
        class_map = class_convolution(features, num_classes, activation=None)
        clip, frames, mel_attention, time_attention = TwoStepAttention(
            sigmoid, time_mixing, time_kernel_size, frame_activity, name="two_step_attention")(class_map)
        x = features
        for i, width in enumerate(decoder_filters):
            x = segmentation_block(x, width, name=f"decoder_block{i + 1}", bn_epsilon=bn_epsilon,
                                   bn_momentum=bn_momentum)
        outputs = {"clip": _named(clip, "clip"), "frames": _named(frames, "frames"),
                   "reconstruction": _named(x, "reconstruction")}
        if output_attention:
            outputs.update(mel_attention=_named(mel_attention, "mel_attention"),
                           time_attention=_named(time_attention, "time_attention"))
        return outputs

    @classmethod
    def check_options(cls, params: dict, context) -> list[tuple[str, str]]:
        problems = []
        if params["time_kernel_size"] % 2 == 0:
            problems.append(("time_kernel_size", f"got {params['time_kernel_size']}, must be odd (the convolution "
                                                 "over time is centred)"))
        if params["frame_activity"] == "step2" and params["time_mixing"] != "conv":
            problems.append(("frame_activity", "step2 reads step 2's per-frame scores, which are aligned with the "
                                               "frames only with time_mixing: conv (dense mixes every frame); set "
                                               "time_mixing: conv or frame_activity: step1"))
        if params["decoder_filters"][-1] != 1:
            problems.append(("decoder_filters", f"the last decoder block reconstructs the one-channel log-mel: end "
                                                f"the list with 1, got {params['decoder_filters'][-1]}"))
        audio = context.input if context is not None else None
        if audio is not None and audio.get("channels", 1) != 1:
            problems.append(("", f"sed_2apae reconstructs a one-channel log-mel; set input.channels: 1 (2APAE "
                                 f"averages stereo to mono before the features), got {audio['channels']}"))
        return problems

    @classmethod
    def output_shapes(cls, params, time, mel, classes):
        if params["time_mixing"] == "dense" and time is None:
            return None, [("time_mixing", "time_mixing: dense (the reference's Linear(T -> T)) needs a known number "
                                          "of frames (a fixed input length); use time_mixing: conv for "
                                          "variable-length input")]
        shapes = {"clip": (classes,), "frames": (time, classes), "reconstruction": (time, mel, 1)}
        if params["output_attention"]:
            shapes.update(mel_attention=(time, mel, classes), time_attention=(time, classes))
        return shapes, []


# === Baselines (Kong et al.'s pooled segmentation maps) ===


class _PooledSEDHead(SEDHead):
    """σ(1×1 class conv) → T–F map per class; ``frames`` = its mean over frequency; ``clip`` = :meth:`pool`."""

    @classmethod
    def detect(cls, features, num_classes, **options):
        class_map = class_convolution(features, num_classes, activation="sigmoid")
        frames = FrequencyMean(name="frames")(class_map)
        return {"frames": frames, **cls.pool(features, class_map, frames, num_classes, **options)}

    @classmethod
    def pool(cls, features, class_map, frames, num_classes, **options) -> dict:
        """``{"clip": …}`` (plus any extra output) from the class map."""
        raise NotImplementedError


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "sed_gap")
class GlobalAveragePoolingSEDHead(_PooledSEDHead):
    """GAP baseline: the clip probability is the class map's mean over time and frequency."""

    @classmethod
    def pool(cls, features, class_map, frames, num_classes):
        return {"clip": keras.layers.GlobalAveragePooling2D(name="clip")(class_map)}


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "sed_gmp")
class GlobalMaxPoolingSEDHead(_PooledSEDHead):
    """GMP baseline: the clip probability is the class map's maximum over time and frequency."""

    @classmethod
    def pool(cls, features, class_map, frames, num_classes):
        return {"clip": keras.layers.GlobalMaxPooling2D(name="clip")(class_map)}


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "sed_gwrp")
class GlobalWeightedRankPoolingSEDHead(_PooledSEDHead):
    """GWRP baseline: the class map's T·F values sorted in descending order, weighted by ``r^rank``
    (:class:`~kaudio.layers.GlobalWeightedRankPooling`; r = 0.9998 as Kong et al.'s code)."""

    option_defaults = {"r": 0.9998}
    spec_schema = Schema(_CLASS_FIELDS + (
        Field("r", float, 0.9998, "decay of the rank weights r^j (0 = max pooling, 1 = average pooling)",
              minimum=0.0, maximum=1.0),
    ))

    @classmethod
    def pool(cls, features, class_map, frames, num_classes, r=0.9998):
        return {"clip": GlobalWeightedRankPooling(r, name="clip")(class_map)}


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "sed_attention")
class AttentionPoolingSEDHead(_PooledSEDHead):
    """Attention pooling over time: a second 1×1 convolution gives attention logits, averaged over
    frequency and normalised by a softmax over time; the clip probability is the attention-weighted
    sum of the frames (:class:`~kaudio.layers.TimeAttentionPooling`). Also outputs ``time_attention``."""

    @classmethod
    def pool(cls, features, class_map, frames, num_classes):
        logits = FrequencyMean(name="attention_logits")(
            class_convolution(features, num_classes, activation=None, name="attention_conv"))
        clip, weights = TimeAttentionPooling(name="time_attention_pooling")([frames, logits])
        return {"clip": _named(clip, "clip"), "time_attention": _named(weights, "time_attention")}

    @classmethod
    def output_shapes(cls, params, time, mel, classes):
        return {"clip": (classes,), "frames": (time, classes), "time_attention": (time, classes)}, []
