"""Masked two-level binary cross-entropy (Zhong et al., Eq. 2, §4.1) with optional consistency terms.

``loss: {type: hierarchical_bce, fine_weight: 0.8, consistency: {fine_above_parent: 0.1,
coarse_above_children: 0.1}, consistency_squared: false}``::

    L = λ·BCE_fine + (1 − λ)·BCE_coarse                                     (Eq. 2, λ = fine_weight)
        + w₁·mean(relu(P_fine − P_coarse[parent]))                        (fine_above_parent)
        + w₂·mean(relu(P_coarse − max_{children} P_fine))                 (coarse_above_children)

* Each BCE is *masked* as OpenMIC prescribes ("Loss = L_BCE(predictions[mask], label[mask])",
  §4.1): the mean over the batch's known entries (mask 1) only; a batch with no known entry at a
  level contributes 0 at that level (not NaN). Labels under mask 0 are ignored, even NaN.
* Probabilities are clipped to ``[ε, 1 − ε]`` before the logarithms (ε = ``epsilon``).
* The consistency terms (the level-wise approach's "loss items" of Krause & Müller [13]) use the
  predictions only, so they apply to every entry; they are means over ``(batch, N_fine)`` and
  ``(batch, N_coarse)``; with ``consistency_squared: true`` the hinge is squared (a smooth penalty
  that tolerates small violations). Both are 0 by construction for ``gmp``/``flat``.
* Heads whose coarse output is not trained (``trains_coarse = False``: the ``flat`` baseline) get
  fine weight 1 and coarse weight 0, i.e. plain masked fine BCE; ``fine_weight`` is then unused.
"""
from __future__ import annotations

from typing import Any, Mapping

from keras import ops

from kaudio.errors import KaudioError
from kaudio.hierarchy import Hierarchy
from kaudio.layers.hierarchical import grouped_max, parent_values
from kaudio.losses.outputs import check_outputs, outputs_field
from kaudio.registry import register
from kaudio.spec.schema import Field, Schema, did_you_mean

CONSISTENCY_TERMS = ("fine_above_parent", "coarse_above_children")


class _WeightsField(Field):
    """A ``{term: weight}`` mapping where ``{}`` (no terms) is allowed."""

    def validate(self, value, path):
        if isinstance(value, dict) and not value:
            return {}, []
        return super().validate(value, path)


def masked_bce(y_true, y_prob, mask, epsilon: float = 1e-7):
    """Mean binary cross-entropy over the entries with ``mask == 1``; 0 when there are none."""
    y_prob = ops.clip(ops.cast(y_prob, "float32"), epsilon, 1.0 - epsilon)
    mask = ops.cast(mask, "float32")
    y_true = ops.where(mask > 0, ops.cast(y_true, "float32"), 0.0)  # unknown labels may be NaN
    bce = -(y_true * ops.log(y_prob) + (1.0 - y_true) * ops.log(1.0 - y_prob))
    return ops.divide_no_nan(ops.sum(ops.where(mask > 0, bce, 0.0)), ops.sum(mask))


