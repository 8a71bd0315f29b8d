"""kaudio.downstream.mlp: the L3 downstream MLP, its training and clip prediction by summed likelihoods."""
import keras
import numpy as np

from kaudio.downstream.mlp import build_classifier, clip_predictions, train_classifier


def test_classifier_layers():
    model = build_classifier(20, 5, weight_decay=1e-3)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [512, 128, 5]
    assert [layer.activation.__name__ for layer in dense] == ["relu", "relu", "softmax"]
    for layer in dense:
        assert isinstance(layer.kernel_initializer, keras.initializers.GlorotUniform)
        assert isinstance(layer.kernel_regularizer, keras.regularizers.L2)
        assert np.isclose(layer.kernel_regularizer.l2, 1e-3) and layer.bias_regularizer is None
    assert model.count_params() == 20 * 512 + 512 + 512 * 128 + 128 + 128 * 5 + 5


def test_clip_prediction_sums_window_likelihoods():
    # clip 0: two windows lean to class 0 a little, one is sure of class 1 -> the sum picks class 1
    # (a majority vote of window argmaxes would pick class 0)
    probabilities = np.array([[0.55, 0.45, 0.0],
                              [0.55, 0.45, 0.0],
                              [0.0, 1.0, 0.0],
                              [0.2, 0.3, 0.5],    # clip 1: one window
                              [0.4, 0.0, 0.6],    # clip 2
                              [0.5, 0.0, 0.5]])
    owner = np.array([0, 0, 0, 1, 2, 2])
    by_hand = [np.argmax([0.55 + 0.55 + 0.0, 0.45 + 0.45 + 1.0, 0.0]), 2, np.argmax([0.9, 0.0, 1.1])]
    np.testing.assert_array_equal(clip_predictions(probabilities, owner, 3), by_hand)
    assert by_hand == [1, 2, 2]
    # windows need not be grouped by clip
    order = np.array([5, 2, 0, 3, 4, 1])
    np.testing.assert_array_equal(clip_predictions(probabilities[order], owner[order], 3), by_hand)


def blobs(seed, n=60, dim=6, classes=3):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centres = np.eye(classes, dim) * 3
    return (centres[labels] + rng.standard_normal((n, dim))).astype(np.float32), labels


def test_training_restores_the_best_epoch():
    x_train, y_train = blobs(0)
    x_val, y_val = blobs(1, n=30)
    first = train_classifier(x_train, y_train, x_val, y_val, 3, learning_rate=1e-3, weight_decay=1e-4, epochs=12,
                             patience=3, batch_size=32, seed=7)
    assert first.val_accuracy > 0.8 and 1 <= first.best_epoch <= first.epochs <= 12
    # with a learning rate too high to settle, early stopping must keep the best epoch, not the last one
    wild = train_classifier(x_train, y_train, x_val, y_val, 3, learning_rate=0.5, weight_decay=1e-4, epochs=8,
                            patience=8, batch_size=32, seed=7)
    history = wild.val_loss_history
    assert len(history) == 8 and np.argmin(history) != len(history) - 1  # the last epoch is not the best
    assert np.isclose(wild.val_loss, min(history), rtol=1e-5) and wild.best_epoch == np.argmin(history) + 1
