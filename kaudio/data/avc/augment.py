"""The in-graph half of AVC sample preparation: colour augmentation, and the model's input ranges.

:func:`colour_jitter` applies the saturation and brightness changes whose parameters
:func:`kaudio.data.avc.sampling.plan_pair` drew (marl/l3embedding ``sample_one_frame``: HSV
saturation × U[0.5, 1.5) and brightness + U[−32/255, 32/255], in random order, each with
p 0.5, each clipped to [0, 1]) with ``tf.image.adjust_saturation`` on the frame as floats in
[0, 1], and rounds the result back to uint8 — the form the reference stored and kaudio's shards
store. :func:`model_inputs` maps a stored sample to the model's inputs: the frame to [−1, 1]
(``2 · x / 255 − 1``, the reference's ``2 · img_as_float − 1``) and the int16 audio to
``x / 32768``.
"""
from __future__ import annotations

VISION_KEY = "vision"
AUDIO_KEY = "audio"
TARGET_KEY = "correspondence"


def colour_jitter(image, colour):
    """Saturation and brightness of a uint8 ``(H, W, 3)`` frame from the parameters
    ``colour = [saturation first, use saturation, factor, use brightness, delta]``; uint8 back."""
    import tensorflow as tf

    x = tf.cast(image, tf.float32) / 255.0
    saturation_first, use_saturation, factor, use_brightness, delta = tf.unstack(colour)

    def saturation(v):
        return tf.where(use_saturation > 0.5, tf.clip_by_value(tf.image.adjust_saturation(v, factor), 0.0, 1.0), v)

    def brightness(v):
        return tf.where(use_brightness > 0.5, tf.clip_by_value(v + delta, 0.0, 1.0), v)

    x = tf.cond(saturation_first > 0.5, lambda: brightness(saturation(x)), lambda: saturation(brightness(x)))
    return tf.cast(tf.round(x * 255.0), tf.uint8)


def one_hot_label(match):
    """``[mismatch, match]`` one-hot (float32) of a 0/1 match flag: the 2-way softmax's target."""
    import tensorflow as tf

    return tf.one_hot(tf.cast(match, tf.int32), 2, dtype=tf.float32)


def model_inputs(inputs: dict, targets: dict):
    """``({"vision": uint8, "audio": int16}, targets)`` → float32 inputs in [−1, 1]."""
    import tensorflow as tf

    vision = tf.cast(inputs[VISION_KEY], tf.float32) / 127.5 - 1.0
    audio = tf.cast(inputs[AUDIO_KEY], tf.float32) / 32768.0
    return {VISION_KEY: vision, AUDIO_KEY: audio}, targets
