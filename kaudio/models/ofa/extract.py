"""A sub-network of a once-for-all supernet as a standalone plain model (Lin et al.,
"Weight-sharing supernet for searching specialized acoustic event classification networks
across device constraints", ICASSP 2023: the searched sub-networks are deployed "without
re-training"; S(w_o, a) of Eq. 1 made concrete).

:func:`extract_subnet` builds an ordinary ``panns_cnn`` model (PANNs CNN10-style, Kong et al.
2020, ``qiuqiangkong/audioset_tagging_cnn``) with the sub-network's sizes — ``filters`` at
⌊r·D⌋, ``convs_per_block`` from the depths, ``embedding_size`` from the FC width, the supernet's
front end and head — and copies the leading block of every supernet weight into it: the first
⌊r·D⌋ output channels of each conv kernel and the input channels the previous block keeps, the
BN γ/β/mean/variance of those channels, fc1's rows and columns, the tagger's kernel rows. The
weights of the second conv of a block at depth 1 are left out. The result has no elastic layer
and records its own spec, so ``keras.models.load_model`` / ``kaudio build`` need no knowledge of
the supernet; its outputs equal the supernet's with the same configuration set (inference
mode; checked to 1e-5 in the tests).

:func:`init_from_plain` goes the other way for the full network: a trained ``panns_cnn`` model
of the supernet's full sizes (e.g. a converted PANNs CNN10 with ``input_norm: per_mel_bin``)
initialises the supernet.
"""
from __future__ import annotations

from typing import Any, Mapping

import keras
import numpy as np

from kaudio.errors import KaudioError
from kaudio.layers.elastic import DEPTH_VARIABLE, WIDTH_VARIABLE
from kaudio.models.ofa.subnet import config_label, head_classes, ofa_backbone

SECTIONS = ("frontend", "backbone", "head")
_STATE = (WIDTH_VARIABLE, DEPTH_VARIABLE)


def subnet_spec(model: keras.Model, config: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    """The plain spec (a ``panns_cnn`` backbone) of a sub-network of the supernet ``model`` (a KaudioModel)."""
    backbone = ofa_backbone(model)
    head_classes(model)  # only dense heads can be sliced
    config = backbone.space.validate(config)
    subnet = backbone.space.resolve(config)
    spec = model.spec.to_dict()
    plain = {"name": name or f"{spec['name']}_subnet",
             "description": f"{config_label(config)} sub-network of the once-for-all supernet {spec['name']} "
                            "(kaudio ofa extract)",
             "input": spec["input"]}
    if "frontend" in spec:
        plain["frontend"] = spec["frontend"]
    plain["backbone"] = {"type": "panns_cnn", "filters": list(subnet.filters), "convs_per_block": list(subnet.convs),
                         "embedding_size": subnet.embedding_size, "pool_last_block": True,
                         **{key: getattr(backbone, key) for key in ("input_norm", "dropout", "embedding_dropout",
                                                                    "bn_epsilon", "bn_momentum")}}
    if "head" in spec:
        plain["head"] = spec["head"]
    return plain


def extract_subnet(model: keras.Model, config: Mapping[str, Any], name: str | None = None):
    """The sub-network ``config`` of the supernet ``model`` as a plain :class:`~kaudio.models.KaudioModel`
    (module docstring). The supernet's active configuration is not changed.

    Raises:
        KaudioError: ``model`` is not a supernet, ``config`` is outside its space, or its head is not a
            ``tagger`` / ``classifier``.
    """
    from kaudio.models import KaudioModel

    plain = KaudioModel(subnet_spec(model, config, name), dtype_policy=model.dtype_policy_name)
    for section in SECTIONS:
        if _section(plain, section) is not None:
            _copy_section(_section(model, section), _section(plain, section), leading=True)
    return plain


def init_from_plain(model: keras.Model, plain: keras.Model) -> None:
    """Copy a plain model of the supernet's full sizes (the ``extract_subnet`` of its largest configuration,
    e.g. a trained ``panns_cnn`` CNN10) into the supernet ``model``. Every shape must match exactly.

    Raises:
        KaudioError: naming the layers or weights that do not fit (nothing is copied then)."""
    ofa_backbone(model)
    pairs = []
    for section in SECTIONS:
        source, target = _section(plain, section), _section(model, section)
        if (source is None) != (target is None):
            raise KaudioError(f"the plain model {'has' if source is not None else 'lacks'} a {section} the supernet "
                              f"{'lacks' if source is not None else 'has'}")
        if source is not None:
            pairs += _pairs(source, target, leading=False)
    for variable, value in pairs:
        variable.assign(value)


def _section(model: keras.Model, name: str):
    return next((layer for layer in model.layers if layer.name == name), None)


def _copy_section(source, target, leading: bool) -> None:
    for variable, value in _pairs(source, target, leading):
        variable.assign(value)


def _pairs(source, target, leading: bool) -> list[tuple[Any, np.ndarray]]:
    """``[(target variable, value)]``: every weight of ``target``'s layers from the same-named layer and weight of
    ``source`` — its leading block (``leading``) or all of it (shapes equal). Checked before anything is written."""
    sources = _layers(source)
    pairs, problems = [], []
    for layer_name, layer in _layers(target).items():
        other = sources.get(layer_name)
        if other is None:
            problems.append(f"{layer_name}: not in the source")
            continue
        weights = {w.name: w for w in other.weights if w.name not in _STATE}
        for variable in layer.weights:
            if variable.name in _STATE:
                continue
            found = weights.get(variable.name)
            want = tuple(variable.shape)
            if found is None or len(found.shape) != len(want) or any(
                    s < t if leading else s != t for s, t in zip(found.shape, want)):
                got = tuple(found.shape) if found is not None else "missing"
                problems.append(f"{layer_name}/{variable.name}: source {got}, target {want}")
                continue
            value = np.asarray(keras.ops.convert_to_numpy(found))
            pairs.append((variable, value[tuple(slice(0, n) for n in want)]))
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise KaudioError(f"{len(problems)} weight{'s do' if len(problems) > 1 else ' does'} not fit (nothing was "
                          f"copied): {shown}")
    return pairs


def _layers(section) -> dict[str, keras.layers.Layer]:
    """The layers with weights of a model section (a nested model's layers, or the layer itself); the supernet's
    configuration variables do not count (an ElasticDepth layer has nothing to copy)."""
    found = section.layers if isinstance(section, keras.Model) else [section]
    return {layer.name: layer for layer in found if any(w.name not in _STATE for w in layer.weights)}
