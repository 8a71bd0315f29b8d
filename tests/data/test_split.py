"""Tests for kaudio.data.split: iterative stratification and the split column."""
import numpy as np
import pytest

from kaudio.data import TaggingTable, split_indices
from kaudio.data.split import stratification_matrix
from kaudio.errors import InputError
from kaudio.hierarchy import Hierarchy

HIERARCHY = Hierarchy.from_mapping({"strings": ["violin", "cello", "guitar"], "winds": ["flute", "clarinet"],
                                    "keys": ["piano"]})
PREVALENCE = np.array([0.4, 0.2, 0.1, 0.3, 0.08, 0.5])


def random_table(n=400, seed=0, split=None, unknown=0.0):
    rng = np.random.default_rng(seed)
    fine = (rng.random((n, HIERARCHY.n_fine)) < PREVALENCE).astype(np.float32)
    mask = np.ones_like(fine)
    if unknown:
        mask = (rng.random(fine.shape) >= unknown).astype(np.float32)
        mask[fine > 0] = 1
    return TaggingTable.from_fine([f"{i}.wav" for i in range(n)], fine, mask, HIERARCHY, split=split)


def check_partition(result, n):
    assert set(result) == {"train", "val", "test"}
    joined = np.concatenate([result["train"], result["val"], result["test"]])
    assert sorted(joined.tolist()) == list(range(n))  # every row once
    for idx in result.values():
        assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)


def test_stratified_fraction_and_label_balance():
    table = random_table()
    result = split_indices(table)
    check_partition(result, len(table))
    assert len(result["test"]) == 0
    assert abs(len(result["val"]) / len(table) - 0.15) <= 0.01
    y = stratification_matrix(table, np.arange(len(table)))
    share = y[result["val"]].sum(axis=0) / y.sum(axis=0)
    # every fine and coarse tag (even the 8 % one: ~32 positives) has ~15 % of its positives in val
    assert np.all(np.abs(share - 0.15) <= 0.04), share


def test_stratification_beats_random_split_on_rare_tags():
    table = random_table(n=300, seed=3)
    y = stratification_matrix(table, np.arange(len(table)))
    val = split_indices(table, seed=3)["val"]
    error = np.abs(y[val].sum(0) / y.sum(0) - 0.15).max()
    rng = np.random.default_rng(3)
    random_errors = [np.abs(y[rng.permutation(300)[:45]].sum(0) / y.sum(0) - 0.15).max() for _ in range(20)]
    assert error < np.median(random_errors)


def test_deterministic_and_seeded():
    table = random_table()
    state = np.random.get_state()
    a, b = split_indices(table, seed=5), split_indices(table, seed=5)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["val"], split_indices(table, seed=6)["val"])
    after = np.random.get_state()
    assert np.array_equal(state[1], after[1]) and state[2] == after[2]  # caller's random stream untouched


def test_other_fractions_and_order_two():
    table = random_table(n=200)
    result = split_indices(table, val_fraction=0.3, order=2)
    check_partition(result, 200)
    assert abs(len(result["val"]) - 60) <= 2
    result = split_indices(table, val_fraction=0)
    assert len(result["val"]) == 0 and len(result["train"]) == 200


def test_split_column_with_val_used_as_given():
    split = ["train", "val", "test", ""] * 25
    table = random_table(n=100, split=split)
    result = split_indices(table)
    check_partition(result, 100)
    np.testing.assert_array_equal(result["val"], np.arange(1, 100, 4))
    np.testing.assert_array_equal(result["test"], np.arange(2, 100, 4))
    np.testing.assert_array_equal(result["train"], np.sort(np.r_[np.arange(0, 100, 4), np.arange(3, 100, 4)]))


def test_split_column_without_val_stratifies_the_pool():
    split = ["train"] * 150 + ["test"] * 50 + [""] * 100
    table = random_table(n=300, split=split)
    result = split_indices(table)
    check_partition(result, 300)
    np.testing.assert_array_equal(result["test"], np.arange(150, 200))
    assert not np.isin(result["val"], result["test"]).any()
    assert abs(len(result["val"]) - 0.15 * 250) <= 2
    assert np.isin(np.arange(200, 300), result["val"]).any()  # unassigned rows are in the pool


def test_unknown_labels_count_as_negatives():
    fine = np.array([[1, 0, 0, 0, 0, 1]], np.float32)
    mask = np.array([[0, 1, 1, 1, 1, 1]], np.float32)  # violin's 1 is unknown (soft data built by hand)
    table = TaggingTable.from_fine(["a.wav"], fine, mask, HIERARCHY)
    np.testing.assert_array_equal(stratification_matrix(table, np.array([0])), [[0, 0, 0, 0, 0, 1, 0, 0, 1]])
    table = random_table(unknown=0.6)
    result = split_indices(table)
    assert abs(len(result["val"]) / 400 - 0.15) <= 0.01


@pytest.mark.parametrize("fraction", [1.0, -0.1, "0.2", True, 1.5])
def test_bad_fraction(fraction):
    with pytest.raises(InputError, match="val_fraction must be a number in"):
        split_indices(random_table(n=20), val_fraction=fraction)


def test_bad_order_and_too_little_data():
    with pytest.raises(InputError, match="order must be a positive integer"):
        split_indices(random_table(n=20), order=0)
    with pytest.raises(InputError, match="too few"):
        split_indices(random_table(n=1))
    with pytest.raises(InputError, match="all 3 rows are in the test split"):
        split_indices(random_table(n=3, split=["test"] * 3))
    with pytest.raises(InputError, match="every non-test row is marked `val`"):
        split_indices(random_table(n=3, split=["val", "val", "test"]))
