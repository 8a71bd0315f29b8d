"""Per-bin standardisation of features (z-score with statistics of the training split).

2APAE (Deshmukh et al., "Multi-Task Learning for Interpretable Weakly Labelled Sound Event
Detection"; ``soham97/MTL_Weakly_labelled_audio_data`` ``dataset.py``, ``calculate_mean_var``)
standardises each mel bin of the log-mel with the mean and the standard deviation of that bin over
every frame of every clip of the training folds, ``x ← (x − mean) / std``, for training and
validation alike, and the auto-encoder reconstructs the standardised input.

:class:`Standardization` holds the statistics as non-trainable weights, so they are saved in the
``.keras`` file with the model. The rule until statistics are set: **mean 0 and std 1, the
identity** — a freshly built model computes plain features, and :attr:`Standardization.has_statistics`
tells whether the trainer set them. Statistics come from :func:`feature_statistics` (numpy,
streaming over batches) and go in with :meth:`Standardization.set_statistics`; a front end built
with ``standardize: true`` does both in :meth:`~kaudio.frontends.SpectrogramFrontEnd.fit_standardization`.
"""
from __future__ import annotations

from typing import Iterable

import keras
import numpy as np
from keras import ops

from kaudio.errors import KaudioError


# === Statistics ===


class RunningStatistics:
    """Per-bin mean and population standard deviation (numpy's ``ddof=0``, as the reference) over
    batches, merged in float64 with Chan et al.'s pairwise update (exact up to rounding, whatever
    the number of batches).

    Args:
        axis: the axis of the bins in each batch (``-2`` for ``(batch, time, mel, channels)``).
    """

    def __init__(self, axis: int = -2):
        self.axis = axis
        self.count = 0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None

    def update(self, batch) -> None:
        """Add one batch (any array: a numpy array or a tensor)."""
        x = np.moveaxis(np.asarray(batch, dtype=np.float64), self.axis, -1)
        x = x.reshape(-1, x.shape[-1])
        if x.shape[0] == 0:
            return
        mean, m2, n = x.mean(axis=0), ((x - x.mean(axis=0)) ** 2).sum(axis=0), x.shape[0]
        if self.mean is None:
            self.count, self.mean, self.m2 = n, mean, m2
            return
        if mean.shape != self.mean.shape:
            raise KaudioError(f"feature statistics: a batch has {mean.shape[0]} bins, the ones before had "
                              f"{self.mean.shape[0]}")
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta ** 2 * (self.count * n / total)
        self.count = total

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, std)``, float64. A bin that never varies (std 0, e.g. a band above a low-pass
        cut) gets std 1: it is centred but not scaled, where the reference would divide by zero."""
        if self.mean is None:
            raise KaudioError("feature statistics: no features were seen (the dataset is empty)")
        std = np.sqrt(self.m2 / self.count)
        return self.mean.copy(), np.where(std > 0, std, 1.0)


def feature_statistics(batches: Iterable, axis: int = -2) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin ``(mean, std)`` of every value of ``batches`` (arrays or tensors whose ``axis`` holds
    the bins; all other axes — examples, frames, channels — are pooled), as the reference computes
    them over the training folds. See :class:`RunningStatistics` for the std-0 rule."""
    statistics = RunningStatistics(axis)
    for batch in batches:
        statistics.update(batch)
    return statistics.result()


# === Layer ===


@keras.saving.register_keras_serializable(package="kaudio")
class Standardization(keras.layers.Layer):
    """``(x − mean[bin]) / std[bin]`` along ``axis``, with ``mean`` and ``std`` non-trainable weights.

    Identity (mean 0, std 1) until :meth:`set_statistics` (module docstring). The weights are
    created at build from the size of ``axis``, which must be known.

    Args:
        axis: the bin axis of the input (``-2``: mel of ``(batch, time, mel, channels)``).
    """

    def __init__(self, axis: int = -2, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def build(self, input_shape):
        size = input_shape[self.axis]
        if size is None:
            raise KaudioError(f"{self.name}: the standardised axis {self.axis} must have a known size, got "
                              f"shape {tuple(input_shape)}")
        self.mean = self.add_weight(name="mean", shape=(size,), initializer="zeros", trainable=False)
        self.std = self.add_weight(name="std", shape=(size,), initializer="ones", trainable=False)

    def _along_axis(self, weight, x):
        shape = [1] * len(x.shape)
        shape[self.axis] = -1
        return ops.reshape(ops.cast(weight, x.dtype), shape)

    def call(self, x):
        return (x - self._along_axis(self.mean, x)) / self._along_axis(self.std, x)

    def compute_output_shape(self, input_shape):
        return input_shape

    # --- statistics ---------------------------------------------------------------------------

    def set_statistics(self, mean, std) -> None:
        """Set the per-bin statistics (arrays of the bin count; every std finite and > 0)."""
        if not self.built:
            raise KaudioError(f"{self.name}: build the layer (call it once) before setting its statistics")
        size = self.mean.shape[0]
        mean, std = np.asarray(mean, np.float64).reshape(-1), np.asarray(std, np.float64).reshape(-1)
        if mean.shape != (size,) or std.shape != (size,):
            raise KaudioError(f"{self.name}: expected mean and std of {size} bins, got {mean.shape[0]} and {std.shape[0]}")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise KaudioError(f"{self.name}: mean must be finite and std finite and > 0 in every bin")
        self.mean.assign(mean.astype(self.mean.dtype))
        self.std.assign(std.astype(self.std.dtype))

    def statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """The current ``(mean, std)`` as numpy arrays."""
        return ops.convert_to_numpy(self.mean), ops.convert_to_numpy(self.std)

    @property
    def has_statistics(self) -> bool:
        """Whether statistics were set (anything but the identity's mean 0, std 1)."""
        mean, std = self.statistics()
        return bool(mean.any() or (std != 1).any())

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis)
        return config
