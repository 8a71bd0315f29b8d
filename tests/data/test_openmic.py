"""Tests for kaudio.data.openmic on a miniature OpenMIC-2018 release tree written by the test."""
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kaudio.data import LabelsError, load_openmic, make_dataset, split_indices
from kaudio.data.openmic import audio_path
from kaudio.errors import InputError
from kaudio.hierarchy import Hierarchy

REPO = Path(__file__).resolve().parents[2]
INSTRUMENTS = ["accordion", "banjo", "bass", "cello", "clarinet", "cymbals", "drums", "flute", "guitar",
               "mallet_percussion", "mandolin", "organ", "piano", "saxophone", "synthesizer", "trombone",
               "trumpet", "ukulele", "violin", "voice"]
TRAIN = ["000046_3840", "000135_483840", "001234_0", "014999_11520"]
TEST = ["000308_61440", "155311_3840"]
LABELS = [  # sample_key, instrument, relevance, num_responses
    ("000046_3840", "piano", 0.83, 3), ("000046_3840", "voice", 0.17, 3),
    ("000135_483840", "violin", 0.5, 2), ("000135_483840", "cello", 0.0, 3),
    ("001234_0", "trumpet", 1.0, 4),
    ("014999_11520", "flute", 0.49, 3), ("014999_11520", "clarinet", 0.2, 3), ("014999_11520", "saxophone", 0.1, 3),
    ("000308_61440", "drums", 0.9, 3),
    ("155311_3840", "guitar", 0.66, 3), ("155311_3840", "bass", 0.0, 3),
]


def write_release(root, labels=LABELS, train=TRAIN, test=TEST, audio=None, class_map=None):
    root.mkdir(parents=True, exist_ok=True)
    text = "sample_key,instrument,relevance,num_responses\n" + "".join(f"{k},{i},{r},{n}\n" for k, i, r, n in labels)
    (root / "openmic-2018-aggregated-labels.csv").write_text(text)
    (root / "class-map.json").write_text(json.dumps(class_map or {name: i for i, name in enumerate(INSTRUMENTS)}))
    (root / "partitions").mkdir(exist_ok=True)
    (root / "partitions" / "split01_train.csv").write_text("".join(k + "\n" for k in train))
    (root / "partitions" / "split01_test.csv").write_text("".join(k + "\n" for k in test))
    t = np.arange(4410) / 44100
    for k in (train + test) if audio is None else audio:
        path = audio_path(root, k)
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, 0.2 * np.sin(2 * np.pi * 330 * t), 44100, format="OGG", subtype="VORBIS")
    return root


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_release(tmp_path_factory.mktemp("omic") / "openmic-2018")


def test_table_from_release(release):
    table = load_openmic(release)
    h = table.hierarchy
    assert h == Hierarchy.load(REPO / "specs" / "hierarchies" / "openmic_tone.yaml") and h.n_fine == 20  # bundled default
    assert table.keys == TRAIN + TEST and table.split == ["train"] * 4 + ["test"] * 2
    assert table.files[0] == release / "audio" / "000" / "000046_3840.ogg" and all(f.is_file() for f in table.files)
    col = {name: i for i, name in enumerate(h.fine_names)}
    assert table.fine[0, col["piano"]] == 1 and table.fine[0, col["voice"]] == 0
    assert table.fine_mask[0].sum() == 2 and table.fine_mask[0, col["piano"]] == table.fine_mask[0, col["voice"]] == 1
    assert table.fine[1, col["violin"]] == 1  # relevance 0.5 is positive
    assert table.fine[3, col["flute"]] == 0 and table.fine_mask[3, col["flute"]] == 1  # 0.49 is negative
    assert table.fine[(table.fine_mask == 0)].sum() == 0
    ccol = {name: i for i, name in enumerate(h.coarse_names)}
    assert table.coarse[0, ccol["keyboard"]] == 1 and table.coarse_mask[0, ccol["keyboard"]] == 1
    assert table.coarse_mask[0, ccol["vocals"]] == 1 and table.coarse[0, ccol["vocals"]] == 0  # voice: only child
    assert table.coarse_mask[0, ccol["brass"]] == 0  # nothing known
    # woodwind fully annotated negative on row 3 -> known negative coarse
    assert table.coarse[3, ccol["woodwind"]] == 0 and table.coarse_mask[3, ccol["woodwind"]] == 1
    assert table.coarse[1, ccol["bowed_strings"]] == 1


