"""Tests for kaudio.data.labels_csv: labels.csv folders, mask.csv, validation messages."""
import numpy as np
import pytest
import soundfile as sf

from kaudio.data import LabelsError, TaggingTable, load_tagging_folder
from kaudio.data.labels_csv import tags_of
from kaudio.errors import InputError, KaudioError
from kaudio.hierarchy import Hierarchy

MAPPING = {"strings": ["violin", "cello", "guitar"], "winds": ["flute", "clarinet"], "keys": ["piano"]}


@pytest.fixture
def hierarchy():
    return Hierarchy.from_mapping(MAPPING)


def write_audio(folder, names, rate=8000, seconds=0.1):
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, np.zeros(int(rate * seconds), np.float32), rate)


def make_folder(tmp_path, csv_text, audio=None, mask_text=None):
    """Write labels.csv (and mask.csv) plus the audio files the csv names (or ``audio``)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "labels.csv").write_text(csv_text, encoding="utf-8")
    if mask_text is not None:
        (tmp_path / "mask.csv").write_text(mask_text, encoding="utf-8")
    if audio is None:
        lines = [line for line in csv_text.splitlines()[1:] if line.strip()]
        audio = [line.split(",")[0] for line in lines]
    write_audio(tmp_path, audio)
    return tmp_path


def problems_of(excinfo):
    return excinfo.value.problems


def test_reads_tags_known_and_split(tmp_path, hierarchy):
    folder = make_folder(tmp_path, "file,tags,known,split\n"
                                   "a.wav,violin;piano,,train\n"
                                   "sub/b.wav,flute,violin;flute,val\n"
                                   "c.wav,,,test\n"
                                   "d.wav, cello ; ,,\n")
    table = load_tagging_folder(folder, hierarchy)
    assert isinstance(table, TaggingTable) and len(table) == 4
    assert table.files[1] == folder / "sub" / "b.wav" and all(f.is_file() for f in table.files)
    assert table.split == ["train", "val", "test", ""]
    assert table.keys == ["a.wav", "sub/b.wav", "c.wav", "d.wav"]
    # fine order = hierarchy order: violin cello guitar flute clarinet piano
    np.testing.assert_array_equal(table.fine, [[1, 0, 0, 0, 0, 1], [0, 0, 0, 1, 0, 0], [0] * 6, [0, 1, 0, 0, 0, 0]])
    np.testing.assert_array_equal(table.fine_mask[1], [1, 0, 0, 1, 0, 0])
    assert table.fine_mask[[0, 2, 3]].all()
    # coarse (strings, winds, keys) by the max rule
    np.testing.assert_array_equal(table.coarse, [[1, 0, 1], [0, 1, 0], [0, 0, 0], [1, 0, 0]])
    # row 1: strings has a known negative (violin) but unknown cello/guitar -> unknown; winds known positive
    np.testing.assert_array_equal(table.coarse_mask, [[1, 1, 1], [0, 1, 0], [1, 1, 1], [1, 1, 1]])
    assert table.fine.dtype == table.coarse_mask.dtype == np.float32
    assert tags_of(table, 0) == ["violin", "piano"]


def test_targets_subset_counts_and_summary(tmp_path, hierarchy):
    folder = make_folder(tmp_path, "file,tags\na.wav,violin\nb.wav,violin;flute\nc.wav,\n")
    table = load_tagging_folder(folder, hierarchy)
    assert table.split is None
    targets = table.targets([2, 0])
    assert set(targets) == {"fine", "coarse", "fine_mask", "coarse_mask"}
    np.testing.assert_array_equal(targets["fine"], table.fine[[2, 0]])
    assert targets["coarse"].shape == (2, 3) and targets["fine_mask"].shape == (2, 6)
    assert table.targets()["fine"].shape == (3, 6)
    with pytest.raises(InputError, match="row indices"):
        table.targets([3])
    sub = table.subset([1])
    assert len(sub) == 1 and sub.keys == ["b.wav"] and sub.fine[0, 3] == 1
    counts = table.tag_counts()
    assert counts["fine"]["violin"] == (2, 3) and counts["fine"]["flute"] == (1, 3)
    assert counts["coarse"]["strings"] == (2, 3) and counts["coarse"]["keys"] == (0, 3)
    text = table.summary()
    assert "3 clips" in text and "violin" in text and "strings" in text
    violin_line = next(line for line in text.splitlines() if line.strip().startswith("violin"))
    assert violin_line.split()[1:] == ["2", "3"]


def test_hierarchy_sources(tmp_path):
    folder = make_folder(tmp_path, "file,tags\na.wav,violin\n")
    with pytest.raises(KaudioError, match="hierarchy.yaml"):
        load_tagging_folder(folder)
    (folder / "hierarchy.yaml").write_text("strings: [violin, cello]\nkeys: [piano]\n")
    assert load_tagging_folder(folder).hierarchy.fine_names == ("violin", "cello", "piano")
    (folder / "other.yaml").write_text("strings: [violin]\n")
    assert load_tagging_folder(folder, "other.yaml").hierarchy.n_fine == 1
    assert load_tagging_folder(folder, MAPPING).hierarchy.n_fine == 6
    assert load_tagging_folder(folder, "openmic_tone").hierarchy.n_fine == 20  # bundled name
    with pytest.raises(KaudioError, match="neither a file"):
        load_tagging_folder(folder, "no_such_hierarchy")


def test_every_problem_reported_at_once(tmp_path, hierarchy):
    text = ("file,tags,known,split\n"
            "a.wav,violn,,train\n"            # 2: typo -> did you mean
            "b.wav,strings,,train\n"          # 3: coarse tag used as fine
            "c.wav,violin,flute,train\n"      # 4: positive tag not known
            "a.wav,cello,,train\n"            # 5: duplicate row
            "d.wav,cello,,valid\n"            # 6: bad split
            "e.wav,cello\n"                   # 7: wrong number of fields
            ",cello,,train\n"                 # 8: empty file cell
            "gone.wav,cello,,test\n")         # 9: audio file missing
    folder = make_folder(tmp_path, text, audio=["a.wav", "b.wav", "c.wav", "d.wav", "e.wav"])
    with pytest.raises(LabelsError) as excinfo:
        load_tagging_folder(folder, hierarchy)
    message = str(excinfo.value)
    problems = problems_of(excinfo)
    assert len(problems) == 7, message
    assert "7 problems" in message
    assert "'violn' (did you mean 'violin'?)" in message and "on line 2" in message
    assert "'strings' (a coarse tag" in message and "on line 3" in message
    assert "labels.csv:4: positive tag 'violin' not listed in `known`" in message
    assert "labels.csv:5: duplicate row: file 'a.wav' is also on line 2" in message
    assert "'valid'; did you mean 'val'?" in message and "line 6" in message
    assert "labels.csv:7: 2 fields, the header has 4" in message
    assert "labels.csv:8: empty `file` cell" in message
    assert "1 audio file named in" in message and "gone.wav (line 9)" in message
    assert isinstance(excinfo.value, InputError) and isinstance(excinfo.value, KaudioError)


def test_missing_audio_listed_first_ten_and_counted(tmp_path, hierarchy):
    rows = "".join(f"clip{i:02d}.wav,violin\n" for i in range(13))
    folder = make_folder(tmp_path, "file,tags\n" + rows, audio=["clip00.wav"])
    with pytest.raises(LabelsError) as excinfo:
        load_tagging_folder(folder, hierarchy)
    message = str(excinfo.value)
    assert "12 audio files" in message and "clip01.wav (line 3)" in message and "clip10.wav" in message
    assert "clip11.wav" not in message and "and 2 more" in message


def test_missing_columns(tmp_path, hierarchy):
    folder = make_folder(tmp_path, "path,tag\na.wav,violin\n", audio=[])
    with pytest.raises(LabelsError) as excinfo:
        load_tagging_folder(folder, hierarchy)
    message = str(excinfo.value)
    assert "2 problems" in message and "no `file` column" in message
    assert "no `tags` column; rename column 'tag' to 'tags'?" in message
    folder = make_folder(tmp_path / "x", "file,tags,Split\na.wav,violin,train\n")
    with pytest.raises(LabelsError, match="column 'Split' is not a labels.csv column; did you mean 'split'"):
        load_tagging_folder(folder, hierarchy)
    folder = make_folder(tmp_path / "y", "file,tags,file\na.wav,violin,a.wav\n", audio=["a.wav"])
    with pytest.raises(LabelsError, match="column 'file' appears twice"):
        load_tagging_folder(folder, hierarchy)


def test_extra_columns_ignored_and_lenient_formatting(tmp_path, hierarchy):
    text = "\ufefffile,tags,duration\n\na.wav,\"violin; piano;\",3.5\n\nb\\c.wav,,1\n"
    folder = make_folder(tmp_path, text, audio=["a.wav", "b/c.wav"])
    table = load_tagging_folder(folder, hierarchy)
    assert len(table) == 2 and tags_of(table, 0) == ["violin", "piano"]
    assert table.files[1] == folder / "b" / "c.wav"


def test_empty_and_missing_files(tmp_path, hierarchy):
    with pytest.raises(InputError, match="dataset folder not found"):
        load_tagging_folder(tmp_path / "nope", hierarchy)
    (tmp_path / "other.csv").write_text("x\n")
    with pytest.raises(InputError, match="no labels.csv.*other.csv"):
        load_tagging_folder(tmp_path, hierarchy)
    (tmp_path / "labels.csv").write_text("")
    with pytest.raises(LabelsError, match="the file is empty"):
        load_tagging_folder(tmp_path, hierarchy)
    (tmp_path / "labels.csv").write_text("file,tags\n")
    with pytest.raises(LabelsError, match="no data rows"):
        load_tagging_folder(tmp_path, hierarchy)
    (tmp_path / "labels.csv").write_bytes("file,tags\na.wav,caf\xe9\n".encode("latin-1"))
    with pytest.raises(LabelsError, match="not UTF-8"):
        load_tagging_folder(tmp_path, hierarchy)


def test_mask_csv(tmp_path, hierarchy):
    mask = ("file,violin,cello,guitar,flute,clarinet,piano\n"
            "a.wav,1,1,1,0,0,1\n"
            "b.wav,1,1,1,1,1,1\n")
    folder = make_folder(tmp_path, "file,tags\na.wav,violin\nb.wav,\n", mask_text=mask)
    table = load_tagging_folder(folder, hierarchy)
    np.testing.assert_array_equal(table.fine_mask, [[1, 1, 1, 0, 0, 1], [1] * 6])
    np.testing.assert_array_equal(table.coarse_mask, [[1, 0, 1], [1, 1, 1]])


def test_mask_csv_problems(tmp_path, hierarchy):
    mask = ("file,violin,cello,guitar,flute,clarnet\n"     # piano missing, clarinet misspelt
            "a.wav,1,1,1,2,0\n"                             # bad value
            "z.wav,1,1,1,1,1\n")                            # not in labels.csv; b.wav has no row
    folder = make_folder(tmp_path, "file,tags\na.wav,violin\nb.wav,\n", mask_text=mask)
    with pytest.raises(LabelsError) as excinfo:
        load_tagging_folder(folder, hierarchy)
    message = str(excinfo.value)
    assert "'clarnet' (did you mean 'clarinet'?)" in message
    assert "no column for fine tags clarinet, piano" in message
    assert "line 2 column 'flute': '2'" in message
    assert "1 file not in labels.csv: z.wav" in message
    assert "no mask row for 1 file of labels.csv: b.wav" in message

    mask = "file,violin,cello,guitar,flute,clarinet,piano\na.wav,0,1,1,1,1,1\n"
    folder = make_folder(tmp_path / "p", "file,tags\na.wav,violin\n", mask_text=mask)
    with pytest.raises(LabelsError, match="positive tag masked as unknown.*line 2: 'violin'"):
        load_tagging_folder(folder, hierarchy)


def test_known_column_and_mask_csv_together_rejected(tmp_path, hierarchy):
    mask = "file,violin,cello,guitar,flute,clarinet,piano\na.wav,1,1,1,1,1,1\n"
    folder = make_folder(tmp_path, "file,tags,known\na.wav,violin,\n", mask_text=mask)
    with pytest.raises(LabelsError, match="both a `known` column in labels.csv and a mask.csv"):
        load_tagging_folder(folder, hierarchy)


def test_table_shape_checks(hierarchy):
    with pytest.raises(InputError, match="fine has shape"):
        TaggingTable(["a"], np.zeros((1, 5)), np.ones((1, 6)), np.zeros((1, 3)), np.ones((1, 3)), None, hierarchy)
    with pytest.raises(InputError, match="split has 2 entries"):
        TaggingTable.from_fine(["a"], np.zeros((1, 6)), np.ones((1, 6)), hierarchy, split=["train", "val"])
    with pytest.raises(InputError, match=r"fine_mask has shape \(1, 5\), expected \(1, 6\)"):
        TaggingTable.from_fine(["a"], np.zeros((1, 6)), np.ones((1, 5)), hierarchy)
