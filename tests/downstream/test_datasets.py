"""kaudio.downstream.datasets: labels.csv folders, UrbanSound8K and ESC-50 layouts, refusals."""
import numpy as np
import pytest
import soundfile as sf

from kaudio.data import LabelsError
from kaudio.downstream.datasets import load_downstream_dataset
from kaudio.errors import InputError, KaudioWarning
from tests.downstream.synthetic import make_tone_dataset


def write_audio(root, keys):
    for key in keys:
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / key, np.zeros(800, np.float32), 8000)


def labels_folder(root, rows, audio=None):
    root.mkdir(parents=True, exist_ok=True)
    (root / "labels.csv").write_text("file,label,fold\n" + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    write_audio(root, audio if audio is not None else [r.split(",")[0] for r in rows])
    return root


def test_labels_csv_folder(tmp_path):
    root = make_tone_dataset(tmp_path / "tones", folds=(2, 10, 1), clips_per_class=2)
    data = load_downstream_dataset(root)
    assert data.layout == "labels.csv" and len(data) == 18
    assert data.fold_names == ("1", "2", "10")  # numeric order, not text order
    assert data.classes == ("high", "low", "mid")
    assert data.keys[0] == "audio/low_2_0.wav" and data.files[0] == root / "audio" / "low_2_0.wav"
    np.testing.assert_array_equal(data.label_indices[:3], [1, 1, 2])
    assert data.in_fold("10").sum() == 6
    described = data.describe()
    assert described["clips_per_fold"] == {"1": 6, "2": 6, "10": 6} and described["folds"] == ["1", "2", "10"]


def test_fingerprint_ignores_row_order_and_location(tmp_path):
    rows = ["a.wav,dog,1", "b.wav,dog,2", "c.wav,cat,1", "d.wav,cat,2"]
    first = load_downstream_dataset(labels_folder(tmp_path / "x", rows))
    second = load_downstream_dataset(labels_folder(tmp_path / "y", rows[::-1]))
    assert first.fingerprint() == second.fingerprint()
    with pytest.warns(KaudioWarning):  # cat is now in fold 1 only
        moved = load_downstream_dataset(labels_folder(tmp_path / "z", rows[:3] + ["d.wav,cat,1"]))
    assert moved.fingerprint() != first.fingerprint()


def test_one_fold_is_refused(tmp_path):
    root = labels_folder(tmp_path / "d", ["a.wav,dog,1", "b.wav,dog,1", "c.wav,cat,1", "d.wav,cat,1"])
    with pytest.raises(LabelsError, match="every clip is in fold '1'.*at least two folds"):
        load_downstream_dataset(root)


def test_class_with_one_clip_is_refused_and_named(tmp_path):
    root = labels_folder(tmp_path / "d", ["a.wav,dog,1", "b.wav,dog,2", "c.wav,cat,1", "d.wav,cta,2"])
    with pytest.raises(LabelsError, match=r"2 classes with a single clip \(cat, cta\).*never be both trained and "):
        load_downstream_dataset(root)


def test_missing_audio_files_are_listed(tmp_path):
    rows = ["a.wav,dog,1", "b.wav,dog,2", "c.wav,cat,1", "d.wav,cat,2"]
    root = labels_folder(tmp_path / "d", rows, audio=["a.wav", "c.wav"])
    with pytest.raises(LabelsError) as excinfo:
        load_downstream_dataset(root)
    assert any("2 audio files named in" in p and "b.wav, d.wav" in p for p in excinfo.value.problems)


def test_unknown_layout_names_the_files_looked_for(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError) as excinfo:
        load_downstream_dataset(tmp_path / "empty")
    message = str(excinfo.value)
    for looked_for in ("labels.csv", "metadata/UrbanSound8K.csv", "meta/esc50.csv"):
        assert str(tmp_path / "empty" / looked_for) in message
    with pytest.raises(InputError, match="dataset folder not found"):
        load_downstream_dataset(tmp_path / "nowhere")


def test_tagging_folder_gets_a_hint(tmp_path):
    root = tmp_path / "t"
    root.mkdir()
    (root / "labels.csv").write_text("file,tags,fold\na.wav,dog,1\n")
    with pytest.raises(LabelsError, match="no column 'label'.*one class per clip"):
        load_downstream_dataset(root)


def test_empty_cells_and_duplicates(tmp_path):
    rows = ["a.wav,dog,1", "a.wav,dog,2", "b.wav,,2", "c.wav,cat,1", "d.wav,cat,2", "e.wav,dog,2"]
    with pytest.raises(LabelsError) as excinfo:
        load_downstream_dataset(labels_folder(tmp_path / "d", rows))
    text = str(excinfo.value)
    assert "duplicate row: 'a.wav' is also on line 2" in text and "empty cells on line 4 (label)" in text


def test_class_in_a_single_fold_is_warned_about(tmp_path):
    rows = ["a.wav,dog,1", "b.wav,dog,2", "c.wav,cat,1", "d.wav,cat,1"]
    with pytest.warns(KaudioWarning, match=r"1 class\(es\) have every clip in one fold: 'cat' \(fold 1\)"):
        load_downstream_dataset(labels_folder(tmp_path / "d", rows))


def test_urbansound8k_layout(tmp_path):
    root = tmp_path / "UrbanSound8K"
    (root / "metadata").mkdir(parents=True)
    rows = [("100032-3-0-0.wav", 5, 3, "dog_bark"), ("100263-2-0-117.wav", 5, 2, "children_playing"),
            ("101415-3-0-2.wav", 1, 3, "dog_bark"), ("102305-2-0-0.wav", 10, 2, "children_playing")]
    text = "slice_file_name,fsID,start,end,salience,fold,classID,class\n" + "".join(
        f"{name},1,0.0,0.3,1,{fold},{class_id},{label}\n" for name, fold, class_id, label in rows)
    (root / "metadata" / "UrbanSound8K.csv").write_text(text)
    write_audio(root, [f"audio/fold{fold}/{name}" for name, fold, _, _ in rows])
    data = load_downstream_dataset(root)
    assert data.layout == "UrbanSound8K" and data.fold_names == ("1", "5", "10")
    assert data.keys[0] == "audio/fold5/100032-3-0-0.wav" and data.labels[0] == "dog_bark"
    assert data.classes == ("children_playing", "dog_bark")
    (root / "audio" / "fold10" / "102305-2-0-0.wav").unlink()
    with pytest.raises(LabelsError, match="audio/fold10/102305-2-0-0.wav"):
        load_downstream_dataset(root)


def test_esc50_layout(tmp_path):
    root = tmp_path / "ESC-50-master"
    (root / "meta").mkdir(parents=True)
    rows = [("1-100032-A-0.wav", 1, 0, "dog"), ("1-100038-A-14.wav", 1, 14, "chirping_birds"),
            ("2-100648-A-0.wav", 2, 0, "dog"), ("2-102414-A-14.wav", 2, 14, "chirping_birds")]
    text = "filename,fold,target,category,esc10,src_file,take\n" + "".join(
        f"{name},{fold},{target},{label},False,1,A\n" for name, fold, target, label in rows)
    (root / "meta" / "esc50.csv").write_text(text)
    write_audio(root, [f"audio/{name}" for name, *_ in rows])
    data = load_downstream_dataset(root)
    assert data.layout == "ESC-50" and data.fold_names == ("1", "2")
    assert data.keys[1] == "audio/1-100038-A-14.wav" and data.labels[1] == "chirping_birds"
