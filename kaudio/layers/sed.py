"""Pooling layers of weakly labelled sound event detection: class maps ``(batch, T, F, K)`` → clip
probabilities ``(batch, K)`` and frame-level activity ``(batch, T, K)``. Written with ``keras.ops`` only.

* :class:`TwoStepAttention` — 2APAE's two-step attention (Deshmukh et al., "Multi-Task Learning
  for Interpretable Weakly Labelled Sound Event Detection", §III-C, Eqs. 8–15;
  ``soham97/MTL_Weakly_labelled_audio_data`` ``models.py``, ``DualStageAttention``).
* :class:`GlobalWeightedRankPooling` — GWRP (Kolesnikov & Lampert 2016, as used for SED by Kong
  et al., "Sound event detection and time–frequency segmentation from weakly labelled data", 2019;
  ``qiuqiangkong/sed_time_freq_segmentation`` ``pytorch/models_pytorch.py``).
* :class:`FrequencyMean` — the mean over frequency of a class map: Kong et al.'s frame-wise SED
  output (``np.mean(bottleneck, axis=-1)`` in ``pytorch/main_pytorch.py``).
* :class:`TimeAttentionPooling` — attention pooling over time (Kong et al., "Audio set
  classification with attention model: a probabilistic perspective", 2018).

Every class map here is channels-last, ``(batch, time, frequency, classes)``: PyTorch's
``(N, K, T, F)`` with the class axis moved last, so the linear layers that the reference applies
to its last axis (mel, then time) act here on axis 2, then axis 1, and never mix classes.

Precision: these layers compute in float32 whatever the dtype policy and return the policy's
compute dtype (:class:`Float32Layer`). In bfloat16 (8 bits of mantissa) GWRP's r = 0.9998 rounds
to 1 — GWRP would silently become GAP — and sums of hundreds of weighted frames lose their small
terms.
"""
from __future__ import annotations

import math

import keras
from keras import ops

from kaudio.errors import KaudioError

SIGMOID_READINGS = ("code", "paper")
TIME_MIXINGS = ("dense", "conv")
FRAME_ACTIVITIES = ("step1", "step2")


def torch_default_uniform(fan_in: int) -> keras.initializers.Initializer:
    """U(−1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default initialisation of ``nn.Linear`` and
    ``nn.Conv1d`` weights (kaiming_uniform with a = sqrt(5)) and biases, which the reference keeps
    for its attention layers."""
    limit = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-limit, limit)


# === Layers ===


class Float32Layer(keras.layers.Layer):
    """A layer that computes in float32 under any dtype policy: inputs are not cast to the compute
    dtype on the way in and variables are read in float32 (``autocast=False``); :meth:`float32`
    casts a tensor for the computation and :meth:`output` casts a result to the compute dtype."""

    def __init__(self, **kwargs):
        kwargs["autocast"] = False
        super().__init__(**kwargs)

    @staticmethod
    def float32(x):
        return ops.cast(x, "float32")

    def output(self, x):
        return ops.cast(x, self.compute_dtype)


