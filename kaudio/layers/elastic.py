"""Elastic-width and elastic-depth layers: one set of weights shared by every sub-network of a
once-for-all supernet (Lin et al., "Weight-sharing supernet for searching specialized acoustic
event classification networks across device constraints", ICASSP 2023, §2.2, the selection
S(w_o, a) of Eq. 1; after Cai et al., "Once-for-All: Train One Network and Specialize it for
Efficient Deployment", ICLR 2020, ``mit-han-lab/once-for-all``).

Elastic width (EW): a layer with ``D`` output channels whose active width is ``w`` uses its first
``w`` channels (the paper's ⌊r·D⌋ for a width ratio ``r``). Elastic depth (ED): a block of two
convs may skip its second one.

How the active sub-network is selected — masks, not slices
----------------------------------------------------------
Every elastic layer holds its active width in a non-trainable ``int32`` variable
(``active_width``; ``active_depth`` for :class:`ElasticDepth`) and multiplies its output by the
mask of its first ``active_width`` channels, so inactive channels are exactly 0:

* the next conv or dense layer sees zeros in its inactive *input* channels, so its input width
  follows the previous layer's active width with no extra state — a conv on a masked input
  equals the conv whose kernel is sliced to ``[:, :, :w_in, :w_out]``;
* BatchNormalization is per channel, so a BN over the masked output is a BN over the active
  channels — but BN of an all-zero channel gives β, so :class:`ElasticBatchNormalization` masks
  *after* normalising (ReLU, average pooling, dropout and PANNs' global pooling keep zeros at 0),
  and in training it updates the moving mean / variance of the active channels only (an
  inactive channel's statistics would otherwise decay towards the zeros it does not compute);
* gradients of inactive weights are exactly 0.

Setting a sub-network is a variable assignment: no layer is rebuilt and a compiled train step
is traced once for all sub-networks (the supernet trainer samples K sub-networks per step inside
one ``tf.function``, from an int tensor). The alternative — slicing the kernels with static
shapes — computes only the active channels but traces once per configuration, and cannot take a
configuration drawn inside the compiled step. Measured (``benchmarks/ofa_mask_vs_slice.py``:
forward + backward of the CNN10-shaped ``ofa_cnn10``, batch 8 × 2 s at 32 kHz = 201 × 64
log-mel, a 2-core CPU shared with other jobs): masks 1.23–1.37 s per step for every
configuration with one trace in all; slices 1.33 s (largest) down to 0.38 s (smallest), plus a
new trace of 1.4–3.7 s for each of the 512 configurations. Slicing is faster per step for
narrow sub-networks (up to 3.5×), masks are faster over a training run that samples from the
whole space and are the only design that samples inside the compiled step. A deployed
sub-network is the extracted plain model (:mod:`kaudio.models.ofa.extract`) and pays only for its
own size.

The variables are saved with the model (a ``.keras`` file keeps the active sub-network) and use
``aggregation="only_first_replica"`` so that under ``tf.distribute`` every replica runs the
sub-network the first replica set. Layers: :class:`ElasticConv2D`, :class:`ElasticBatchNormalization`,
:class:`ElasticDense` (drop-in subclasses of the Keras layers, same arguments) and
:class:`ElasticDepth`. The supernet backbone that uses them is :mod:`kaudio.models.ofa`.
"""
from __future__ import annotations

import keras
from keras import backend, ops

WIDTH_VARIABLE = "active_width"
DEPTH_VARIABLE = "active_depth"


def _state_variable(layer: keras.layers.Layer, name: str, value: int):
    """A non-trainable int32 scalar holding part of the active configuration."""
    return layer.add_weight(name=name, shape=(), dtype="int32", initializer=keras.initializers.Constant(int(value)),
                            trainable=False, aggregation="only_first_replica")


class _ElasticWidth:
    """Mixin: an ``active_width`` variable and the mask of the first ``active_width`` output channels."""

    full_width: int

    def _add_width_variable(self) -> None:
        self.active_width = _state_variable(self, WIDTH_VARIABLE, self.full_width)

    def width_mask(self, dtype):
        """``(full_width,)``: 1 for the active channels, 0 for the others, in ``dtype`` (``"bool"`` too)."""
        active = ops.less(ops.arange(self.full_width, dtype="int32"), ops.convert_to_tensor(self.active_width))
        return active if dtype == "bool" else ops.cast(active, dtype)

    def set_active_width(self, width) -> None:
        """Activate the first ``width`` channels (a Python int, or an int tensor inside a ``tf.function``)."""
        self.active_width.assign(ops.cast(width, "int32"))

    def _masked(self, outputs):
        return outputs * self.width_mask(outputs.dtype)


class _SavedWidth(_ElasticWidth):
    """For Keras layers that save a fixed list of their variables (``Conv2D``, ``Dense``: kernel and bias):
    the active width is saved beside them under its own key."""

    def save_own_variables(self, store):
        super().save_own_variables(store)
        if self.built:
            store[WIDTH_VARIABLE] = self.active_width

    def load_own_variables(self, store):
        super().load_own_variables(store)
        if self.built:
            self.active_width.assign(store[WIDTH_VARIABLE])


