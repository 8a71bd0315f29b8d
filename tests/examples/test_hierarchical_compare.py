"""examples/hierarchical_instruments/compare.py: SeedData gives every run of a seed the same split and batches."""

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REPO
from tests.examples import example_on_path, load_example

HERE = REPO / "examples" / "hierarchical_instruments"


@pytest.fixture(scope="module")
def compare():
    with example_on_path("hierarchical_instruments"):  # the script imports its sibling scripts when it runs
        yield load_example("hierarchical_instruments", "compare", "hierarchical_compare")


def clip_ids(dataset):
    """The clips of one pass, in batch order (each clip is a constant signal: its index / 100)."""
    return [int(round(v * 100)) for audio, _ in dataset for v in np.asarray(audio)[:, 0, 0]]


def test_every_run_of_a_seed_gets_the_same_batches(compare, tmp_path):
    import tensorflow as tf

    from kaudio.data import load_tagging_folder

    tags = ["piano_a;organ_b", "guitar_a;bass_b", "strings_a;brass_a", "reed_b;piano_b"]
    rows = ["file,tags,split"]
    for k in range(24):
        sf.write(tmp_path / f"c{k:02d}.wav", np.full(800, k / 100, np.float32), 8000)
        rows.append(f"c{k:02d}.wav,{tags[k % 4]},{'test' if k >= 20 else 'train'}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    mapping = {family: [f"{family}_a", f"{family}_b"] for family in
               ("piano", "organ", "guitar", "bass", "strings", "brass", "reed")}
    data = compare.SeedData(load_tagging_folder(tmp_path, mapping), 0.25, 4, 8000, 800)

    train, val, test = data.datasets(1)
    first = clip_ids(train)
    assert clip_ids(train) != first  # a dataset reshuffles on every pass: a run after another would see other batches
    tf.random.set_seed(0)  # as an earlier run in the same process does
    again, val_again, test_again = data.datasets(1)
    assert clip_ids(again) == first
    assert val_again is val and test_again is test  # not shuffled: built once per seed
    assert sorted(first) == sorted(data.split(1)["train"]) and clip_ids(test) == list(range(20, 24))
    assert clip_ids(data.datasets(2)[0]) != first
