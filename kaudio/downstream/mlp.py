"""The downstream classifier of Cramer et al. ("Look, Listen and Learn More", ICASSP 2019, §3.2):
a multi-layer perceptron on one window's features, and clip prediction from its windows.

As coded in ``marl/l3embedding`` (``classifier/train.py``, ``construct_mlp_model`` / ``train_mlp``):
Dense 512 ReLU → Dense 128 ReLU → Dense C softmax, every kernel with an L2 penalty ``weight_decay``
and Glorot-uniform initialisation (Keras' default), no batch normalisation or dropout; Adam with
``learning_rate``, categorical cross-entropy, batches of 32, at most 50 epochs; early stopping on
the validation loss with patience 20, restoring the weights of the best epoch.

Clip prediction (§3.2, "sum the class likelihoods output by the MLP over all windows, and take the
class with the highest total likelihood"): :func:`clip_predictions`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HIDDEN_UNITS = (512, 128)


def build_classifier(input_dim: int, n_classes: int, weight_decay: float):
    """The MLP (a functional ``keras.Model``) for ``input_dim`` features and ``n_classes`` classes."""
    import keras

    inputs = keras.Input((input_dim,), name="window_features")
    x = inputs
    for i, units in enumerate(HIDDEN_UNITS, 1):
        x = keras.layers.Dense(units, activation="relu", kernel_initializer="glorot_uniform",
                               kernel_regularizer=keras.regularizers.L2(weight_decay), name=f"dense_{i}")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", kernel_initializer="glorot_uniform",
                                 kernel_regularizer=keras.regularizers.L2(weight_decay), name="classes")(x)
    return keras.Model(inputs, outputs, name="downstream_mlp")


@dataclass
class TrainedClassifier:
    """A trained MLP (best-epoch weights restored) and how its training went.

    Attributes:
        model: the ``keras.Model``.
        epochs: epochs run (at most the budget; fewer when stopped early).
        best_epoch: 1-based epoch whose weights were restored (lowest validation loss).
        val_loss, val_accuracy: on the validation windows, with the restored weights.
        val_loss_history: the validation loss after each epoch.
    """

    model: object
    epochs: int
    best_epoch: int
    val_loss: float
    val_accuracy: float
    val_loss_history: list[float]


def train_classifier(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, n_classes: int,
                     learning_rate: float, weight_decay: float, epochs: int = 50, patience: int = 20,
                     batch_size: int = 32, seed: int = 0) -> TrainedClassifier:
    """Train one MLP on windows (``x_*`` (windows, dim), ``y_*`` (windows,) class indices).

    The initial weights and the order of the windows (Keras shuffles them every epoch), and so the
    result, depend only on ``seed`` (``keras.utils.set_random_seed``).
    """
    import keras

    keras.utils.set_random_seed(int(seed))
    model = build_classifier(x_train.shape[1], n_classes, weight_decay)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    train_targets = keras.utils.to_categorical(y_train, n_classes)
    val_targets = keras.utils.to_categorical(y_val, n_classes)
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    history = model.fit(x_train, train_targets, batch_size=batch_size, epochs=epochs, shuffle=True,
                        validation_data=(x_val, val_targets), callbacks=[stopper], verbose=0)
    val_losses = history.history["val_loss"]
    val_loss, val_accuracy = model.evaluate(x_val, val_targets, batch_size=256, verbose=0)
    return TrainedClassifier(model, epochs=len(val_losses), best_epoch=int(np.argmin(val_losses)) + 1,
                             val_loss=float(val_loss), val_accuracy=float(val_accuracy),
                             val_loss_history=[float(v) for v in val_losses])


def clip_predictions(window_probabilities: np.ndarray, clip_of_window: np.ndarray, n_clips: int) -> np.ndarray:
    """``(n_clips,)`` class indices: for each clip, the argmax of its windows' summed softmax outputs.

    Args:
        window_probabilities: ``(windows, classes)`` softmax outputs.
        clip_of_window: ``(windows,)`` the clip index (0 … n_clips − 1) of each window.
        n_clips: the number of clips (every clip must have a window).
    """
    window_probabilities = np.asarray(window_probabilities, np.float64)
    totals = np.zeros((n_clips, window_probabilities.shape[1]), np.float64)
    np.add.at(totals, np.asarray(clip_of_window), window_probabilities)
    return totals.argmax(axis=1)
