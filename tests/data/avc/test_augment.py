"""kaudio.data.avc.augment: colour augmentation in the graph and the model's input ranges."""
import colorsys

import numpy as np
import tensorflow as tf

from kaudio.data.avc.augment import colour_jitter, model_inputs, one_hot_label

PIXELS = np.array([[[200, 100, 50], [128, 128, 128]], [[0, 0, 0], [250, 240, 230]]], np.uint8)


def jitter(saturation_first=0, use_saturation=0, factor=1.0, use_brightness=0, delta=0.0, image=PIXELS):
    colour = tf.constant([saturation_first, use_saturation, factor, use_brightness, delta], tf.float32)
    return colour_jitter(tf.constant(image), colour).numpy()


def test_nothing_applied_is_the_identity():
    np.testing.assert_array_equal(jitter(factor=1.4, delta=0.1), PIXELS)  # flags off: parameters ignored


def test_brightness_adds_and_clips():
    out = jitter(use_brightness=1, delta=20 / 255)
    np.testing.assert_array_equal(out, np.clip(PIXELS.astype(int) + 20, 0, 255))
    assert jitter(use_brightness=1, delta=-32 / 255)[1, 0].tolist() == [0, 0, 0]


def test_saturation_scales_hsv_saturation():
    out = jitter(use_saturation=1, factor=0.5)
    h, s, v = colorsys.rgb_to_hsv(*(PIXELS[0, 0] / 255))
    expected = np.array(colorsys.hsv_to_rgb(h, s * 0.5, v)) * 255
    np.testing.assert_allclose(out[0, 0], expected, atol=1)
    np.testing.assert_array_equal(out[0, 1], PIXELS[0, 1])  # grey has no saturation to scale
    assert jitter(use_saturation=1, factor=1.5)[1, 1].min() >= 0  # saturation clipped, values stay in range


def test_order_of_the_two_changes_matters():
    both = dict(use_saturation=1, factor=1.5, use_brightness=1, delta=30 / 255)
    assert not np.array_equal(jitter(saturation_first=1, **both), jitter(saturation_first=0, **both))


def test_model_inputs_and_labels():
    x = {"vision": tf.constant([0, 255, 128], tf.uint8), "audio": tf.constant([-32768, 0, 32767], tf.int16)}
    inputs, targets = model_inputs(x, {"correspondence": 1})
    np.testing.assert_allclose(inputs["vision"].numpy(), [-1.0, 1.0, 128 / 127.5 - 1], atol=1e-7)
    np.testing.assert_allclose(inputs["audio"].numpy(), [-1.0, 0.0, 32767 / 32768])
    assert targets == {"correspondence": 1}
    np.testing.assert_array_equal(one_hot_label(tf.constant([1, 0])).numpy(), [[0, 1], [1, 0]])  # [mismatch, match]
    assert inputs["vision"].dtype == tf.float32 == inputs["audio"].dtype
