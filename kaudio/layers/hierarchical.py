"""Layers linking fine- and coarse-level tag probabilities (Zhong et al., §3, Fig. 2).

All take the hierarchy as its ``(N_fine, N_coarse)`` 0/1 ``membership`` matrix
(:attr:`kaudio.hierarchy.Hierarchy.membership`; ``membership[f, c] = 1`` iff ``c`` is the parent
of ``f``), stored in the layer config as a nested list, and are written with ``keras.ops`` only.

* :class:`GroupedPooling` — GMP / GAP, Fig. 2 (c): coarse = max / mean of the children.
* :class:`LinearProjection` — LP, Fig. 2 (c): coarse = σ(P_fine · K + b), a learned projection.
* :class:`TopDownSoftTree` — the simplified soft decision tree, Fig. 2 (b).
* :class:`ResidualAttention` — ResAtt, Fig. 2 (d), Eq. 1.
"""
from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
from keras import ops

from kaudio.errors import KaudioError

_NEG_LARGE = -1e9  # "minus infinity" for masked logits / non-members (float32 models)


def check_membership(membership) -> np.ndarray:
    """``membership`` as a float32 ``(N_fine, N_coarse)`` 0/1 array with one parent per fine tag
    and at least one child per coarse tag; raise :class:`KaudioError` otherwise."""
    m = np.asarray(membership, dtype=np.float32)
    if m.ndim != 2 or 0 in m.shape:
        raise KaudioError(f"membership must be a non-empty (N_fine, N_coarse) matrix, got shape {m.shape}")
    if not np.isin(m, (0.0, 1.0)).all():
        raise KaudioError("membership entries must be 0 or 1")
    bad_rows = np.flatnonzero(m.sum(axis=1) != 1)
    if bad_rows.size:
        raise KaudioError(f"every fine tag needs exactly one parent; fine rows {bad_rows.tolist()} have "
                          f"{m.sum(axis=1)[bad_rows].astype(int).tolist()}")
    empty = np.flatnonzero(m.sum(axis=0) == 0)
    if empty.size:
        raise KaudioError(f"coarse columns {empty.tolist()} have no children")
    return m


# --- functions (also used by the hierarchical losses) -----------------------------------------


def grouped_max(fine, membership):
    """``(B, N_fine)`` → ``(B, N_coarse)``: the max over each coarse tag's children (GMP)."""
    member = ops.convert_to_tensor(np.asarray(membership, np.float32) > 0)
    values = ops.where(ops.expand_dims(member, 0), ops.expand_dims(fine, -1), ops.cast(_NEG_LARGE, fine.dtype))
    return ops.max(values, axis=1)


def grouped_mean(fine, membership):
    """``(B, N_fine)`` → ``(B, N_coarse)``: the mean over each coarse tag's children (GAP)."""
    m = np.asarray(membership, np.float32)
    return ops.matmul(fine, ops.cast(m / m.sum(axis=0, keepdims=True), fine.dtype))


def parent_values(coarse, membership):
    """``(B, N_coarse)`` → ``(B, N_fine)``: each fine tag gets its parent's value."""
    return ops.matmul(coarse, ops.cast(np.asarray(membership, np.float32).T, coarse.dtype))


# --- layers -----------------------------------------------------------------------------------


class _MembershipLayer(keras.layers.Layer):
    """Base: holds the validated membership matrix and serialises it as a nested list."""

    def __init__(self, membership: Sequence[Sequence[float]], **kwargs):
        super().__init__(**kwargs)
        self.membership = check_membership(membership)

    @property
    def n_fine(self) -> int:
        return self.membership.shape[0]

    @property
    def n_coarse(self) -> int:
        return self.membership.shape[1]

    def _check_width(self, shape, expected: int, what: str) -> None:
        if shape[-1] is not None and shape[-1] != expected:
            raise KaudioError(f"{self.name}: {what} must have {expected} columns (the hierarchy's), got shape {tuple(shape)}")

    def get_config(self):
        config = super().get_config()
        config.update(membership=self.membership.tolist())
        return config


@keras.saving.register_keras_serializable(package="kaudio")
class GroupedPooling(_MembershipLayer):
    """Grouped max (GMP) or average (GAP) pooling of fine probabilities into coarse ones, Fig. 2 (c).

    ``P_coarse[c] = max_{f ∈ children(c)} P_fine[f]`` (``mode="max"``, the paper's proposed GMP:
    "when a fine-level tag is assigned …, the parent coarse-level tag will be assigned as well", §3.1)
    or the children's mean (``mode="mean"``, GAP).

    Args:
        membership: ``(N_fine, N_coarse)`` 0/1 matrix.
        mode: ``"max"`` or ``"mean"``.
        stop_gradient: block gradients through the pooling. The ``flat`` baseline uses GMP only at
            inference ("inference phase bottom-up"), so its coarse output must not train the
            classifier even if a loss includes it.
    """

    def __init__(self, membership, mode: str = "max", stop_gradient: bool = False, **kwargs):
        super().__init__(membership, **kwargs)
        if mode not in ("max", "mean"):
            raise KaudioError(f"GroupedPooling mode must be 'max' or 'mean', got {mode!r}")
        self.mode = mode
        self.stop_gradient = bool(stop_gradient)

    def build(self, input_shape):
        self._check_width(input_shape, self.n_fine, "the fine probabilities")

    def call(self, fine):
        if self.stop_gradient:
            fine = ops.stop_gradient(fine)
        return grouped_max(fine, self.membership) if self.mode == "max" else grouped_mean(fine, self.membership)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_coarse)

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode, stop_gradient=self.stop_gradient)
        return config


