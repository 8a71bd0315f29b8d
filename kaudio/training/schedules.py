"""Learning-rate schedules of the trainers."""
from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="kaudio")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``learning_rate`` over ``warmup_steps`` optimizer steps, then constant
    (Zhong et al. §4.2's "5-epoch linear warm-up": ``lr(step) = lr · min(1, (step + 1) / warmup_steps)``)."""

    def __init__(self, learning_rate: float, warmup_steps: int):
        self.learning_rate = float(learning_rate)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        if self.warmup_steps <= 0:
            return keras.ops.full((), self.learning_rate, "float32")
        return self.learning_rate * keras.ops.minimum(1.0, (step + 1.0) / float(self.warmup_steps))

    def get_config(self):
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps}
