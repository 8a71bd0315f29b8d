"""ValidationMetrics: metrics of the validation predictions added to the epoch logs, for the trained
model or the network a trainer chooses."""
import keras
import numpy as np
import tensorflow as tf

from kaudio.training.callbacks import ValidationMetrics


def _dense(seed):
    x = keras.Input((3,))
    model = keras.Model(x, keras.layers.Dense(2, activation="sigmoid",
                                              kernel_initializer=keras.initializers.RandomNormal(seed=seed))(x))
    return model


def test_metrics_of_the_trained_model_or_of_the_chosen_network():
    trained, other = _dense(1), _dense(2)
    wrapper = keras.Model(trained.input, trained.output)
    wrapper.model = trained
    x = np.random.default_rng(0).standard_normal((6, 3)).astype("float32")
    val = tf.data.Dataset.from_tensor_slices((x, {"labels": np.zeros((6, 2), np.float32)})).batch(4)

    def mean_score(targets, scores):
        assert targets["labels"].shape == (6, 2)
        return {"val_mean": scores["labels"].mean()}

    for callback, network in ((ValidationMetrics(val, mean_score), trained),
                              (ValidationMetrics(val, mean_score, network=lambda w: other), other)):
        callback.set_model(wrapper)
        logs = {"loss": 1.0}
        callback.on_epoch_end(0, logs)
        np.testing.assert_allclose(logs["val_mean"], float(np.mean(network(x))), rtol=1e-6)
        assert logs["loss"] == 1.0
    assert not np.allclose(trained(x), other(x))
