"""kaudio.data.mixing: weakly labelled SED sets mixed from event sounds and backgrounds (2APAE / Kong et al. recipe).

Every input is a 1-s or shorter synthetic sound (sines at several sample rates, noise backgrounds),
and the clips are 2 s at 8 kHz, so a set of ten clips takes milliseconds.
"""
import contextlib
import io
import os
import re

import numpy as np
import pytest
import soundfile as sf

from kaudio.data import load_events, load_tagging_folder, mix_folder
from kaudio.data.mixing import (AUDIO_EXTENSIONS, PEAK, MixInterrupted, Mixer, MixSettings, scan_sources,
                                write_atomic, write_wav_atomic)
from kaudio.errors import InputError, KaudioError, KaudioWarning
from kaudio.hierarchy import ClassList

CLASSES = {"bell": 880.0, "dog": 440.0, "horn": 330.0, "siren": 660.0}
RATES = (8000, 16000, 22050, 44100)
SMALL = MixSettings(clip_seconds=2.0, sample_rate=8000, events_per_clip=2, max_event_seconds=0.5)
DEAD_PID = 2**31 - 2  # above any pid_max: no such process


def make_sources(root, files_per_class=4, backgrounds=4, background_seconds=3.0, classes=CLASSES):
    """``root/events/<class>/<n>.wav`` (sines of 0.3–1 s at four sample rates) and ``root/backgrounds``
    (white noise, FLAC). Returns ``(events_dir, backgrounds_dir)``."""
    rng = np.random.default_rng(7)
    events, backgrounds_dir = root / "events", root / "backgrounds"
    for name, frequency in classes.items():
        (events / name).mkdir(parents=True, exist_ok=True)
        for j in range(files_per_class):
            rate = RATES[j % len(RATES)]
            t = np.arange(int(rate * (0.3 + 0.7 * j / max(files_per_class - 1, 1)))) / rate
            tone = 0.5 * np.sin(2 * np.pi * frequency * (1 + 0.05 * j) * t) * np.hanning(len(t)) ** 0.1
            sf.write(events / name / f"{name}{j}.wav", tone.astype(np.float32), rate)
    backgrounds_dir.mkdir(parents=True, exist_ok=True)
    for j in range(backgrounds):
        rate = RATES[(j + 1) % len(RATES)]
        noise = 0.05 * rng.standard_normal(int(rate * background_seconds))
        sf.write(backgrounds_dir / f"scene{j}.flac", noise.astype(np.float32), rate)
    return events, backgrounds_dir


@pytest.fixture
def sources(tmp_path):
    return make_sources(tmp_path)


def rows(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split(",") for line in lines[1:]]


def rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_clip_i_is_the_same_whatever_the_number_of_clips(sources, tmp_path):
    mix_folder(*sources, tmp_path / "five", 5, SMALL, progress=False)
    mix_folder(*sources, tmp_path / "ten", 10, SMALL, progress=False)
    for i in range(5):
        name = f"audio/{i:05d}.wav"
        assert (tmp_path / "five" / name).read_bytes() == (tmp_path / "ten" / name).read_bytes()
    assert rows(tmp_path / "ten" / "labels.csv")[:5] == rows(tmp_path / "five" / "labels.csv")
    events_ten = [r for r in rows(tmp_path / "ten" / "events.csv") if r[0] < "audio/00005.wav"]
    assert events_ten == rows(tmp_path / "five" / "events.csv")
    # another seed gives other clips
    mix_folder(*sources, tmp_path / "other", 5, MixSettings(**{**SMALL.record(), "seed": 1}), progress=False)
    assert (tmp_path / "other" / "audio/00003.wav").read_bytes() != (tmp_path / "five" / "audio/00003.wav").read_bytes()


