"""SpecAugment masking with masks drawn from a Keras seed generator (repeatable runs), ``keras.ops`` only."""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kaudio")
class SeededSpecAugment(keras.layers.Layer):
    """Time and frequency masking of SpecAugment (Park et al., "SpecAugment: A Simple Data Augmentation Method for
    Automatic Speech Recognition", Interspeech 2019, §2.1) on ``(batch, time, freq, channels)`` spectrograms, in
    training only.

    For each example, ``n_time_masks`` masks of width ``w ~ U{0, …, time_mask_param − 1}`` (+1 bin) start at
    ``t0 ~ U{0, …, T − w − 1}`` and cover bins ``t0 … t0 + w``, whose values become ``mask_value``; the same along
    frequency with ``freq_mask_param`` / ``n_freq_masks``. Every channel of an example gets the same masks. This is
    the distribution of kapre's ``kapre.augmentation.SpecAugment`` (kapre 0.4), which kaudio used before. kapre
    draws each example's masks with stateful random ops inside ``tf.map_fn``, whose parallel iterations take the
    draws in the order the threads run, so the same seed gave other masks — and other trained weights — from run to
    run. Here all masks of a batch come from one draw of a :class:`keras.random.SeedGenerator`, whose state is a
    variable: the masks follow from the seed (``keras.utils.set_random_seed`` before the layer is built, or
    ``seed``) and the number of batches seen, and a run resumed with that state saved
    (``kaudio.training.callbacks.SeedStateBackup``) continues them.

    Args:
        time_mask_param / freq_mask_param: widest mask (bins), ≥ 1; at most the axis length.
        n_time_masks / n_freq_masks: masks per example along each axis (0: none).
        mask_value: the value of masked bins (kapre's default, 0).
        seed: seed of the generator (None: drawn from Keras' global seed).
    """

    def __init__(self, time_mask_param: int, n_time_masks: int, freq_mask_param: int, n_freq_masks: int,
                 mask_value: float = 0.0, seed: "int | None" = None, **kwargs):
        super().__init__(**kwargs)
        for name, value, least in (("time_mask_param", time_mask_param, 1), ("freq_mask_param", freq_mask_param, 1),
                                   ("n_time_masks", n_time_masks, 0), ("n_freq_masks", n_freq_masks, 0)):
            if int(value) != value or value < least:
                raise ValueError(f"SeededSpecAugment: {name} must be an integer ≥ {least}, got {value!r}")
        self.time_mask_param, self.n_time_masks = int(time_mask_param), int(n_time_masks)
        self.freq_mask_param, self.n_freq_masks = int(freq_mask_param), int(n_freq_masks)
        self.mask_value, self.seed = float(mask_value), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"SeededSpecAugment expects (batch, time, freq, channels), got shape {input_shape}")
        for axis, param, count in ((1, self.time_mask_param, self.n_time_masks),
                                   (2, self.freq_mask_param, self.n_freq_masks)):
            if count and input_shape[axis] is not None and input_shape[axis] < param:
                raise ValueError(f"SeededSpecAugment: a mask of up to {param} bins does not fit axis {axis} of "
                                 f"length {input_shape[axis]}")

    def axis_masks(self, batch, length, mask_param: int, n_masks: int):
        """``(batch, length)`` booleans: True on the bins any of an example's ``n_masks`` masks covers."""
        draws = keras.random.uniform((2, batch, n_masks), seed=self.seed_generator)
        width = ops.floor(draws[0] * mask_param)
        start = ops.floor(draws[1] * (ops.cast(length, draws.dtype) - width))
        bins = ops.cast(ops.arange(length), draws.dtype)[None, None, :]
        covered = ops.logical_and(bins >= start[..., None], bins <= (start + width)[..., None])
        return ops.any(covered, axis=1)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        shape = ops.shape(inputs)
        batch, frames, bins = shape[0], shape[1], shape[2]
        mask_value = ops.cast(self.mask_value, inputs.dtype)
        outputs = inputs
        if self.n_time_masks:
            masked = self.axis_masks(batch, frames, self.time_mask_param, self.n_time_masks)
            outputs = ops.where(masked[:, :, None, None], mask_value, outputs)
        if self.n_freq_masks:
            masked = self.axis_masks(batch, bins, self.freq_mask_param, self.n_freq_masks)
            outputs = ops.where(masked[:, None, :, None], mask_value, outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "time_mask_param": self.time_mask_param, "n_time_masks": self.n_time_masks,
                "freq_mask_param": self.freq_mask_param, "n_freq_masks": self.n_freq_masks,
                "mask_value": self.mask_value, "seed": self.seed}
