"""SeededSpecAugment: kapre's mask distribution, masks that follow from the seed, identity outside training."""
import keras
import numpy as np
import pytest

from kaudio.layers import SeededSpecAugment
from tests.helpers import keras_round_trip


def _masked(layer, x):
    return keras.ops.convert_to_numpy(layer(x, training=True)) == layer.mask_value


def test_identity_outside_training_and_save_load(tmp_path):
    x = np.random.default_rng(0).uniform(1, 2, (3, 20, 8, 1)).astype("float32")
    out, loaded = keras_round_trip(SeededSpecAugment(5, 2, 3, 1, seed=4), x, tmp_path)
    np.testing.assert_array_equal(out, x)
    augment = next(layer for layer in loaded.layers if isinstance(layer, SeededSpecAugment))
    assert augment.get_config()["time_mask_param"] == 5 and augment.seed == 4


def test_masks_are_whole_time_and_frequency_bands_of_kapres_widths():
    x = np.ones((64, 30, 12, 1), "float32")
    masked = _masked(SeededSpecAugment(6, 1, 4, 1, seed=0), x)[..., 0]
    for example in masked:
        rows = example.all(axis=1)  # time bins masked across every frequency: the time mask
        cols = example.all(axis=0)
        assert 1 <= rows.sum() <= 6 and 1 <= cols.sum() <= 4
        assert np.ptp(np.flatnonzero(rows)) == rows.sum() - 1  # one contiguous band
        assert np.ptp(np.flatnonzero(cols)) == cols.sum() - 1
        assert np.array_equal(example, rows[:, None] | cols[None, :])  # nothing else masked
    widths = masked.all(axis=2).sum(axis=1)
    assert set(widths) == set(range(1, 7))  # w ~ U{0..5} covers w + 1 bins, as in kapre
    stereo = _masked(SeededSpecAugment(6, 1, 4, 1, seed=0), np.ones((8, 30, 12, 2), "float32"))
    np.testing.assert_array_equal(stereo[..., 0], stereo[..., 1])  # the channels of an example share its masks
    assert stereo.any()


def test_masks_follow_the_seed_and_change_from_batch_to_batch():
    x = np.ones((8, 40, 16, 1), "float32")
    a, b, c = SeededSpecAugment(8, 2, 4, 2, seed=1), SeededSpecAugment(8, 2, 4, 2, seed=1), \
        SeededSpecAugment(8, 2, 4, 2, seed=2)
    first_a, first_b, first_c = _masked(a, x), _masked(b, x), _masked(c, x)
    np.testing.assert_array_equal(first_a, first_b)
    assert not np.array_equal(first_a, first_c)
    assert not np.array_equal(_masked(a, x), first_a)  # the generator's state advanced
    assert not np.array_equal(first_a[0], first_a[1])  # every example has its own masks


@pytest.mark.parametrize("kwargs", [dict(time_mask_param=0), dict(n_freq_masks=-1), dict(freq_mask_param=2.5)])
def test_bad_arguments(kwargs):
    args = {"time_mask_param": 4, "n_time_masks": 1, "freq_mask_param": 4, "n_freq_masks": 1, **kwargs}
    with pytest.raises(ValueError, match="SeededSpecAugment"):
        SeededSpecAugment(**args)


def test_a_mask_wider_than_its_axis_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        SeededSpecAugment(10, 1, 2, 1)(np.ones((1, 5, 8, 1), "float32"), training=True)
