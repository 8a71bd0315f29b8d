"""Batch-normalisation re-calibration of a sub-network ("recalibrate BN"), before it is scored or deployed.

In a weight-sharing supernet every sub-network shares one set of BatchNormalization moving
statistics, which training updates with whichever sub-networks were sampled; a narrow or
shallow sub-network's own activations have other means and variances than that running mix.
Cai et al., "Once-for-All: Train One Network and Specialize it for Efficient Deployment" (ICLR
2020, ``mit-han-lab/once-for-all``, ``ofa/utils/pytorch_utils.py`` ``set_running_statistics``)
therefore re-estimate the statistics of each sub-network before evaluating it: every BN layer's
running mean and variance are reset and replaced by the average, over a few training batches,
of the batch means and (biased) batch variances, weighted by the batch sizes — each batch
normalised with its own statistics, as in training. Lin et al. ("Weight-sharing supernet for
searching specialized acoustic event classification networks across device constraints",
ICASSP 2023) do not mention it; the search does it by default (``--no-calibration`` turns it
off) and the tests show how much it changes.

:func:`recalibrate_batch_norm` works on any Keras model and is meant for a sub-network
extracted as a plain model (:func:`~kaudio.models.ofa.extract_subnet`), so that the supernet's
shared statistics, which serve every other sub-network, are never touched;
:func:`calibrated_subnet` does both. The cumulative average is Keras's own moving-average update
with the momentum of batch ``i`` set to ``seen / (seen + n_i)`` (0 for the first batch: a reset),
which gives exactly ``Σ n_i·stat_i / Σ n_i``; dropout is switched off meanwhile (its noise is not
part of the statistics at inference) and no weight is updated.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import keras
from keras import ops

from kaudio.card import leaf_layers
from kaudio.errors import KaudioError

#: Training batches a search calibrates each candidate on by default (``--calibration-batches``).
DEFAULT_CALIBRATION_BATCHES = 20


def batch_norm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """Every BatchNormalization layer of ``model``, nested models included, in graph order."""
    return [layer for layer in leaf_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]


def recalibrate_batch_norm(model: keras.Model, batches: Iterable, max_batches: int | None = None) -> int:
    """Replace the moving statistics of every BatchNormalization layer of ``model`` by their average over
    ``batches`` (module docstring); returns the number of examples seen.

    Args:
        model: a Keras model (a plain sub-network; a supernet's elastic BN layers would re-estimate the active
            channels only, and the other sub-networks would lose their statistics).
        batches: model inputs, or ``(inputs, targets)`` tuples as a dataset yields them.
        max_batches: stop after this many batches (``None``: all of ``batches``).

    Raises:
        KaudioError: no batch, or a BN layer that is frozen (it would run in inference mode and learn nothing).
    """
    norms = batch_norm_layers(model)
    frozen = [layer.name for layer in norms if not layer.trainable]
    if frozen:
        raise KaudioError(f"cannot re-calibrate frozen BatchNormalization layers ({', '.join(frozen)}); set "
                          "model.trainable = True first (no weight is trained)")
    dropouts = [layer for layer in leaf_layers(model) if isinstance(layer, keras.layers.Dropout)]
    saved = [(layer, layer.momentum) for layer in norms], [(layer, layer.rate) for layer in dropouts]
    seen = 0
    try:
        for layer in dropouts:
            layer.rate = 0.0
        for count, batch in enumerate(batches):
            if max_batches is not None and count >= max_batches:
                break
            inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
            size = int(ops.shape(keras.tree.flatten(inputs)[0])[0])
            for layer in norms:  # moving = moving·m + batch·(1 − m), m = seen / (seen + n): the running average
                layer.momentum = seen / (seen + size)
            model(inputs, training=True)  # eager: each call reads the momentum just set
            seen += size
    finally:
        for layer, momentum in saved[0]:
            layer.momentum = momentum
        for layer, rate in saved[1]:
            layer.rate = rate
    if not seen:
        raise KaudioError("BatchNorm re-calibration got no batch; give at least one training batch")
    return seen


def calibrated_subnet(supernet: keras.Model, config: Mapping[str, Any], batches: Iterable | None,
                      max_batches: int | None = None, name: str | None = None):
    """The sub-network ``config`` of ``supernet`` as a plain model (:func:`~kaudio.models.ofa.extract_subnet`)
    with its BN statistics re-estimated on ``batches`` (none: the supernet's shared statistics, as extracted).
    The supernet is not changed."""
    from kaudio.models.ofa.extract import extract_subnet

    plain = extract_subnet(supernet, config, name=name)
    if batches is not None:
        recalibrate_batch_norm(plain, batches, max_batches)
    return plain