def test_snr_is_measured_back_from_the_stems(sources, tmp_path):
    settings = MixSettings(**{**SMALL.record(), "snrs": (-5.0, 0.0, 10.0, 20.0)})
    out = tmp_path / "out"
    mix_folder(*sources, out, 12, settings, progress=False)
    snr_of = {r[0]: float(r[4]) for r in rows(out / "labels.csv")}
    assert len(set(snr_of.values())) >= 3  # several SNRs, -5 dB included or not
    measured = 0
    for name, onset, offset, _ in rows(out / "events.csv"):
        audio, rate = sf.read(out / name)
        assert audio.shape == (16000, 2) and rate == 8000
        start, stop = round(float(onset) * rate), round(float(offset) * rate)
        # SNR = RMS of the event over its span (channel 0) vs RMS of the background over the clip (channel 1)
        snr = 20 * np.log10(rms(audio[start:stop, 0]) / rms(audio[:, 1]))
        assert snr == pytest.approx(snr_of[name], abs=0.05)
        measured += 1
    assert measured == 24
    # the events channel is silent outside the events; the loudest sample is at PEAK
    for name, _, _, _, _ in rows(out / "labels.csv"):
        audio, _ = sf.read(out / name)
        assert np.max(np.abs(audio)) == pytest.approx(PEAK, abs=1e-4)
        spans = [(round(float(a) * 8000), round(float(b) * 8000))
                 for n, a, b, _ in rows(out / "events.csv") if n == name]
        outside = np.ones(len(audio), bool)
        for start, stop in spans:
            outside[start:stop] = False
        assert np.all(audio[outside, 0] == 0)


def test_labels_and_events_agree_and_load(sources, tmp_path):
    out = tmp_path / "out"
    report = mix_folder(*sources, out, 8, SMALL, val_fold=2, test_fold=3, progress=False)
    assert (report.made, report.kept, report.failed) == (8, 0, [])
    labels = rows(out / "labels.csv")
    assert (out / "labels.csv").read_text().splitlines()[0] == "file,tags,split,fold,snr"
    assert (out / "events.csv").read_text().splitlines()[0] == "file,onset,offset,class"
    for i, (name, tags, split, fold, snr) in enumerate(labels):
        assert name == f"audio/{i:05d}.wav" and int(fold) == i % 4 + 1
        assert split == {2: "val", 3: "test"}.get(int(fold), "train")
        assert snr in ("0", "10", "20")
        events = [r for r in rows(out / "events.csv") if r[0] == name]
        assert len(events) == 2 and sorted(r[3] for r in events) == tags.split(";")  # distinct classes
        spans = sorted((float(a), float(b)) for _, a, b, _ in events)
        assert all(0 <= a < b <= 2.0 and b - a <= 0.5 + 1e-9 for a, b in spans)
        assert spans[0][1] <= spans[1][0]  # no overlap by default
    table = load_tagging_folder(out, ClassList(sorted(CLASSES)))  # the folder kaudio train reads
    assert len(table) == 8 and table.split.count("val") == 2 and table.split.count("test") == 2
    strong = load_events(out)
    assert strong.classes == tuple(sorted(CLASSES)) and strong.durations[labels[0][0]] == 2.0
    np.testing.assert_array_equal(strong.weak_labels(), table.fine)


def test_folds_do_not_share_event_or_background_files(sources):
    mixer = Mixer(scan_sources(*sources, SMALL), SMALL)
    used = {}
    for i in range(40):
        plan = mixer.plan(i)
        for item in (*[e.source.key for e in plan.events], "bg:" + plan.background.key):
            used.setdefault(item, set()).add(plan.fold)
    assert all(len(folds) == 1 for folds in used.values())


def test_overlap_mono_and_short_backgrounds_are_looped(tmp_path):
    events, backgrounds = make_sources(tmp_path, background_seconds=0.7)
    settings = MixSettings(**{**SMALL.record(), "overlap": True, "mono": True, "events_per_clip": 4, "folds": 1})
    with pytest.warns(KaudioWarning, match=r"4 background\(s\) shorter than the clip \(2 s\) are looped"):
        report = mix_folder(events, backgrounds, tmp_path / "out", 6, settings, progress=False)
    assert report.made == 6
    audio, rate = sf.read(tmp_path / "out" / "audio/00000.wav")
    assert audio.shape == (16000,) and rate == 8000
    assert all(len(r[1].split(";")) == 4 for r in rows(tmp_path / "out" / "labels.csv"))


