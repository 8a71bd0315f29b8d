"""Keras dtype policies for kaudio models: validated names and a scope to build a graph under one.

A dtype policy (Keras mixed-precision guide, https://keras.io/guides/mixed_precision/) gives each
layer a *compute* dtype and a *variable* dtype. ``"mixed_bfloat16"`` computes in bfloat16 and
keeps the weights in float32, which is what makes bfloat16 training and inference stable; the
layers cast their inputs to their compute dtype on the way in.

How kaudio applies a policy: **a scope around the graph build**, :func:`dtype_policy_scope`.
Keras gives every layer created with ``dtype=None`` the current default policy
(``keras.config.dtype_policy()``), so building a whole backbone, front end or spec model inside
the scope gives all of their layers that policy, including the layers created by the shared
block functions (:mod:`kaudio.blocks`) and any future family, with nothing to forget per layer.
keras-hub (https://github.com/keras-team/keras-hub) passes ``dtype=`` to every layer instead; the
scope gives the same layers and the same saved configs with one statement per graph, and the
default policy is per thread in Keras (``keras.src.backend.common.global_state`` is a
``threading.local``), so a scope on one thread never changes the layers another thread builds.
Layers that must keep their own precision say so explicitly (``dtype=precision``: a front end's
float64 STFT and filterbank), which a scope does not override.

How the policy survives saving (``.keras``): every layer's config records its own policy
(``keras.layers.Layer.get_config()["dtype"]``), and a :class:`~kaudio.models.backbone.Backbone`
records the policy it was built under as its ``dtype`` argument, so loading rebuilds the graph
under the same policy.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from kaudio.errors import KaudioError

#: Policy names kaudio accepts (the floating-point policies of Keras 3). ``mixed_*`` compute in
#: 16 bits with float32 weights; ``bfloat16`` / ``float16`` also store the weights in 16 bits.
POLICY_NAMES: tuple[str, ...] = ("float32", "mixed_bfloat16", "mixed_float16", "bfloat16", "float16", "float64")


def get_policy(policy: Any = None):
    """The ``keras.DTypePolicy`` for ``policy``; ``None`` gives the current default policy.

    Args:
        policy: a name of :data:`POLICY_NAMES`, a ``keras.DTypePolicy`` (any, e.g. a quantized one),
            or the serialized dict of one (what a saved config holds).

    Raises:
        KaudioError: an unknown name or an object that is not a policy; the message lists the valid names.
    """
    import keras

    if policy is None:
        return keras.config.dtype_policy()
    if isinstance(policy, keras.DTypePolicy):
        return policy
    if isinstance(policy, dict):
        try:
            return keras.dtype_policies.deserialize(policy)
        except (ValueError, TypeError, KeyError) as err:
            raise KaudioError(f"cannot read the dtype policy {policy!r}: {err}") from err
    if isinstance(policy, str) and policy in POLICY_NAMES:
        return keras.DTypePolicy(policy)
    from kaudio.spec.schema import did_you_mean

    hint = did_you_mean(policy, POLICY_NAMES) if isinstance(policy, str) else ""
    raise KaudioError(f"unknown dtype policy {policy!r}{hint}; valid policies: {', '.join(POLICY_NAMES)} "
                      "(or a keras.DTypePolicy)")


def policy_name(policy: Any = None) -> str:
    """The name of ``policy`` (``"mixed_bfloat16"``); ``None`` gives the current default's."""
    return get_policy(policy).name


def policy_config(policy: Any) -> "str | dict":
    """What a config stores for ``policy``: its name for a plain floating-point policy, else the
    serialized dict (quantized policies, a ``DTypePolicyMap``), which :func:`get_policy` reads back."""
    import keras

    policy = get_policy(policy)
    if type(policy) in (keras.DTypePolicy, keras.dtype_policies.FloatDTypePolicy):
        return policy.name
    return keras.dtype_policies.serialize(policy)


@contextlib.contextmanager
def dtype_policy_scope(policy: Any = None) -> Iterator[Any]:
    """Build Keras layers under ``policy``: the default dtype policy is ``policy`` inside the block
    and the previous one again after it (also when the block raises).

    Every layer created inside with ``dtype=None`` computes in the policy's compute dtype and
    stores its variables in its variable dtype; layers given an explicit ``dtype`` keep it.
    ``policy=None`` changes nothing (the current default stays), so nested scopes and code that
    passes an optional policy through compose::

        from kaudio.dtypes import dtype_policy_scope

        with dtype_policy_scope("mixed_bfloat16"):
            model = kaudio.build("l3_m256")   # every layer: bfloat16 compute, float32 weights
        model.get_layer("backbone").dtype_policy.name   # 'mixed_bfloat16'

    The scope only matters while layers are *created*; calling, training or saving the model
    afterwards needs no scope. The default policy is per thread in Keras, so the scope does not
    affect other threads.

    Args:
        policy: a name of :data:`POLICY_NAMES`, a ``keras.DTypePolicy``, its serialized dict, or ``None``.

    Yields:
        The ``keras.DTypePolicy`` in force inside the block.

    Raises:
        KaudioError: an unknown policy name (before anything changes).
    """
    import keras

    if policy is None:
        yield keras.config.dtype_policy()
        return
    resolved = get_policy(policy)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(resolved)
    try:
        yield resolved
    finally:
        keras.config.set_dtype_policy(previous)
