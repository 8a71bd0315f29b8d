"""kaudio.training.data: a spec's datasets from a labels.csv folder or an OpenMIC release; the saved split."""
import json

import numpy as np
import pytest

import kaudio
from kaudio.errors import KaudioError
from kaudio.training.data import SpecData, find_split_file
from tests.data.test_openmic import write_release
from tests.training import tiny_spec, write_toy_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_toy_folder(tmp_path_factory.mktemp("data") / "toy", n=20, splits=False)


def test_split_round_trips_through_split_json(folder, tmp_path):
    spec = kaudio.load_spec(tiny_spec())
    data = SpecData.load(spec, folder)
    assert len(data.splits["val"]) in (3, 4) and len(data.splits["test"]) == 0  # ~15% of 20, iterative stratification
    path = data.save_split(tmp_path / "run" / "split.json")
    assert json.loads(path.read_text())["val"] == [data.table.keys[i] for i in data.splits["val"]]
    reused = SpecData.load(kaudio.load_spec(tiny_spec(seed=7)), folder, split_file=path)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(reused.splits[name], data.splits[name])
    # Whatever the spec's seed would choose, a saved split is followed exactly.
    keys = data.table.keys
    path.write_text(json.dumps({"train": keys[5:], "val": keys[:3], "test": keys[3:5]}))
    custom = SpecData.load(kaudio.load_spec(tiny_spec(seed=7)), folder, split_file=path)
    assert custom.splits["val"].tolist() == [0, 1, 2] and custom.splits["test"].tolist() == [3, 4]
    assert custom.splits["train"].tolist() == list(range(5, 20))


def test_split_file_is_found_above_sub_runs(tmp_path):
    (tmp_path / "grid" / "seeds" / "seed_1").mkdir(parents=True)
    (tmp_path / "grid" / "split.json").write_text("{}")
    assert find_split_file(tmp_path / "grid" / "seeds" / "seed_1") == (tmp_path / "grid" / "split.json").resolve()
    assert find_split_file(tmp_path) is None


def test_split_of_other_data_is_refused(folder, tmp_path):
    spec = kaudio.load_spec(tiny_spec())
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"train": ["elsewhere.wav"], "val": [], "test": []}))
    with pytest.raises(KaudioError, match="1 clips of the training run's split are not in this data"):
        SpecData.load(spec, folder, split_file=path)


def test_openmic_release_is_read_directly(tmp_path):
    write_release(tmp_path / "openmic-2018")
    spec = kaudio.load_spec(tiny_spec() | {"head": {"type": "gmp", "hierarchy": "openmic_tone"}})
    data = SpecData.load(spec, tmp_path)  # the folder the archive was unpacked in
    assert len(data.table) == 6 and len(data.splits["test"]) == 2
    assert all(path.is_absolute() for path in data.table.files)
