"""Which model outputs a loss reads (the ``outputs:`` key of every loss section).

A loss declares *roles* — ``fine`` and ``coarse`` for the hierarchical BCE, ``labels`` for a
classifier loss — and the spec maps each role to a model output name::

    loss: {type: bce, outputs: {labels: fine}}     # BCE on the `fine` output of a dict head

A role whose default name is ``None`` reads a model's single (non-dict) output; with a head that
has several outputs (``{"fine", "coarse", "attention"}``, frame activity, a reconstruction, …) the
spec names the one to read. Validation checks every named output exists, so a loss never meets a
model it cannot read.
"""
from __future__ import annotations

from typing import Any, Mapping

from kaudio.errors import KaudioError
from kaudio.spec.schema import Field, did_you_mean


def outputs_field(roles: Mapping[str, str | None]) -> Field:
    """The optional ``outputs: {role: model output name}`` key (defaults: ``roles``)."""
    described = ", ".join(f"{role} (default: {name or 'the single output'})" for role, name in roles.items())
    return Field("outputs", dict, None, f"model outputs read by the loss: {described}", key_kind=str,
                 value_kind=str, nullable=True)


def check_outputs(params: dict, context, roles: Mapping[str, str | None], loss_name: str) -> list[tuple[str, str]]:
    """Fill ``params["outputs"]`` with every role's output name and check them against the model's outputs."""
    given = dict(params.get("outputs") or {})
    problems = [(f"outputs.{role}", f"{loss_name} has no role {role!r}{did_you_mean(role, roles)} "
                                    f"(roles: {', '.join(roles)})") for role in given if role not in roles]
    mapping = {role: given.get(role, default) for role, default in roles.items()}
    # roles that read the single output are left out: the normalised section must validate again
    params["outputs"] = {role: name for role, name in mapping.items() if name is not None} or None
    shape = context.output_shape if context is not None else None
    if shape is None:
        return problems
    names = list(shape) if isinstance(shape, dict) else []
    for role, name in mapping.items():
        if name is None and names:
            problems.append(("outputs", f"the model has several outputs ({', '.join(names)}); name the one "
                                        f"{loss_name} reads as its {role!r}: outputs: {{{role}: <output>}}"))
        elif name is not None and not names:
            problems.append((f"outputs.{role}", f"the model has a single output, not {name!r}; drop outputs.{role}"))
        elif name is not None and name not in names:
            problems.append((f"outputs.{role}", f"the model has no output {name!r}{did_you_mean(name, names)} "
                                                f"(outputs: {', '.join(names)})"))
    return problems


def output_shape_of(context, name: str | None):
    """The per-example shape of output ``name`` (``None``: the single output), or ``None`` if unknown."""
    shape = context.output_shape if context is not None else None
    if shape is None:
        return None
    return shape.get(name) if isinstance(shape, dict) else (shape if name is None else None)


def select(y_pred: Any, name: str | None, loss_name: str):
    """The model output ``name`` from a prediction (a tensor, or a dict of them)."""
    if name is None:
        if isinstance(y_pred, Mapping):
            raise KaudioError(f"{loss_name}: the model has several outputs ({', '.join(y_pred)}); name one in the "
                              "loss section's outputs")
        return y_pred
    if not isinstance(y_pred, Mapping) or name not in y_pred:
        have = ", ".join(y_pred) if isinstance(y_pred, Mapping) else "a single output"
        raise KaudioError(f"{loss_name}: the model output lacks {name!r} (it has {have})")
    return y_pred[name]