def test_resume_after_an_interruption_gives_the_same_files(sources, tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    mix_folder(*sources, reference, 6, SMALL, progress=False)

    out = tmp_path / "out"
    render, calls = Mixer.render, []

    def interrupted(self, plan):
        calls.append(plan.index)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return render(self, plan)

    monkeypatch.setattr(Mixer, "render", interrupted)
    with pytest.raises(MixInterrupted) as excinfo:
        mix_folder(*sources, out, 6, SMALL, progress=False)
    assert (excinfo.value.done, excinfo.value.total) == (2, 6)
    assert sorted(p.name for p in (out / "audio").iterdir()) == ["00000.wav", "00001.wav"]  # nothing partial
    monkeypatch.setattr(Mixer, "render", render)

    # a killed run also leaves a temporary file, and a clip disappears
    stale = out / "audio" / f".00004.wav.{DEAD_PID}-0123456789ab.tmp"
    stale.write_bytes(b"half a clip")
    (out / "audio" / "00001.wav").unlink()
    report = mix_folder(*sources, out, 6, SMALL, progress=False)
    assert (report.made, report.kept, report.removed_temporaries) == (5, 1, 1)
    assert not stale.exists()
    for name in ("labels.csv", "events.csv", "mix_settings.json", *[f"audio/{i:05d}.wav" for i in range(6)]):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    # a third run keeps everything
    assert mix_folder(*sources, out, 6, SMALL, progress=False).kept == 6


def test_atomic_write_leaves_nothing_on_an_error(tmp_path):
    def half_then_ctrl_c(handle):
        handle.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "x.wav", half_then_ctrl_c)
    assert list(tmp_path.iterdir()) == []
    write_wav_atomic(tmp_path / "x.wav", np.zeros((10, 2), np.float32), 8000)
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]


def test_other_settings_or_inputs_are_refused_unless_overwrite(sources, tmp_path):
    out = tmp_path / "out"
    mix_folder(*sources, out, 3, SMALL, progress=False)
    louder = MixSettings(**{**SMALL.record(), "snrs": (5.0,), "seed": 3})
    with pytest.raises(KaudioError, match=r"--snr: 0 10 20 there, 5 now; --seed: 0 there, 3 now.*--overwrite"):
        mix_folder(*sources, out, 3, louder, progress=False)
    report = mix_folder(*sources, out, 3, louder, overwrite=True, progress=False)
    assert report.made == 3 and {r[4] for r in rows(out / "labels.csv")} == {"5"}
    # the split folds only change the csv files: no mismatch
    assert mix_folder(*sources, out, 3, louder, val_fold=1, progress=False).kept == 3
    # changed inputs
    sf.write(sources[0] / "dog" / "extra.wav", np.full(800, 0.1, np.float32), 8000)
    with pytest.raises(KaudioError, match=r"the event files changed \(16 file\(s\) then, 17 now"):
        mix_folder(*sources, out, 3, louder, progress=False)


def test_clips_without_a_settings_file_are_refused(sources, tmp_path):
    out = tmp_path / "out"
    (out / "audio").mkdir(parents=True)
    sf.write(out / "audio" / "00000.wav", np.zeros(16000, np.float32), 8000)
    with pytest.raises(KaudioError, match="has no mix_settings.json"):
        mix_folder(*sources, out, 2, SMALL, progress=False)


def test_a_corrupt_event_file_is_skipped_with_a_warning(sources, tmp_path):
    bad = sources[0] / "dog" / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    truncated = sources[1] / "cut.wav"
    sf.write(truncated, np.zeros(24000, np.float32), 8000)
    truncated.write_bytes(truncated.read_bytes()[:2000])
    with pytest.warns(KaudioWarning) as caught:
        report = mix_folder(*sources, tmp_path / "out", 4, SMALL, progress=False)
    messages = [str(w.message) for w in caught]
    assert any("broken.wav: cannot decode audio" in m and m.endswith("skipped") for m in messages)
    assert any("cut.wav: truncated" in m for m in messages)
    assert len(report.skipped_files) == 2 and report.made == 4
    assert "skipped 2 unreadable input file(s)" in report.summary(4)


