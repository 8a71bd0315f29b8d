"""The loss of weakly labelled SED with 2APAE's auxiliary reconstruction (``sed_bce_mse``).

``L = BCE(clip, labels) + α · MSE(reconstruction, standardised input)``: the clip-level binary
cross-entropy of the weak labels plus the auto-encoder's reconstruction error (Deshmukh et al.,
"Multi-Task Learning for Interpretable Weakly Labelled Sound Event Detection", Eq. 7 and §V-B). As
the reference code (``soham97/MTL_Weakly_labelled_audio_data``: ``nn.BCELoss`` and ``nn.MSELoss``, both
``reduction="mean"``, in ``main.py``; summed in ``train_helper.py``), both terms are means (BCE over
examples × classes, MSE over examples × frames × mel bins) and the reconstruction
term is the *mean squared* error — the paper's Eq. 17 writes L1 for both terms, its text says MSE,
and the code's MSE is what kaudio follows. α = 1e-3 is the paper's best (Table V; 0 and 0.01 also
reported).

α = 0 is the ablation without the auxiliary task (and the setting of every head without a
reconstruction, the GAP / GMP / GWRP / attention baselines): the reconstruction term is not
computed at all, so the decoder's weights get no gradient (``None``) and stay as initialised; its
``mse`` part is logged as 0.

Spec::

    loss: {type: sed_bce_mse, alpha: 1.0e-3}
    loss: {type: sed_bce_mse, alpha: 0, outputs: {clip: clip}}

Roles (:mod:`kaudio.losses.outputs`): ``clip`` (default output ``clip``) and ``reconstruction``
(default ``reconstruction``, read only when α > 0). Targets: ``{"clip": multi-hot (batch, K),
"features": the standardised front-end output (batch, T, F, 1)}`` (``features`` needed only when
α > 0; an optional ``clip_mask`` (batch, K) restricts the BCE to the known labels, as the ``bce`` loss).
"""
from __future__ import annotations

from typing import Any, Mapping

from keras import ops

from kaudio.errors import KaudioError
from kaudio.losses.hierarchical_bce import masked_bce
from kaudio.losses.outputs import check_outputs, output_shape_of, outputs_field, select
from kaudio.registry import register
from kaudio.spec.schema import Field, Schema

ROLES = {"clip": "clip", "reconstruction": "reconstruction"}
#: The roles read when α = 0.
CLIP_ONLY = {"clip": "clip"}


@register("loss", "sed_bce_mse")
class SEDReconstructionLoss:
    """``BCE(clip) + α·MSE(reconstruction, features)`` (module docstring).

    Call it on dicts: ``loss(y_true, y_pred) -> scalar``; :meth:`parts` returns ``{"bce", "mse",
    "loss"}`` for logging.

    Args:
        outputs: ``{role: model output}`` (defaults :data:`ROLES`).
        alpha: weight α of the reconstruction term (≥ 0; 0 = no auxiliary task).
        epsilon: probabilities are clipped to [epsilon, 1 − epsilon] in the BCE (PyTorch's
            ``BCELoss`` clamps the log at −100 instead; the two agree away from 0 and 1).
    """

    loss_name = "sed_bce_mse"
    part_names = ("bce", "mse")
    spec_schema = Schema((
        outputs_field(ROLES),
        Field("alpha", float, 1e-3, "weight of the reconstruction MSE (the paper's best: 0.001; 0 = no auxiliary "
              "task, required by heads without a reconstruction)", minimum=0.0),
        Field("epsilon", float, 1e-7, "clip probabilities are clipped to [epsilon, 1 - epsilon]", minimum=0.0,
              maximum=0.1, exclusive_minimum=True),
    ))

    def __init__(self, outputs: Mapping[str, str] | None = None, alpha: float = 1e-3, epsilon: float = 1e-7):
        if alpha < 0:
            raise KaudioError(f"{self.loss_name}: alpha must be >= 0, got {alpha}")
        self.outputs = {**ROLES, **(outputs or {})}
        self.alpha = float(alpha)
        self.epsilon = float(epsilon)

    def __call__(self, y_true, y_pred):
        return self.parts(y_true, y_pred)["loss"]

    def _target(self, y_true: Mapping[str, Any], key: str, what: str):
        if not isinstance(y_true, Mapping) or key not in y_true:
            have = ", ".join(y_true) if isinstance(y_true, Mapping) else type(y_true).__name__
            raise KaudioError(f"{self.loss_name}: the targets must be a dict with {key!r} ({what}); got {have}")
        return ops.cast(y_true[key], "float32")

    def parts(self, y_true, y_pred) -> dict:
        labels = self._target(y_true, "clip", "the multi-hot clip labels")
        probabilities = select(y_pred, self.outputs["clip"], self.loss_name)
        mask = y_true.get("clip_mask")
        mask = ops.ones_like(labels) if mask is None else ops.cast(mask, "float32")
        bce = masked_bce(labels, probabilities, mask, self.epsilon)
        if self.alpha == 0:  # no reconstruction term, so no gradient reaches the decoder
            return {"bce": bce, "mse": ops.zeros_like(bce), "loss": bce}
        features = self._target(y_true, "features", "the standardised front-end output")
        reconstruction = ops.cast(select(y_pred, self.outputs["reconstruction"], self.loss_name), "float32")
        mse = ops.mean(ops.square(reconstruction - features))
        return {"bce": bce, "mse": mse, "loss": bce + self.alpha * mse}

    # --- spec hooks ---------------------------------------------------------------------------

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        """The ``clip`` output, and the ``reconstruction`` output when α > 0, must exist with the right ranks."""
        given = dict(params.get("outputs") or {})
        named_reconstruction = given.pop("reconstruction", None)  # read only when α > 0
        reconstruction = named_reconstruction or ROLES["reconstruction"]
        names = list(context.output_shape) if context is not None and isinstance(context.output_shape, dict) else []
        problems = []
        reads_reconstruction = params["alpha"] > 0
        if reads_reconstruction and names and reconstruction not in names:
            problems.append(("alpha", f"alpha {params['alpha']:g} weights the reconstruction error, but the model has "
                                      f"no {reconstruction!r} output (outputs: {', '.join(names)}; only the "
                                      f"sed_2apae head's decoder reconstructs its input): set loss.alpha: 0"))
            reads_reconstruction = False
        if reads_reconstruction:
            given["reconstruction"] = reconstruction
        params["outputs"] = given or None
        roles = ROLES if reads_reconstruction else CLIP_ONLY
        problems += check_outputs(params, context, roles, cls.loss_name)
        if named_reconstruction is not None:  # a name the spec gives is kept even where α = 0 does not read it
            params["outputs"] = {**(params["outputs"] or {}), "reconstruction": named_reconstruction}
        mapping = {**ROLES, **(params["outputs"] or {})}
        for role, rank in (("clip", 1), ("reconstruction", 3)):
            shape = output_shape_of(context, mapping[role]) if role in roles else None
            if shape is not None and len(shape) != rank:
                problems.append((f"outputs.{role}", f"{cls.loss_name} reads a {rank}-d {role} output per example, "
                                                    f"{mapping[role]!r} is {tuple(shape)}"))
        return problems

    @classmethod
    def from_spec(cls, params: dict, spec) -> "SEDReconstructionLoss":
        return cls(**params)
