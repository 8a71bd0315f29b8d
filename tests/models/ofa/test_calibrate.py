"""BatchNorm re-calibration: the cumulative batch-size-weighted average of batch statistics (as Cai et al.'s
set_running_statistics), dropout off meanwhile, settings restored, only the extracted sub-network changed."""
import keras
import numpy as np
import pytest

import kaudio
from kaudio.errors import KaudioError
from kaudio.models.ofa import extract_subnet
from kaudio.models.ofa.calibrate import batch_norm_layers, calibrated_subnet, recalibrate_batch_norm
from tests.models.ofa import randomize_statistics, tiny_ofa_spec, waveforms


def dense_bn_model():
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(4, name="dense")(inputs)
    hidden = keras.layers.Dropout(0.5, name="dropout")(hidden)
    return keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.9, name="bn")(hidden))


def test_statistics_are_the_weighted_average_of_batch_statistics():
    model = dense_bn_model()
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((n, 5)) * 3 + 1).astype("float32") for n in (4, 7, 3)]
    assert recalibrate_batch_norm(model, [(b, {"labels": b}) for b in batches]) == 14  # (inputs, targets) tuples too
    dense, bn = model.get_layer("dense"), model.get_layer("bn")
    outputs = [b @ dense.kernel.numpy() + dense.bias.numpy() for b in batches]  # no dropout noise
    weights = np.array([len(o) for o in outputs], "float64")
    mean = sum(o.mean(0) * len(o) for o in outputs) / weights.sum()
    variance = sum(o.var(0) * len(o) for o in outputs) / weights.sum()  # biased batch variances, as Cai et al.
    np.testing.assert_allclose(bn.moving_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), variance, rtol=1e-5)
    assert bn.momentum == 0.9 and model.get_layer("dropout").rate == 0.5  # settings restored
    recalibrate_batch_norm(model, batches, max_batches=1)  # a reset, not an update of the earlier values
    np.testing.assert_allclose(bn.moving_mean.numpy(), outputs[0].mean(0), rtol=1e-5, atol=1e-6)


def test_calibration_errors():
    model = dense_bn_model()
    with pytest.raises(KaudioError, match="got no batch"):
        recalibrate_batch_norm(model, [])
    model.get_layer("bn").trainable = False
    with pytest.raises(KaudioError, match=r"frozen BatchNormalization layers \(bn\)"):
        recalibrate_batch_norm(model, [np.zeros((2, 5), "float32")])


def test_a_calibrated_subnetwork_leaves_the_supernet_alone():
    """The supernet's shared statistics are garbage for a narrow sub-network: after calibration on one batch its
    inference output on that batch is the batch-statistics output (what training computed); the supernet keeps
    every weight."""
    keras.utils.set_random_seed(0)
    supernet = kaudio.build(tiny_ofa_spec(dropout=0.0, embedding_dropout=0.0))
    randomize_statistics(supernet)
    before = [w.numpy().copy() for w in supernet.weights]
    config = supernet.backbone.space.smallest()
    x = waveforms(6)
    shared = extract_subnet(supernet, config)
    calibrated = calibrated_subnet(supernet, config, [x])
    for a, w in zip(before, supernet.weights):
        np.testing.assert_array_equal(a, w.numpy())
    assert len(batch_norm_layers(calibrated)) == 1 + 3 * 2 + 1  # bn0, blocks 1-3 at depth 2, block 4 at depth 1
    inference = np.asarray(calibrated(x, training=False))
    training = np.asarray(calibrated(x, training=True))
    np.testing.assert_allclose(inference, training, atol=1e-4)
    assert np.abs(np.asarray(shared(x, training=False)) - training).max() > 1e-2
    unchanged = calibrated_subnet(supernet, config, None)
    for a, b in zip(unchanged.get_weights(), shared.get_weights()):
        np.testing.assert_array_equal(a, b)