def test_soft_labels_threshold_and_parent_folder(release):
    table = load_openmic(release.parent, soft_labels=True)  # the folder the archive was unpacked in
    col = table.hierarchy.fine_names.index("flute")
    assert table.fine[3, col] == pytest.approx(0.49)
    table = load_openmic(release, threshold=0.4)
    assert table.fine[3, col] == 1


def test_split_and_pipeline_on_release(release):
    table = load_openmic(release)
    result = split_indices(table, val_fraction=0.25)
    np.testing.assert_array_equal(result["test"], [4, 5])
    assert len(result["val"]) == 1 and len(result["train"]) == 3
    audio, targets = next(iter(make_dataset(table, result["test"], 16000, 1600, batch_size=2)))
    assert audio.shape == (2, 1600, 1) and targets["fine"].shape == (2, 20) and targets["coarse"].shape == (2, 7)


def test_custom_hierarchy_must_cover_the_class_map(tmp_path, release):
    with pytest.raises(LabelsError) as excinfo:
        load_openmic(release, hierarchy={"keys": ["piano", "organ"], "other": ["kazoo"]})
    message = str(excinfo.value)
    assert "class-map instruments missing from the hierarchy" in message and "'voice'" in message
    assert "not OpenMIC instruments" in message and "kazoo" in message


def test_every_problem_reported(tmp_path):
    labels = LABELS + [("000046_3840", "piano", 0.1, 1),      # duplicate pair
                       ("000046_3840", "kazoo", 1.0, 1),      # not an instrument
                       ("001234_0", "organ", 1.7, 1),         # bad relevance
                       ("999999_0", "organ", 1.0, 1)]         # in no partition
    root = write_release(tmp_path / "r", labels=labels, train=TRAIN + ["000308_61440", "777777_0"],
                         audio=TRAIN[1:] + TEST)
    with pytest.raises(LabelsError) as excinfo:
        load_openmic(root)
    message = str(excinfo.value)
    assert "split01_test.csv:1: sample key '000308_61440' is also listed in partitions/split01_train.csv:5" in message
    assert "(000046_3840, piano) is also on line 2" in message
    assert "instruments not in the class map / hierarchy: 'kazoo' (line 14)" in message
    assert "relevance must be a number in [0, 1]: line 15: '1.7'" in message
    assert "1 sample key in no split01 partition: 999999_0" in message
    assert "1 partition key without any label" in message and "777777_0" in message
    assert "2 audio files not found" in message and "audio/000/000046_3840.ogg" in message
    assert len(excinfo.value.problems) == 7


def test_layout_errors(tmp_path):
    with pytest.raises(InputError, match="OpenMIC-2018 folder not found"):
        load_openmic(tmp_path / "missing")
    with pytest.raises(InputError, match="not an OpenMIC-2018 release folder"):
        load_openmic(tmp_path)
    root = write_release(tmp_path / "r", audio=[])
    (root / "class-map.json").unlink()
    with pytest.raises(InputError, match="class-map.json: not found"):
        load_openmic(root)
    (root / "class-map.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="expected an object"):
        load_openmic(root)
    (root / "class-map.json").write_text(json.dumps({n: i for i, n in enumerate(INSTRUMENTS)}))
    (root / "partitions" / "split01_test.csv").unlink()
    with pytest.raises(LabelsError, match="split01_test.csv: partition file not found"):
        load_openmic(root, check_audio=False)
    (root / "openmic-2018-aggregated-labels.csv").write_text("sample_key,instrument,score\n")
    with pytest.raises(LabelsError, match="missing column relevance"):
        load_openmic(root, split="split02")
