"""kaudio.data.events: events.csv (file,onset,offset,class) validated against labels.csv."""
import numpy as np
import pytest
import soundfile as sf

from kaudio.data import Event, LabelsError, load_events
from kaudio.errors import InputError

LABELS = """file,tags,split,fold,snr
a.wav,dog;bell,train,1,0
b.wav,dog,val,2,20
c.wav,,test,3,10
"""
EVENTS = """file,onset,offset,class
a.wav,0.5,1.5,dog
a.wav,0.1,0.4,bell
b.wav,2.0,3.0,dog
a.wav,3.0,3.25,dog
"""


def make_folder(root, labels=LABELS, events=EVENTS, seconds=4.0, rate=1000):
    root.mkdir(parents=True, exist_ok=True)
    (root / "labels.csv").write_text(labels, encoding="utf-8")
    (root / "events.csv").write_text(events, encoding="utf-8")
    for name in ("a.wav", "b.wav", "c.wav"):
        sf.write(root / name, np.zeros(int(seconds * rate), np.float32), rate)
    return root


def test_reads_events_per_file(tmp_path):
    table = load_events(make_folder(tmp_path))
    assert table.files == ["a.wav", "b.wav", "c.wav"] and table.classes == ("bell", "dog")
    assert table.events["a.wav"] == [Event(0.1, 0.4, "bell"), Event(0.5, 1.5, "dog"), Event(3.0, 3.25, "dog")]
    assert table.events["c.wav"] == [] and table.durations == {"a.wav": 4.0, "b.wav": 4.0, "c.wav": 4.0}
    np.testing.assert_array_equal(table.weak_labels(), [[1, 1], [0, 1], [0, 0]])
    assert table.column("snr") == ["0", "20", "10"]
    onset, offset, label = table.events["b.wav"][0]  # plain (onset, offset, class) tuples
    assert (onset, offset, label) == (2.0, 3.0, "dog")
    # a class list from the model: its order, extra classes allowed
    table = load_events(tmp_path, classes=["dog", "bell", "cat"], durations=10.0)
    assert table.classes == ("dog", "bell", "cat") and table.durations["b.wav"] == 10.0
    np.testing.assert_array_equal(table.weak_labels(["b.wav"]), [[1, 0, 0]])


def test_every_problem_is_listed_with_its_line(tmp_path):
    events = """file,onset,offset,class
a.wav,1.5,0.5,dog
a.wav,-0.5,1.0,dog
a.wav,3.5,4.5,dog
a.wav,0.1,0.4,bel
d.wav,0.0,1.0,dog
b.wav,0.0,1.0,bell
a.wav,abc,1.0,dog
a.wav,,1.0,dog
a.wav,1.0
"""
    with pytest.raises(LabelsError) as excinfo:
        load_events(make_folder(tmp_path, events=events))
    problems = excinfo.value.problems
    text = "\n".join(problems)
    assert "events.csv:2: the onset 1.5 s is not before the offset 0.5 s" in text
    assert "events.csv:3: negative time (onset -0.5, offset 1)" in text
    assert "events.csv:4: the event ends at 4.5 s, after the end of a.wav (4 s)" in text
    assert "class not in the class list (bell, dog): 'bel' on line 5; did you mean 'bell'?" in text
    assert "1 file(s) not in labels.csv: 'd.wav' on line 6" in text
    assert "events.csv:7: class 'bell' is not a tag of b.wav in labels.csv (its tags: dog)" in text
    assert "events.csv:8: onset 'abc' is not a number of seconds" in text
    assert "events.csv:9: empty 'onset' cell" in text
    assert "events.csv:10: 2 fields, the header has 4" in text
    assert ("2 tag(s) of labels.csv without any event (the weak and strong labels disagree): "
            "a.wav (bell), b.wav (dog)") in text
    assert len(problems) == 10


def test_classes_outside_a_given_class_list(tmp_path):
    with pytest.raises(LabelsError) as excinfo:
        load_events(make_folder(tmp_path), classes=["dog"])
    text = str(excinfo.value)
    assert "labels.csv: tag not in the class list: bell (classes: dog)" in text
    assert "class not in the class list (dog): 'bell' on line 3" in text


def test_missing_columns_files_and_audio(tmp_path):
    with pytest.raises(LabelsError, match=r"no 'offset', 'class' columns \(header: file, onset, end, label"):
        load_events(make_folder(tmp_path / "a", events="file,onset,end,label\na.wav,0,1,dog\n"))
    folder = make_folder(tmp_path / "b")
    (folder / "b.wav").unlink()
    with pytest.raises(LabelsError, match=r"1 audio file\(s\) of .*labels.csv missing or unreadable.*: b.wav"):
        load_events(folder)
    assert load_events(folder, durations={"a.wav": 4, "b.wav": 4, "c.wav": 4}).durations["b.wav"] == 4.0
    with pytest.raises(InputError, match=r"durations has no value for 1 file\(s\): c.wav"):
        load_events(folder, durations={"a.wav": 4, "b.wav": 4})
    (folder / "events.csv").unlink()
    with pytest.raises(InputError, match=r"no events.csv \(columns file,onset,offset,class\)"):
        load_events(folder)
    with pytest.raises(InputError, match="dataset folder not found"):
        load_events(tmp_path / "nowhere")
