"""examples/hierarchical_instruments/render_dataset.py: clip plans, labels, splits, MIDI and rendering.

The plan/label/split tests are pure Python and run everywhere; writing MIDI needs ``mido`` and the
rendering test needs the ``fluidsynth`` command and a General MIDI soundfont (skipped without them,
as in CI).
"""
import csv
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from tests.examples import load_example

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hierarchical_instruments"


rd = load_example("hierarchical_instruments", "render_dataset", "render_dataset")
_MIN, _MAX = rd._MIN_TEMPO, rd._MAX_TEMPO


@pytest.fixture(scope="module")
def hierarchy():
    return rd.load_hierarchy(EXAMPLE / "hierarchy.yaml")


def test_example_hierarchy_uses_gm_families(hierarchy):
    assert hierarchy.n_coarse >= 5 and 12 <= hierarchy.n_fine <= 16
    children = np.asarray(hierarchy.membership).sum(axis=0)
    assert (children >= 2).sum() >= hierarchy.n_coarse - 1  # most families have two instruments or more
    for name in hierarchy.fine_names:  # GM families are blocks of 8 programs
        family = rd.INSTRUMENTS[name].program // 8
        siblings = [f for f in hierarchy.fine_names
                    if hierarchy.parent_of[hierarchy.fine_names.index(f)]
                    == hierarchy.parent_of[hierarchy.fine_names.index(name)]]
        assert {rd.INSTRUMENTS[f].program // 8 for f in siblings} == {family}, name


def test_plans_have_one_to_four_distinct_playing_instruments(hierarchy):
    names = list(hierarchy.fine_names)
    duration = 4.0
    plans = rd.plan_dataset(300, seed=5, instruments=names, duration=duration)
    counts = [len(p.parts) for p in plans]
    assert set(counts) == {1, 2, 3, 4}
    seen = set()
    for plan in plans:
        assert len(set(plan.instruments)) == len(plan.instruments)
        assert _MIN <= plan.tempo <= _MAX
        assert 9 not in [part.channel for part in plan.parts]  # never the GM drum channel
        for part in plan.parts:
            inst = rd.INSTRUMENTS[part.instrument]
            assert part.program == inst.program
            assert part.notes, f"clip {plan.index}: {part.instrument} plays no note"
            assert part.notes[0].start <= 0.6  # each instrument is heard from the start of the clip
            for note in part.notes:
                assert inst.low <= note.pitch <= inst.high
                assert 1 <= note.velocity <= 127
                assert 0 <= note.start and note.duration > 0
                assert note.start + note.duration <= duration - rd._TAIL_S + 1e-6
        seen.update(plan.instruments)
    assert seen == set(names)


def test_plans_are_deterministic_per_seed_and_index(hierarchy):
    names = list(hierarchy.fine_names)
    first = rd.plan_dataset(20, seed=3, instruments=names, duration=2.0)
    assert first == rd.plan_dataset(20, seed=3, instruments=names, duration=2.0)
    assert first[:7] == rd.plan_dataset(7, seed=3, instruments=names, duration=2.0)  # independent of --clips
    other = rd.plan_dataset(20, seed=4, instruments=names, duration=2.0)
    assert [p.instruments for p in first] != [p.instruments for p in other]


def test_max_instruments_and_small_hierarchies():
    plans = rd.plan_dataset(50, seed=0, instruments=["violin", "cello"], duration=1.0, max_instruments=4)
    assert {len(p.parts) for p in plans} == {1, 2}
    plans = rd.plan_dataset(50, seed=0, instruments=list(rd.INSTRUMENTS), duration=1.0, max_instruments=1)
    assert {len(p.parts) for p in plans} == {1}
    plans = rd.plan_dataset(30, seed=0, instruments=list(rd.INSTRUMENTS), duration=1.0, max_instruments=12)
    channels = {part.channel for p in plans for part in p.parts}
    assert 9 not in channels and max(channels) >= 10  # the GM drum channel is skipped


def test_label_rows_match_the_plans(hierarchy):
    names = list(hierarchy.fine_names)
    plans = rd.plan_dataset(40, seed=1, instruments=names, duration=1.0)
    splits = rd.assign_splits(40, seed=1, val_fraction=0.0, test_fraction=0.25)
    rows = rd.label_rows(plans, splits, names)
    assert [r["file"] for r in rows] == [f"audio/clip_{i:05d}.wav" for i in range(40)]
    for row, plan in zip(rows, plans):
        tags = row["tags"].split(";")
        assert set(tags) == set(plan.instruments)
        assert tags == sorted(tags, key=names.index)  # hierarchy order
    fine, coarse = rd.tag_counts(plans, hierarchy)
    assert sum(fine.values()) == sum(len(p.parts) for p in plans)
    for c, group in enumerate(hierarchy.coarse_names):
        members = {f for i, f in enumerate(names) if hierarchy.parent_of[i] == c}
        assert coarse[group] == sum(bool(members & set(p.instruments)) for p in plans)


def test_splits_are_seeded_shuffles():
    splits = rd.assign_splits(100, seed=0, val_fraction=0.1, test_fraction=0.2)
    assert (splits.count("train"), splits.count("val"), splits.count("test")) == (70, 10, 20)
    assert splits == rd.assign_splits(100, seed=0, val_fraction=0.1, test_fraction=0.2)
    assert splits != rd.assign_splits(100, seed=1, val_fraction=0.1, test_fraction=0.2)
    assert "val" not in rd.assign_splits(100, seed=0, val_fraction=0.0, test_fraction=0.15)
    with pytest.raises(rd.RenderError, match="sum to less than 1"):
        rd.assign_splits(10, seed=0, val_fraction=0.5, test_fraction=0.5)


def test_unknown_instruments_and_missing_tools_fail_clearly(tmp_path, monkeypatch):
    path = tmp_path / "h.yaml"
    path.write_text("pipe: [flute, kazoo]\nstrings: [violin]\n")
    with pytest.raises(rd.RenderError, match="flute, kazoo"):
        rd.load_hierarchy(path)
    monkeypatch.setattr(rd.shutil, "which", lambda name: None)
    with pytest.raises(rd.RenderError, match="apt-get install fluidsynth fluid-soundfont-gm"):
        rd.find_fluidsynth()
    with pytest.raises(rd.RenderError, match="no such file"):
        rd.find_soundfont(str(tmp_path / "missing.sf2"))
    monkeypatch.setattr(rd, "SOUNDFONT_CANDIDATES", (str(tmp_path / "none.sf2"),))
    with pytest.raises(rd.RenderError, match="--soundfont"):
        rd.find_soundfont(None)


def test_bad_arguments_are_reported_before_any_work(tmp_path):
    with pytest.raises(rd.RenderError, match="--clips"):
        rd.render_dataset(tmp_path / "d", clips=0, seed=0)
    with pytest.raises(rd.RenderError, match="--sample-rate"):
        rd.render_dataset(tmp_path / "d", clips=1, seed=0, sample_rate=100)
    assert not (tmp_path / "d").exists()


def test_midi_file_holds_the_plan(tmp_path, hierarchy):
    mido = pytest.importorskip("mido")
    plan = next(p for p in rd.plan_dataset(10, seed=2, instruments=list(hierarchy.fine_names), duration=2.0)
                if len(p.parts) >= 2)
    rd.write_midi(plan, tmp_path / "clip.mid", 2.0)
    midi = mido.MidiFile(tmp_path / "clip.mid")
    assert len(midi.tracks) == 1 + len(plan.parts)
    assert midi.length == pytest.approx(2.3, abs=0.01)  # the clip plus a margin for release tails
    for track, part in zip(midi.tracks[1:], plan.parts):
        messages = [m for m in track if not m.is_meta]
        assert [m.program for m in messages if m.type == "program_change"] == [part.program]
        ons = [m for m in messages if m.type == "note_on" and m.velocity > 0]
        assert [m.note for m in ons] == [n.pitch for n in part.notes]
        assert {m.channel for m in messages} == {part.channel}


def _render_tools_or_skip():
    pytest.importorskip("mido")
    pytest.importorskip("soundfile")
    if shutil.which("fluidsynth") is None:
        pytest.skip("the fluidsynth command is not installed")
    if not any(Path(p).is_file() for p in rd.SOUNDFONT_CANDIDATES):
        pytest.skip("no General MIDI soundfont installed")


def test_render_tiny_dataset(tmp_path, hierarchy):
    _render_tools_or_skip()
    import soundfile as sf

    out = tmp_path / "data"
    summary = rd.render_dataset(out, clips=3, seed=1, sample_rate=16000, duration=1.0, jobs=2, test_fraction=0.34)
    with open(out / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["file"] for r in rows] == [f"audio/clip_{i:05d}.wav" for i in range(3)]
    assert sorted(r["split"] for r in rows) == ["test", "train", "train"]
    plans = rd.plan_dataset(3, seed=1, instruments=list(hierarchy.fine_names), duration=1.0)
    assert [set(r["tags"].split(";")) for r in rows] == [set(p.instruments) for p in plans]
    assert (out / "hierarchy.yaml").read_text() == (EXAMPLE / "hierarchy.yaml").read_text()
    assert summary["clips"] == 3 and sum(summary["instruments_per_clip"].values()) == 3
    for row, plan in zip(rows, plans):
        audio, rate = sf.read(out / row["file"], dtype="float32")
        assert rate == 16000 and audio.shape == (16000,)  # mono, exactly 1 s
        rms_db = 20 * np.log10(np.sqrt(np.mean(audio ** 2)))
        # normalised to the plan's level (lower only where the peak limiter acted); never silent
        assert plan.level_dbfs - 12 < rms_db < plan.level_dbfs + 0.1
    from kaudio.data import load_tagging_folder

    table = load_tagging_folder(out)
    assert len(table) == 3 and table.fine.sum() == sum(len(p.parts) for p in plans)
    with pytest.raises(rd.RenderError, match="--overwrite"):
        rd.render_dataset(out, clips=3, seed=1, duration=1.0)


def test_a_failing_clip_stops_the_render_without_labels(tmp_path, monkeypatch):
    calls = []

    def render_clip(plan, out_path, **kwargs):
        calls.append(plan.index)
        if plan.index == 2:
            raise rd.RenderError("fluidsynth failed on clip 2 (exit 1): boom")
        time.sleep(0.02)  # a render takes time: the failure is seen long before the queue is through
        return 0.1

    monkeypatch.setattr(rd, "find_fluidsynth", lambda: "fluidsynth")
    monkeypatch.setattr(rd, "find_soundfont", lambda explicit=None: Path("gm.sf2"))
    monkeypatch.setattr(rd, "render_clip", render_clip)
    with pytest.raises(rd.RenderError, match="clip 2"):
        rd.render_dataset(tmp_path / "d", clips=200, seed=0, duration=1.0, jobs=1)
    assert len(calls) < 50  # the remaining clips were cancelled
    assert not (tmp_path / "d" / "labels.csv").exists()