@keras.saving.register_keras_serializable(package="kaudio")
class ElasticConv2D(_SavedWidth, keras.layers.Conv2D):
    """``Conv2D`` whose output channels beyond ``active_width`` are 0 (module docstring).

    Same arguments as ``keras.layers.Conv2D``; the supernet uses 3×3 convs without bias as PANNs."""

    def build(self, input_shape):
        self.full_width = int(self.filters)
        self._add_width_variable()
        super().build(input_shape)

    def call(self, inputs):
        return self._masked(super().call(inputs))


@keras.saving.register_keras_serializable(package="kaudio")
class ElasticDense(_SavedWidth, keras.layers.Dense):
    """``Dense`` whose units beyond ``active_width`` are 0 after the activation (a ReLU of a bias
    alone is not 0, so the mask comes last). Its inactive *inputs* are zeros from the layer before."""

    def build(self, input_shape):
        self.full_width = int(self.units)
        self._add_width_variable()
        super().build(input_shape)

    def call(self, inputs, training=None):
        return self._masked(super().call(inputs, training=training))


@keras.saving.register_keras_serializable(package="kaudio")
class ElasticBatchNormalization(_ElasticWidth, keras.layers.BatchNormalization):
    """BatchNormalization over the last axis of a masked feature map (module docstring): the inactive
    channels' output is 0 (masked after normalising, since BN of a zero channel is β), and in training
    only the active channels' moving mean and variance are updated. The active channels are
    normalised exactly as by ``keras.layers.BatchNormalization`` (same moments, same update rule)."""

    def build(self, input_shape):
        if self.axis not in (-1, len(input_shape) - 1):
            raise ValueError(f"ElasticBatchNormalization normalises the channel (last) axis, got axis={self.axis}")
        self.full_width = int(input_shape[-1])
        self._add_width_variable()
        super().build(input_shape)

    def call(self, inputs, training=None, mask=None):
        compute_dtype = backend.result_type(inputs.dtype, "float32")  # as Keras: BN statistics in float32 at least
        inputs = ops.cast(inputs, compute_dtype)
        moving_mean = ops.cast(self.moving_mean, compute_dtype)
        moving_variance = ops.cast(self.moving_variance, compute_dtype)
        if training and self.trainable:
            mean, variance = ops.moments(inputs, axes=self._reduction_axes, synchronized=self.synchronized)
            active = self.width_mask("bool")
            self.moving_mean.assign(ops.where(active, moving_mean * self.momentum + mean * (1.0 - self.momentum),
                                              moving_mean))
            self.moving_variance.assign(ops.where(
                active, moving_variance * self.momentum + variance * (1.0 - self.momentum), moving_variance))
        else:
            mean, variance = moving_mean, moving_variance
        outputs = ops.batch_normalization(
            inputs, mean, variance, axis=self.axis,
            offset=ops.cast(self.beta, compute_dtype) if self.center else None,
            scale=ops.cast(self.gamma, compute_dtype) if self.scale else None, epsilon=self.epsilon)
        return ops.cast(self._masked(outputs), self.compute_dtype)


@keras.saving.register_keras_serializable(package="kaudio")
class ElasticDepth(keras.layers.Layer):
    """Elastic depth of a block (module docstring): given the block's outputs after its first,
    second, … conv, returns the one after ``active_depth`` convs.

    A block ``conv1 → conv2`` with ``max_depth=2`` is ``ElasticDepth()([after_conv1, after_conv2])``;
    conv2 maps C → C so both have one shape. The selection is a ``cond`` on the variable: the
    unselected branch gets no gradient (its convs are still computed — the mask design trades
    compute for one trace). conv2's BatchNormalization keeps updating its statistics while the
    block is shallow; they are statistics of conv2's input, which does not depend on the depth.

    Args:
        max_depth: the number of convs of the full block (its number of inputs).
    """

    def __init__(self, max_depth: int = 2, **kwargs):
        super().__init__(**kwargs)
        if int(max_depth) < 1:
            raise ValueError(f"max_depth must be >= 1, got {max_depth}")
        self.max_depth = int(max_depth)

    def build(self, input_shape):
        if len(input_shape) != self.max_depth:
            raise ValueError(f"ElasticDepth(max_depth={self.max_depth}) takes {self.max_depth} inputs, got "
                             f"{len(input_shape)}")
        self.active_depth = _state_variable(self, DEPTH_VARIABLE, self.max_depth)

    def set_active_depth(self, depth) -> None:
        """Keep the first ``depth`` convs (a Python int, or an int tensor inside a ``tf.function``)."""
        self.active_depth.assign(ops.cast(depth, "int32"))

    def call(self, inputs):
        depth = ops.convert_to_tensor(self.active_depth)
        selected = inputs[0]
        for d in range(2, self.max_depth + 1):
            selected = ops.cond(ops.greater_equal(depth, d), lambda x=inputs[d - 1]: x, lambda x=selected: x)
        return selected

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "max_depth": self.max_depth}
