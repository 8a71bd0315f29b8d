"""kaudio avc prepare: the command line around kaudio.data.avc.shards (messages, exit statuses, resume)."""
import subprocess
import sys

import pytest

from kaudio.cli.main import main
from kaudio.data.avc import shards as shards_module
from tests.data.avc.conftest import write_good

SMALL = ["--image-size", "32", "--sample-rate", "8000", "--cycle-length", "3", "--shard-size", "4", "--quiet"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return write_good(tmp_path_factory.mktemp("avc_cli") / "videos", ["a.mp4", "b.mkv", "c.mp4"])


def prepare(videos, out, *extra):
    return main(["avc", "prepare", str(videos), "--out", str(out), *SMALL, *extra])


def test_prepares_and_resumes(videos, tmp_path, capsys):
    out = tmp_path / "shards"
    assert prepare(videos, out, "--samples", "6") == 0
    assert capsys.readouterr().out.strip() == ("train: 6 samples in 2 shard(s) from 3 videos (wrote 2, kept 0); "
                                               "skipped 0 unusable video(s)")
    assert prepare(videos, out, "--samples", "8") == 0  # one more full shard: the partial one is rewritten
    assert "(wrote 1, kept 1)" in capsys.readouterr().out


def test_interrupted_prints_one_line_and_exits_130(videos, tmp_path, capsys, monkeypatch):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(shards_module, "_example", interrupted)
    assert prepare(videos, tmp_path / "shards", "--samples", "4") == 130
    assert capsys.readouterr().err.strip().splitlines() == [
        "kaudio avc: interrupted after 0 of 1 shard(s); the written shards are complete (nothing partial is left); "
        "run the same command again to continue"]


def test_errors_are_one_line(videos, tmp_path, capsys):
    assert prepare(tmp_path / "nowhere", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.strip() == f"kaudio avc: error: {tmp_path / 'nowhere'}: video folder not found"
    assert prepare(videos, tmp_path / "s", "--samples", "4") == 0
    assert prepare(videos, tmp_path / "s", "--samples", "4", "--frame", "last") == 2
    err = capsys.readouterr().err
    assert "frame: window there, last now" in err and "--overwrite" in err and "Traceback" not in err
    (tmp_path / "file").write_text("in the way")
    assert prepare(videos, tmp_path / "file" / "shards") == 1
    assert "cannot write to the shards folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["avc"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit):
        prepare(videos, tmp_path / "out", "--samples", "0")
    assert "'0' must be at least 1" in capsys.readouterr().err


def test_bad_input_fails_before_tensorflow_is_imported(tmp_path):
    (tmp_path / "empty").mkdir()
    args = ["avc", "prepare", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]
    code = (f"import sys; from kaudio.cli.main import main; code = main({args!r}); "
            "print(code, [m for m in ('tensorflow', 'keras') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "2 []", result.stderr
    assert "no video files" in result.stderr