@pytest.mark.parametrize("case, message", [
    ("empty class", r"events/horn: no audio files .* in this class folder"),
    ("no classes", r"events: no class folders; put the event sounds of each class in a folder"),
    ("all corrupt", r"events/horn: none of its 1 audio file\(s\) could be read"),
    ("no backgrounds", r"backgrounds: no audio files"),
    ("few classes", r"4 class\(es\) \(bell, dog, horn, siren\) for 5 events per clip"),
    ("missing", r"nowhere: event folder not found"),
])
def test_bad_inputs_are_named(tmp_path, case, message):
    events, backgrounds = make_sources(tmp_path, files_per_class=1, backgrounds=1)
    settings = SMALL
    if case == "empty class":
        (events / "horn" / "horn0.wav").unlink()
    elif case == "no classes":
        for folder in list(events.iterdir()):
            for f in folder.iterdir():
                f.rename(events / f.name)
            folder.rmdir()
    elif case == "all corrupt":
        (events / "horn" / "horn0.wav").write_bytes(b"not audio")
    elif case == "no backgrounds":
        for f in backgrounds.iterdir():
            f.unlink()
    elif case == "few classes":
        settings = MixSettings(**{**SMALL.record(), "events_per_clip": 5, "overlap": True})
    elif case == "missing":
        events = tmp_path / "nowhere"
    warned = pytest.warns(KaudioWarning, match="horn0.wav: cannot decode audio") if case == "all corrupt" \
        else contextlib.nullcontext()
    with warned, pytest.raises(InputError, match=message):
        mix_folder(events, backgrounds, tmp_path / "out", 2, settings, progress=False)
    assert not (tmp_path / "out" / "audio").exists()  # nothing is written before the inputs are checked


def test_bad_settings_are_listed():
    with pytest.raises(InputError) as excinfo:
        MixSettings(clip_seconds=1.0, events_per_clip=3, max_event_seconds=0.5, seed=-1, subtype="MP3").check()
    text = str(excinfo.value)
    assert "3 non-overlapping events of up to 0.5 s do not fit into 1 s" in text
    assert "--seed must be an integer >= 0" in text and "--subtype 'MP3' is not a WAV sample format" in text
    with pytest.raises(InputError, match=r"--snr values must be finite"):
        MixSettings(snrs=(float("nan"),)).check()


def test_a_silent_event_file_fails_its_clips_only(tmp_path):
    events, backgrounds = make_sources(tmp_path, files_per_class=1, backgrounds=1)
    sf.write(events / "horn" / "horn0.wav", np.zeros(4000, np.float32), 8000)
    settings = MixSettings(**{**SMALL.record(), "folds": 1})
    report = mix_folder(events, backgrounds, tmp_path / "out", 6, settings, progress=False)
    assert report.failed and all(re.search(r"horn0.wav: the first 0.5 s of this event file are silent", f)
                                 for f in report.failed)
    listed = {r[0] for r in rows(tmp_path / "out" / "labels.csv")}
    assert len(listed) == report.made == 6 - len(report.failed)  # the csv files list only clips that exist
    assert all("horn" not in r[1] for r in rows(tmp_path / "out" / "labels.csv"))


def test_audio_extensions_match_the_embedding_ones():
    from kaudio.embedding.audio_files import AUDIO_EXTENSIONS as EMBEDDING

    assert AUDIO_EXTENSIONS == EMBEDDING


def test_progress_goes_to_the_stream(sources, tmp_path):
    stream = io.StringIO()
    mix_folder(*sources, tmp_path / "out", 3, SMALL, stream=stream)
    assert "mixing: 3/3 clips (100%)" in stream.getvalue()
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path / "out" / "audio"))
