"""SupervisedModel: the spec's loss on dict targets, logged parts, SpecAugment only in training."""
import keras
import numpy as np
import pytest

import kaudio
from kaudio.errors import KaudioError
from kaudio.losses import loss_from_spec
from kaudio.spec import load_spec
from kaudio.training.model import SupervisedModel, spec_augment_layer
from tests.training import toy_arrays, tiny_spec

AUGMENT = {"enabled": True, "time_mask_param": 3, "n_time_masks": 1, "freq_mask_param": 3, "n_freq_masks": 1}


def _trainer(spec_dict, augment=None):
    spec = load_spec(spec_dict)
    model = kaudio.build(spec)
    shape = tuple(model.frontend.compute_output_shape(tuple(model.input.shape))[1:])
    layer = spec_augment_layer(spec, augment, shape) if augment else None
    return SupervisedModel(model, loss_from_spec(spec), layer), spec


def test_compute_loss_is_the_masked_hierarchical_bce_and_logs_parts():
    trainer, spec = _trainer(tiny_spec())
    audio, targets = toy_arrays(8)
    targets["fine"][0, 1] = np.nan  # an unknown label (mask 0) must not matter
    prediction = trainer(audio, training=False)
    expected = loss_from_spec(spec).parts(targets, prediction)
    loss = trainer.compute_loss(audio, targets, prediction, training=False)
    np.testing.assert_allclose(float(loss), float(expected["loss"]), rtol=1e-6)
    assert np.isfinite(float(loss))
    logged = {m.name: float(m.result()) for m in trainer.metrics if m.name in ("fine_bce", "coarse_bce", "consistency")}
    for name in ("fine_bce", "coarse_bce", "consistency"):
        np.testing.assert_allclose(logged[name], float(expected[name]), rtol=1e-6)


def test_fit_logs_loss_parts_for_train_and_validation():
    import tensorflow as tf

    trainer, _ = _trainer(tiny_spec())
    audio, targets = toy_arrays(8)
    ds = tf.data.Dataset.from_tensor_slices((audio, targets)).batch(4)
    trainer.compile(optimizer=keras.optimizers.AdamW(1e-3))
    history = trainer.fit(ds, validation_data=ds, epochs=1, verbose=0).history
    for key in ("loss", "fine_bce", "coarse_bce", "consistency", "val_loss", "val_fine_bce", "val_coarse_bce"):
        assert key in history, key
    # λ = 0.8, no consistency terms: loss = 0.8 fine + 0.2 coarse on the validation pass (same batches)
    np.testing.assert_allclose(history["val_loss"][0],
                               0.8 * history["val_fine_bce"][0] + 0.2 * history["val_coarse_bce"][0], rtol=1e-4)


def test_spec_augment_acts_only_in_training():
    trainer, _ = _trainer(tiny_spec(), AUGMENT)
    audio, _ = toy_arrays(4)
    plain = trainer.model(audio, training=False)["fine"]
    np.testing.assert_allclose(trainer(audio, training=False)["fine"], plain, atol=1e-6)
    features = trainer.model.frontend(audio)
    masked = trainer.augment(features, training=True)
    assert np.mean(np.asarray(masked) == 0.0) > 0.0 and np.mean(np.asarray(features) == 0.0) == 0.0
    assert not any("spec_augment" in layer.name for layer in trainer.model.layers)


def test_spec_augment_masks_the_right_axes_for_freq_time_layout():
    spec_dict = tiny_spec()
    spec_dict["frontend"] = {**spec_dict["frontend"], "layout": "freq_time"}
    spec = load_spec(spec_dict)
    layer = spec_augment_layer(spec, {**AUGMENT, "time_mask_param": 2, "freq_mask_param": 5}, (16, 16, 1))
    # kapre's "time" axis is axis 0 = frequency here
    assert (layer.time_mask_param, layer.freq_mask_param) == (5, 2)
    assert spec_augment_layer(spec, {**AUGMENT, "enabled": False}, (16, 16, 1)) is None


def test_too_wide_masks_are_a_spec_problem():
    from kaudio.errors import SpecError

    spec = tiny_spec(spec_augment=True)
    spec["train"]["spec_augment"]["time_mask_param"] = 64
    with pytest.raises(SpecError, match="train.spec_augment.time_mask_param: got 64 but the front end gives only 16 "
                                        "frames; lower it to at most 16"):
        load_spec(spec)


def test_the_loss_names_what_a_model_lacks():
    spec = load_spec(tiny_spec())
    model = kaudio.build(tiny_spec())
    flat_output = keras.Model(model.input, model.output["fine"])
    wrapper = SupervisedModel(flat_output, loss_from_spec(spec))
    audio, targets = toy_arrays(4)
    with pytest.raises(KaudioError, match="hierarchical head"):
        wrapper.compute_loss(audio, targets, wrapper(audio), training=False)