@keras.saving.register_keras_serializable(package="kaudio")
class LinearProjection(keras.layers.Dense):
    """LP, Fig. 2 (c): ``P_coarse = σ(P_fine · K + b)`` with a learned ``(N_fine, N_coarse)`` kernel.

    The paper's ablation of ResAtt: the same bottom-up joint training, but one fixed learned
    projection instead of an input-dependent attention map (§4.2, §5). A sigmoid ``Dense``.
    """

    def __init__(self, units: int, **kwargs):
        kwargs.setdefault("activation", "sigmoid")
        super().__init__(units, **kwargs)


@keras.saving.register_keras_serializable(package="kaudio")
class TopDownSoftTree(_MembershipLayer):
    """Simplified soft decision tree with sigmoids, Fig. 2 (b) ("grouped multiplication").

    Inputs ``[P_coarse (B, N_coarse), fine_logits (B, N_fine)]``; output
    ``P_fine[f] = P_coarse[parent(f)] · σ(fine_logits[f])`` — the leaf probability times its
    parent's, with the SDT's softmax replaced by a sigmoid because the task is multi-label (§3.1).
    """

    def build(self, input_shape):
        coarse_shape, logits_shape = input_shape
        self._check_width(coarse_shape, self.n_coarse, "the coarse probabilities")
        self._check_width(logits_shape, self.n_fine, "the fine logits")

    def call(self, inputs):
        coarse, fine_logits = inputs
        return parent_values(coarse, self.membership) * ops.sigmoid(fine_logits)

    def compute_output_shape(self, input_shape):
        return (input_shape[1][0], self.n_fine)


@keras.saving.register_keras_serializable(package="kaudio")
class ResidualAttention(_MembershipLayer):
    """ResAtt, Fig. 2 (d), Eq. 1: an input-dependent attention map aggregates fine into coarse.

    Inputs ``[Z (B, D), P_fine (B, N_fine)]``; outputs ``(P_coarse (B, N_coarse), W (B, N_fine, N_coarse))``::

        W        = softmax_over_fine( reshape(Z · K + b, (N_fine, N_coarse)) )
        P_coarse = Wᵀ · P_fine                                                   (Eq. 1)

    "The attention layer is implemented by reshaping the output of a linear layer" (§4.2); the
    softmax runs over the ``N_fine`` axis so each column of ``W`` sums to 1 and ``P_coarse`` stays
    a probability (§3.2).

    How "residual" is read: the paper never defines the word beyond Fig. 2 (d). The attention
    branch reads the *backbone embedding Z*, skipping past the fine classifier, and its output
    re-weights that classifier's predictions — a skip ("residual") path from Z to the coarse
    output beside the main Z → P_fine path. This is the only structure the text fixes (Eq. 1,
    "reshaping the output of a linear layer", "as light weighted as the level-wise or the
    top-down approach"), so no extra additive term is introduced: an identity/prior term added
    to W would contradict "ResAtt has no access to such prior knowledge" (§3.2, §5). The text
    also rules out a residual *sum on the output* (e.g. ``P_coarse = Wᵀ·P_fine + GMP(P_fine)`` or
    ``+ σ(Dense(Z))``): §3.2 says the softmax over ``N_fine`` is what keeps ``P_coarse`` "below
    100%", which holds for ``Wᵀ·P_fine`` alone (each column of ``W`` is a convex weighting of
    probabilities) and fails as soon as any term is added to it. A "residual attention" in the
    sense of Wang et al. (2017), ``(1 + M)·F``, is likewise excluded: ``(1 + W)`` columns sum to
    ``N_fine + 1``. Size: the linear layer has ``D·N_fine·N_coarse`` weights (2048·20·7 ≈ 287k on
    OpenMIC), small beside the backbone, which is how we read "as light weighted".

    Masking: by default the softmax is *not* restricted to each coarse tag's children — the
    paper's ResAtt learns the aggregation "without prior knowledge" and its maps merely end up
    "similar to the GMP operation" (Fig. 4). ``restrict_to_children=True`` (a cheap variant, not
    in the paper) masks non-children to zero attention, making ResAtt a learned soft version of
    GMP/GAP within each group.

    Args:
        membership: ``(N_fine, N_coarse)`` 0/1 matrix (used for shapes, and for the mask when
            ``restrict_to_children``).
        restrict_to_children: mask the softmax to each coarse tag's children.
        kernel_initializer / bias_initializer: of the linear map ``K, b``.
    """

    def __init__(self, membership, restrict_to_children: bool = False, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(membership, **kwargs)
        self.restrict_to_children = bool(restrict_to_children)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        z_shape, fine_shape = input_shape
        self._check_width(fine_shape, self.n_fine, "the fine probabilities")
        if z_shape[-1] is None:
            raise KaudioError(f"{self.name}: the embedding width must be known, got shape {tuple(z_shape)}")
        units = self.n_fine * self.n_coarse
        self.kernel = self.add_weight(name="kernel", shape=(z_shape[-1], units), initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(units,), initializer=self.bias_initializer)

    def call(self, inputs):
        z, fine = inputs
        logits = ops.reshape(ops.matmul(z, self.kernel) + self.bias, (-1, self.n_fine, self.n_coarse))
        if self.restrict_to_children:
            member = ops.convert_to_tensor(self.membership > 0)
            logits = ops.where(ops.expand_dims(member, 0), logits, ops.cast(_NEG_LARGE, logits.dtype))
        attention = ops.softmax(logits, axis=1)
        coarse = ops.einsum("bfc,bf->bc", attention, fine)
        return coarse, attention

    def compute_output_shape(self, input_shape):
        batch = input_shape[0][0]
        return (batch, self.n_coarse), (batch, self.n_fine, self.n_coarse)

    def get_config(self):
        config = super().get_config()
        config.update(restrict_to_children=self.restrict_to_children,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      bias_initializer=keras.initializers.serialize(self.bias_initializer))
        return config
