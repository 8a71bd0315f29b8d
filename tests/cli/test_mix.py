"""kaudio mix: the command line around kaudio.data.mixing (messages, exit statuses, resume)."""
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from kaudio.cli.main import main
from kaudio.data.mixing import Mixer
from tests.data.test_mixing import make_sources

SMALL = ["--clip-seconds", "2", "--sample-rate", "8000", "--events-per-clip", "2", "--max-event-seconds", "0.5",
         "--quiet"]


def mix(events, backgrounds, out, *extra):
    return main(["mix", str(events), str(backgrounds), "--out", str(out), *SMALL, *extra])


def test_mixes_a_set_and_resumes(tmp_path, capsys):
    events, backgrounds = make_sources(tmp_path)
    out = tmp_path / "out"
    assert mix(events, backgrounds, out, "--clips", "4", "--val-fold", "4") == 0
    text = capsys.readouterr().out
    assert "made 4 clip(s), kept 0 existing of 4; failed 0; skipped 0 unreadable input file(s)" in text
    assert f"wrote {out / 'labels.csv'} and {out / 'events.csv'}" in text
    assert sorted(p.name for p in (out / "audio").iterdir()) == [f"{i:05d}.wav" for i in range(4)]
    assert (out / "labels.csv").read_text().splitlines()[4].split(",")[2] == "val"
    # more clips later: the first four are kept
    assert mix(events, backgrounds, out, "--clips", "6", "--val-fold", "4") == 0
    assert "made 2 clip(s), kept 4 existing of 6" in capsys.readouterr().out
    assert len((out / "labels.csv").read_text().splitlines()) == 7


def test_snr_that_is_not_a_number_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as excinfo:
        mix(tmp_path, tmp_path, tmp_path / "out", "--snr", "0", "ten")
    assert excinfo.value.code == 2
    assert "argument --snr: 'ten' is not a number of decibels" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mix(tmp_path, tmp_path, tmp_path / "out", "--snr", "inf")
    assert "'inf' is not a finite number of decibels" in capsys.readouterr().err


def test_negative_snrs_are_values(tmp_path, capsys):
    events, backgrounds = make_sources(tmp_path)
    assert mix(events, backgrounds, tmp_path / "out", "--clips", "2", "--snr", "-5", "-10") == 0
    labels = (tmp_path / "out" / "labels.csv").read_text().splitlines()[1:]
    assert {line.split(",")[4] for line in labels} <= {"-5", "-10"}


def test_bad_inputs_print_one_line_and_exit_2(tmp_path, capsys):
    events, backgrounds = make_sources(tmp_path, files_per_class=1, backgrounds=1)
    assert mix(events, backgrounds, tmp_path / "out", "--events-per-clip", "5", "--allow-overlap") == 2
    err = capsys.readouterr().err
    assert "kaudio mix: error: cannot mix: 1 problem" in err and "for 5 events per clip" in err
    assert "Traceback" not in err


def test_other_settings_are_refused_naming_the_difference(tmp_path, capsys):
    events, backgrounds = make_sources(tmp_path)
    out = tmp_path / "out"
    assert mix(events, backgrounds, out, "--clips", "2") == 0
    assert mix(events, backgrounds, out, "--clips", "2", "--mono") == 2
    err = capsys.readouterr().err
    assert "--mono: False there, True now" in err and "pass --overwrite" in err
    assert mix(events, backgrounds, out, "--clips", "2", "--mono", "--overwrite") == 0
    assert sf.info(str(out / "audio" / "00000.wav")).channels == 1


def test_corrupt_file_warns_and_is_counted(tmp_path, capsys):
    events, backgrounds = make_sources(tmp_path)
    (events / "bell" / "bad.flac").write_bytes(b"fLaC garbage")
    assert mix(events, backgrounds, tmp_path / "out", "--clips", "2") == 0
    captured = capsys.readouterr()
    assert "warning: " in captured.err and "bad.flac: cannot decode audio" in captured.err
    assert "skipped 1 unreadable input file(s)" in captured.out


def test_short_backgrounds_are_reported(tmp_path, capsys):
    events, backgrounds = make_sources(tmp_path, background_seconds=1.0)
    assert mix(events, backgrounds, tmp_path / "out", "--clips", "1") == 0
    assert "4 background(s) shorter than the clip (2 s) are looped" in capsys.readouterr().err


def test_failed_clips_exit_1(tmp_path, capsys):
    events, backgrounds = make_sources(tmp_path, files_per_class=1, backgrounds=1)
    sf.write(events / "dog" / "dog0.wav", np.zeros(4000, np.float32), 8000)
    assert mix(events, backgrounds, tmp_path / "out", "--clips", "4", "--folds", "1") == 1
    captured = capsys.readouterr()
    assert "error: audio/" in captured.err and "are silent, so no SNR can be set" in captured.err


def test_ctrl_c_exits_130_with_one_line(tmp_path, capsys, monkeypatch):
    events, backgrounds = make_sources(tmp_path)
    render = Mixer.render
    calls = []

    def interrupted(self, plan):
        calls.append(plan)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return render(self, plan)

    monkeypatch.setattr(Mixer, "render", interrupted)
    assert mix(events, backgrounds, tmp_path / "out", "--clips", "3") == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["kaudio mix: interrupted after 1 of 3 clip(s); the written clips are complete (nothing partial is "
                   "left); run the same command again to continue"]
    monkeypatch.setattr(Mixer, "render", render)
    assert mix(events, backgrounds, tmp_path / "out", "--clips", "3") == 0
    assert "made 2 clip(s), kept 1 existing of 3" in capsys.readouterr().out


def test_mixing_does_not_import_tensorflow(tmp_path):
    events, backgrounds = make_sources(tmp_path, files_per_class=1, backgrounds=1)
    args = ["mix", str(events), str(backgrounds), "--out", str(tmp_path / "out"), "--clips", "2", *SMALL]
    code = (f"import sys; from kaudio.cli.main import main; code = main({args!r}); "
            "print(code, [m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "0 []", result.stderr