@keras.saving.register_keras_serializable(package="kaudio")
class TwoStepAttention(Float32Layer):
    """2APAE's two-step attention pooling, Eqs. 8–15, as the reference codes it.

    Input: the class map ``Z`` ``(batch, T, F, K)`` (the linear 1×1 class convolution of the
    encoder output). Outputs, in this order::

        clip            (batch, K)        step 2's output, clamped to [0, 1]      (Z_p2, Eq. 15)
        frames          (batch, T, K)     frame activity, per frame and class     (``frame_activity``)
        mel_attention   (batch, T, F, K)  step 1's weights, sum to 1 over F       (Ẑ_a1, Eq. 10)
        time_attention  (batch, T, K)     step 2's weights, sum to 1 over T       (Ẑ_a2, Eq. 14)

    Step 1, over mel bins (``fc_mel_prob``, ``fc_mel_att``: Dense(F → F) on the mel axis, shared by
    every class and frame)::

        p = σ(Z·W_p + b_p),   a = softmax_F(Z·W_a + b_a),   v = Σ_F p·a          (sigmoid: code)

    Step 2, over time on ``v`` with its own layers (``fc_time_prob``, ``fc_time_att``)::

        p₂ = σ(mix_p(v)),     a₂ = softmax_T(mix_a(v)),     clip = clip_[0,1](Σ_T p₂·a₂)

    With ``sigmoid: code`` every ``p`` is a probability and ``v``, the clip output and the clamp's
    input are convex combinations of probabilities, so ``frames`` is frame-level activity in
    [0, 1] (the paper's Fig. 3, 5th panel). ``sigmoid: paper`` follows Eqs. 8–10 and 12–14 instead:
    ``p = Z·W_p + b_p`` (linear, Eq. 9) and ``a = softmax(σ(Z·W_a + b_a))`` (σ on the attention
    logits, Eq. 8); ``frames`` is then unbounded and only the clamp keeps ``clip`` in [0, 1].

    Frame activity (the ``frames`` output):

    * ``step1`` — step 1's output ``v`` (Z_p1, Eq. 11), the paper's time-level readout. Nothing in
      the clip loss ties ``v``'s sign to the events: with ``dense`` time mixing ``mix_p``/``mix_a``
      may weigh a frame negatively, and in kaudio's example (``examples/weak_sed``) ``v`` came out
      *inverted* (low on the events, high elsewhere) while the clip output was right.
    * ``step2`` — step 2's classification branch ``p₂`` per frame, which the clip output averages
      with convex weights ``a₂`` (the frame-wise output of Kong et al.'s attention pooling): a
      negative clip pushes ``p₂`` down wherever ``a₂`` looks, a positive one up. Needs ``conv``
      time mixing (with ``dense``, ``p₂[s]`` mixes every frame and is not aligned with frame s).

    Time mixing (how step 2 reads ``v`` along time):

    * ``dense`` — the reference's ``nn.Linear(T, T)``: every output frame sees every input frame;
      T must be known when the layer is built (the reference accepts only T = 311) and
      ``2·(T² + T)`` weights (194,064 at T = 311).
    * ``conv`` — T-agnostic: a 1-D convolution over time of width ``time_kernel_size`` (odd, zero
      'same' padding), shared by every class: ``time_kernel_size: 1`` is a per-frame affine score
      ``w·v[t] + b``. Any clip length; ``2·(time_kernel_size + 1)`` weights.

    Paper vs. code (the nine differences between the paper and ``soham97/MTL_Weakly_labelled_audio_data``
    and Kong's ``qiuqiangkong/sed_time_freq_segmentation`` features; kaudio follows the code unless
    an option says otherwise):

    1. σ placement: the paper puts σ on the attention logits before the softmax and keeps the
       classification branch linear (Eqs. 8–9); the code applies σ to the classification ("prob")
       branch and feeds raw logits to the softmax. Default ``sigmoid: code``; ``sigmoid: paper``
       for the equations.
    2. Eq. 12 reuses step 1's attention weights ``W_a1`` (a typo: F×F weights cannot act on T);
       the code has separate time layers, as here.
    3. The "linear neural network" sizes are F→F over mel and T→T over time, shared by the
       classes (here: ``time_mixing: dense``; ``conv`` is kaudio's T-agnostic option).
    4. The final clamp to [0, 1] is in the code only; kaudio keeps it (both readings).
    5. The decoder's last block ends with BN → ReLU → 3×3 average pool, so the reconstruction is
       non-negative although the z-scored target is not (the ``sed_2apae`` head keeps this).
    6. Average pooling counts the zero padding at the borders (PyTorch's ``count_include_pad``;
       the ``seg_encoder`` backbone keeps it).
    7. Convolutions have no bias; only the 1×1 class convolution has one (kept).
    8. Feature details are not in the paper: symmetric Hamming window, scipy's density scaling,
       natural log of mel + 1e-8, per-bin z-score (the ``2apae`` front-end preset).
    9. Eq. 17 writes L1 for both loss terms; the code uses BCE + α·MSE (the ``sed_bce_mse`` loss).

    Weights (Keras kernels are the transposed PyTorch ``weight``): ``mel_prob_kernel``/``_bias``,
    ``mel_att_kernel``/``_bias`` (F×F, F); ``time_prob_kernel``/``_bias``, ``time_att_kernel``/``_bias``
    (T×T, T for ``dense``; (time_kernel_size,), (1,) for ``conv``). Initialised as PyTorch's
    defaults, U(±1/sqrt(fan_in)) (:func:`torch_default_uniform`), like the reference.

    Args:
        sigmoid: ``"code"`` or ``"paper"`` (above).
        time_mixing: ``"dense"`` or ``"conv"`` (above).
        time_kernel_size: width of the ``conv`` time mixing (odd).
        frame_activity: ``"step1"`` or ``"step2"`` (above).
    """

    def __init__(self, sigmoid: str = "code", time_mixing: str = "dense", time_kernel_size: int = 1,
                 frame_activity: str = "step1", **kwargs):
        super().__init__(**kwargs)
        if sigmoid not in SIGMOID_READINGS:
            raise KaudioError(f"TwoStepAttention sigmoid must be one of {SIGMOID_READINGS}, got {sigmoid!r}")
        if time_mixing not in TIME_MIXINGS:
            raise KaudioError(f"TwoStepAttention time_mixing must be one of {TIME_MIXINGS}, got {time_mixing!r}")
        if time_kernel_size < 1 or time_kernel_size % 2 == 0:
            raise KaudioError(f"TwoStepAttention time_kernel_size must be odd and positive, got {time_kernel_size}")
        if frame_activity not in FRAME_ACTIVITIES:
            raise KaudioError(f"TwoStepAttention frame_activity must be one of {FRAME_ACTIVITIES}, got {frame_activity!r}")
        if frame_activity == "step2" and time_mixing != "conv":
            raise KaudioError("TwoStepAttention frame_activity 'step2' needs time_mixing 'conv' (with 'dense' step 2 "
                              "mixes every frame, so its scores are not aligned with the frames)")
        self.sigmoid = sigmoid
        self.time_mixing = time_mixing
        self.frame_activity = frame_activity
        self.time_kernel_size = int(time_kernel_size)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[2] is None:
            raise KaudioError(f"{self.name}: expected a (batch, time, mel, classes) class map with a known number of "
                              f"mel bins, got shape {tuple(input_shape)}")
        frames, bins = input_shape[1], input_shape[2]
        if self.time_mixing == "dense" and frames is None:
            raise KaudioError(f"{self.name}: time_mixing 'dense' (Linear(T → T)) needs a known number of frames; use "
                              "time_mixing 'conv' for variable-length input")
        for branch in ("prob", "att"):
            setattr(self, f"mel_{branch}_kernel", self.add_weight(
                name=f"mel_{branch}_kernel", shape=(bins, bins), initializer=torch_default_uniform(bins)))
            setattr(self, f"mel_{branch}_bias", self.add_weight(
                name=f"mel_{branch}_bias", shape=(bins,), initializer=torch_default_uniform(bins)))
        if self.time_mixing == "dense":
            kernel_shape, bias_shape, fan_in = (frames, frames), (frames,), frames
        else:
            kernel_shape, bias_shape, fan_in = (self.time_kernel_size,), (1,), self.time_kernel_size
        for branch in ("prob", "att"):
            setattr(self, f"time_{branch}_kernel", self.add_weight(
                name=f"time_{branch}_kernel", shape=kernel_shape, initializer=torch_default_uniform(fan_in)))
            setattr(self, f"time_{branch}_bias", self.add_weight(
                name=f"time_{branch}_bias", shape=bias_shape, initializer=torch_default_uniform(fan_in)))

    # --- the two steps ------------------------------------------------------------------------

    def _mel_linear(self, z, branch: str):
        """Dense(F → F) on the mel axis of ``(batch, T, F, K)``."""
        kernel, bias = self.float32(getattr(self, f"mel_{branch}_kernel")), self.float32(getattr(self, f"mel_{branch}_bias"))
        return ops.einsum("btfk,fg->btgk", z, kernel) + ops.reshape(bias, (-1, 1))

    def _time_mix(self, v, branch: str):
        """Dense(T → T) or a 1-D convolution over the time axis of ``(batch, T, K)``."""
        kernel = self.float32(getattr(self, f"time_{branch}_kernel"))
        bias = self.float32(getattr(self, f"time_{branch}_bias"))
        if self.time_mixing == "dense":
            return ops.einsum("btk,ts->bsk", v, kernel) + ops.reshape(bias, (-1, 1))
        # a (k, 1) 2-D convolution over (time, class) with one channel: the same 1-D filter for every class
        mixed = ops.conv(ops.expand_dims(v, -1), ops.reshape(kernel, (-1, 1, 1, 1)), strides=1, padding="same",
                         data_format="channels_last")
        return ops.squeeze(mixed, -1) + bias

    def _probability(self, prob_logits):
        """The classification branch: σ of the logits (``sigmoid: code``) or the logits (``paper``)."""
        return ops.sigmoid(prob_logits) if self.sigmoid == "code" else prob_logits

    def _attend(self, prob_logits, att_logits, axis: int):
        """``Σ_axis p·a`` and the weights ``a`` for the chosen σ placement."""
        weights = ops.softmax(att_logits if self.sigmoid == "code" else ops.sigmoid(att_logits), axis=axis)
        return ops.sum(self._probability(prob_logits) * weights, axis=axis), weights

    def call(self, z):
        z = self.float32(z)
        v, mel_attention = self._attend(self._mel_linear(z, "prob"), self._mel_linear(z, "att"), axis=2)
        time_prob_logits = self._time_mix(v, "prob")
        clip, time_attention = self._attend(time_prob_logits, self._time_mix(v, "att"), axis=1)
        frames = v if self.frame_activity == "step1" else self._probability(time_prob_logits)
        return tuple(self.output(t) for t in (ops.clip(clip, 0.0, 1.0), frames, mel_attention, time_attention))

    def compute_output_shape(self, input_shape):
        batch, frames, bins, classes = input_shape
        return (batch, classes), (batch, frames, classes), tuple(input_shape), (batch, frames, classes)

    def get_config(self):
        config = super().get_config()
        config.update(sigmoid=self.sigmoid, time_mixing=self.time_mixing, time_kernel_size=self.time_kernel_size,
                      frame_activity=self.frame_activity)
        return config