@register("loss", "hierarchical_bce")
class HierarchicalBCE:
    """The masked λ-weighted fine/coarse BCE of Eq. 2, plus optional consistency terms.

    Call it on dicts: ``loss(y_true, y_pred) -> scalar`` with ``y_true = {"fine", "coarse",
    "fine_mask", "coarse_mask"}`` (masks optional: all known) and ``y_pred = {"fine", "coarse", ...}``
    (extra keys such as ``"attention"`` are ignored). :meth:`parts` returns every term for logging.

    Args:
        hierarchy: the tag hierarchy (for the consistency terms).
        fine_weight: λ of Eq. 2, in [0, 1].
        consistency: ``{fine_above_parent: w₁, coarse_above_children: w₂}`` (missing terms are 0).
        consistency_squared: square the hinge of the consistency terms.
        epsilon: probability clipping.
        trains_coarse: ``False`` for heads whose coarse output is not trained (``flat``).
    """

    part_names = ("fine_bce", "coarse_bce", "consistency")
    roles = {"fine": "fine", "coarse": "coarse"}
    spec_schema = Schema((
        outputs_field({"fine": "fine", "coarse": "coarse"}),
        Field("fine_weight", float, 0.8, "λ of Eq. 2: weight of the fine BCE; the coarse BCE gets 1 − λ",
              minimum=0.0, maximum=1.0),
        _WeightsField("consistency", dict, {}, "weights of the hierarchy-consistency terms: "
                      + ", ".join(CONSISTENCY_TERMS), key_kind=str, value_kind=float),
        Field("consistency_squared", bool, False, "square the consistency hinges"),
        Field("epsilon", float, 1e-7, "probabilities are clipped to [epsilon, 1 - epsilon]",
              minimum=0.0, maximum=0.1, exclusive_minimum=True),
    ))

    def __init__(self, hierarchy: "Hierarchy | Mapping", fine_weight: float = 0.8,
                 consistency: Mapping[str, float] | None = None, consistency_squared: bool = False,
                 epsilon: float = 1e-7, trains_coarse: bool = True, outputs: Mapping[str, str] | None = None):
        self.hierarchy = Hierarchy.from_mapping(hierarchy)
        self.outputs = {**self.roles, **(outputs or {})}
        problems = self._consistency_problems(consistency or {})
        if problems:
            raise KaudioError("; ".join(f"consistency.{key}: {message}" for key, message in problems))
        if not 0.0 <= fine_weight <= 1.0:
            raise KaudioError(f"fine_weight must be in [0, 1], got {fine_weight}")
        self.fine_weight = float(fine_weight)
        self.consistency = {term: float((consistency or {}).get(term, 0.0)) for term in CONSISTENCY_TERMS}
        self.consistency_squared = bool(consistency_squared)
        self.epsilon = float(epsilon)
        self.trains_coarse = bool(trains_coarse)

    @property
    def level_weights(self) -> tuple[float, float]:
        """``(fine, coarse)`` weights actually used: ``(λ, 1 − λ)``, or ``(1, 0)`` if the coarse output is not trained."""
        return (self.fine_weight, 1.0 - self.fine_weight) if self.trains_coarse else (1.0, 0.0)

    # --- computation --------------------------------------------------------------------------

    def parts(self, y_true: Mapping[str, Any], y_pred: Mapping[str, Any]) -> dict:
        """``{"fine_bce", "coarse_bce", "consistency", "loss"}`` scalars (``loss`` is the total)."""
        fine, coarse = self._predictions(y_pred)
        y_fine, m_fine = self._targets(y_true, "fine")
        y_coarse, m_coarse = self._targets(y_true, "coarse")
        fine_bce = masked_bce(y_fine, fine, m_fine, self.epsilon)
        coarse_bce = masked_bce(y_coarse, coarse, m_coarse, self.epsilon)
        consistency = self.consistency_penalty(fine, coarse)
        w_fine, w_coarse = self.level_weights
        total = w_fine * fine_bce + w_coarse * coarse_bce + consistency
        return {"fine_bce": fine_bce, "coarse_bce": coarse_bce, "consistency": consistency, "loss": total}

    def __call__(self, y_true: Mapping[str, Any], y_pred: Mapping[str, Any]):
        return self.parts(y_true, y_pred)["loss"]

    def consistency_penalty(self, fine, coarse):
        """``w₁·mean(h(P_fine − P_coarse[parent])) + w₂·mean(h(P_coarse − max_children P_fine))``,
        ``h = relu`` (or ``relu²`` when ``consistency_squared``)."""
        total = ops.zeros((), "float32")
        membership = self.hierarchy.membership
        gaps = {"fine_above_parent": lambda: fine - parent_values(coarse, membership),
                "coarse_above_children": lambda: coarse - grouped_max(fine, membership)}
        for term, weight in self.consistency.items():
            if weight:
                hinge = ops.relu(gaps[term]())
                total = total + weight * ops.mean(ops.square(hinge) if self.consistency_squared else hinge)
        return total

    def _predictions(self, y_pred):
        names = self.outputs
        missing = [names[k] for k in ("fine", "coarse") if not isinstance(y_pred, Mapping) or names[k] not in y_pred]
        if missing:
            raise KaudioError(f"the model output lacks {', '.join(repr(k) for k in missing)}; hierarchical_bce "
                              "needs a hierarchical head (outputs {'fine', 'coarse'})")
        fine, coarse = ops.cast(y_pred[names["fine"]], "float32"), ops.cast(y_pred[names["coarse"]], "float32")
        self._check_width(fine, self.hierarchy.n_fine, "fine")
        self._check_width(coarse, self.hierarchy.n_coarse, "coarse")
        return fine, coarse

    def _targets(self, y_true, level: str):
        if level not in y_true:
            raise KaudioError(f"the targets lack {level!r}; expected a dict with 'fine', 'coarse' and optional "
                              "'fine_mask', 'coarse_mask' (derive coarse labels with Hierarchy.coarse_from_fine)")
        y = ops.cast(y_true[level], "float32")
        mask = y_true.get(f"{level}_mask")
        mask = ops.ones_like(y) if mask is None else ops.cast(mask, "float32")
        self._check_width(y, self.hierarchy.n_fine if level == "fine" else self.hierarchy.n_coarse, f"{level} target")
        return y, mask

    @staticmethod
    def _check_width(x, expected: int, what: str) -> None:
        width = x.shape[-1]
        if width is not None and width != expected:
            raise KaudioError(f"{what} has {width} columns, the hierarchy has {expected} tags at that level")

    # --- spec component -----------------------------------------------------------------------

    @staticmethod
    def _consistency_problems(consistency: Mapping) -> list[tuple[str, str]]:
        problems = []
        for key, weight in consistency.items():
            if key not in CONSISTENCY_TERMS:
                problems.append((str(key), f"unknown consistency term{did_you_mean(key, CONSISTENCY_TERMS)} "
                                           f"(valid: {', '.join(CONSISTENCY_TERMS)})"))
            elif isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                problems.append((str(key), f"weight must be a number >= 0, got {weight!r}"))
        return problems

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        problems = [(f"consistency.{key}", message) for key, message in cls._consistency_problems(params["consistency"])]
        params["consistency"] = {term: float(params["consistency"].get(term, 0.0)) for term in CONSISTENCY_TERMS}
        head = context.sections.get("head") if context is not None else None
        if head is None or "hierarchy" not in head:
            kind = f"the head is {head['type']!r}" if head else "the head section is missing or invalid"
            problems.append(("", f"hierarchical_bce needs a hierarchical head (flat, levelwise, topdown, gmp, gap, "
                                 f"lp, resatt) with a hierarchy; {kind}"))
            params["outputs"] = dict(cls.roles, **(params.get("outputs") or {}))
            return problems
        return problems + check_outputs(params, context, cls.roles, "hierarchical_bce")

    @classmethod
    def from_spec(cls, params: dict, spec) -> "HierarchicalBCE":
        """Build from the loss section's params and the whole :class:`~kaudio.spec.Spec` (its head
        gives the hierarchy and whether the coarse output is trained)."""
        head = spec.head
        if not head or "hierarchy" not in head:
            raise KaudioError("hierarchical_bce needs a hierarchical head with a hierarchy in the spec")
        head_cls = spec.component("head")
        return cls(head["hierarchy"], trains_coarse=getattr(head_cls, "trains_coarse", True), **params)