@keras.saving.register_keras_serializable(package="kaudio")
class GlobalWeightedRankPooling(Float32Layer):
    """GWRP: ``(batch, T, F, K)`` → ``(batch, K)``, per class the values of all T·F positions sorted
    in descending order and averaged with weights ``r^j`` (rank j from 0), normalised to sum to 1.

    ``r = 0`` is global max pooling (0⁰ = 1), ``r = 1`` global average pooling; Kong et al.'s SED
    models (``VggishGWRP``, also 2APAE's ``models_extension.py`` baseline) use r = 0.9998 over
    311 × 64 positions. Any T (the weights follow the input's length).
    """

    def __init__(self, r: float = 0.9998, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= r <= 1.0:
            raise KaudioError(f"GlobalWeightedRankPooling needs 0 <= r <= 1, got {r}")
        self.r = float(r)

    def call(self, x):
        values = ops.reshape(self.float32(x), (ops.shape(x)[0], -1, x.shape[-1]))  # (batch, T·F, K)
        descending = -ops.sort(-values, axis=1)
        ranks = ops.cast(ops.arange(ops.shape(values)[1]), "float32")
        weights = ops.power(ops.cast(self.r, "float32"), ranks)
        return self.output(ops.sum(descending * ops.expand_dims(weights, -1), axis=1) / ops.sum(weights))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(r=self.r)
        return config


@keras.saving.register_keras_serializable(package="kaudio")
class FrequencyMean(Float32Layer):
    """``(batch, T, F, K)`` → ``(batch, T, K)``: the mean over frequency (axis 2)."""

    def call(self, x):
        return self.output(ops.mean(self.float32(x), axis=2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[3])


@keras.saving.register_keras_serializable(package="kaudio")
class TimeAttentionPooling(Float32Layer):
    """Attention pooling over time: inputs ``[frames (batch, T, K), logits (batch, T, K)]``,
    outputs ``(clip (batch, K), weights (batch, T, K))`` with ``weights = softmax_T(logits)`` and
    ``clip = Σ_T frames·weights`` — a convex combination of the frame probabilities, so the clip
    output stays in [0, 1] (the normalised attention of Kong et al. 2018, with exp as its
    non-negative map)."""

    def call(self, inputs):
        frames, logits = (self.float32(t) for t in inputs)
        weights = ops.softmax(logits, axis=1)
        return self.output(ops.sum(frames * weights, axis=1)), self.output(weights)

    def compute_output_shape(self, input_shape):
        frames_shape, _ = input_shape
        return (frames_shape[0], frames_shape[2]), tuple(frames_shape)
