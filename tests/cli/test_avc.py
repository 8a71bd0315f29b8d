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
    assert "'0' must be greater than 0" in capsys.readouterr().err


def test_bad_input_fails_before_tensorflow_is_imported(tmp_path):
    (tmp_path / "empty").mkdir()
    args = ["avc", "prepare", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]
    code = (f"import sys; from kaudio.cli.main import main; code = main({args!r}); "
            "print(code, [m for m in ('tensorflow', 'keras') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "2 []", result.stderr
    assert "no video files" in result.stderr


# --- kaudio train with an avc spec ---------------------------------------------------------------

@pytest.fixture(scope="module")
def avc_videos(tmp_path_factory):
    from tests.training.avc_data import write_avc_videos

    return write_avc_videos(tmp_path_factory.mktemp("avc_cli_train") / "videos")


def write_tiny_avc(path, **train):
    import yaml

    from tests.training.avc_data import tiny_avc_spec

    path.write_text(yaml.safe_dump(tiny_avc_spec(**train)))
    return path


def test_train_an_avc_spec_on_a_videos_folder(avc_videos, tmp_path, capsys):
    spec = write_tiny_avc(tmp_path / "tiny.yaml", epochs=1)
    assert main(["train", str(spec), "--data", str(avc_videos), "--out", str(tmp_path / "run"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "4 train, 2 val, 0 test videos" in out and "| true \\ predicted | mismatch | match |" in out
    assert {"best.keras", "split.json", "metrics.md", "history.csv"} <= {p.name for p in (tmp_path / "run").iterdir()}


def test_train_avc_bad_folders_are_one_line(tmp_path, capsys):
    spec = write_tiny_avc(tmp_path / "tiny.yaml", epochs=1)
    (tmp_path / "empty").mkdir()
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "broken.mp4").write_bytes(b"")
    for folder, message in (("empty", "no video files"), ("one", "usable video")):
        assert main(["train", str(spec), "--data", str(tmp_path / folder), "--out", str(tmp_path / "run"), "-q"]) == 2
        err = capsys.readouterr().err.strip()
        assert "Traceback" not in err and message in err and len(err.splitlines()) == 1, err


def test_export_of_a_run_that_no_embedding_model_loads_is_one_line(avc_videos, tmp_path, capsys):
    spec = write_tiny_avc(tmp_path / "tiny.yaml", epochs=1)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "spec.yaml").write_text(spec.read_text())
    (tmp_path / "run" / "best.keras").write_bytes(b"")
    assert main(["avc", "export", str(tmp_path / "run"), "--out", str(tmp_path / "e.weights.h5")]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and "is none of OpenL3's" in err
    assert main(["avc", "export", str(tmp_path / "nothing"), "--out", str(tmp_path / "e.weights.h5")]) == 2
    assert "no spec.yaml" in capsys.readouterr().err


def test_export_writes_the_embedding_files(tmp_path, capsys):
    import yaml

    from kaudio.models.kaudio_model import KaudioModel
    from kaudio.spec import load_spec

    spec = load_spec("l3_avc_m128")
    (tmp_path / "run").mkdir()
    KaudioModel(spec).save(tmp_path / "run" / "best.keras")
    (tmp_path / "run" / "spec.yaml").write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False))
    assert main(["avc", "export", str(tmp_path / "run"), "--out", str(tmp_path / "a.weights.h5"),
                 "--vision-out", str(tmp_path / "v.weights.h5")]) == 0
    out = capsys.readouterr().out
    assert 'model="openl3_mel128_music"' in out and 'model="openl3_image_mel128_music"' in out
    assert (tmp_path / "a.weights.h5").is_file() and (tmp_path / "v.weights.h5").is_file()


def test_train_avc_on_mixed_videos_skips_the_unusable_ones(tmp_path, capsys):
    """5- to 120-fps videos, 16/44.1/48-kHz audio (stereo too) train; a video without audio and a corrupt one are
    skipped with one warning naming how many."""
    from tests.data.avc.synthetic import write_video

    folder = write_good(tmp_path / "videos")
    write_video(folder / "noaudio.mp4", 5, audio=False)
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    spec = write_tiny_avc(tmp_path / "tiny.yaml", epochs=1, steps_per_epoch=2)
    assert main(["train", str(spec), "--data", str(folder), "--out", str(tmp_path / "run"), "-q"]) == 0
    captured = capsys.readouterr()
    assert "3 train, 2 val, 0 test videos" in captured.out
    warnings = [line for line in captured.err.splitlines() if "usable video" in line or "skipped" in line]
    assert len(warnings) == 1 and "5 usable video(s) of 7, skipped 2" in warnings[0], captured.err
    assert "noaudio.mp4 (no audio stream)" in warnings[0] and "corrupt.mp4 (corrupt" in warnings[0]


def test_export_keras_out_writes_a_standalone_embedding_model_of_any_run(tmp_path, capsys):
    from kaudio.spec import load_spec
    from tests.training.avc_data import tiny_avc_spec, write_avc_run

    write_avc_run(tmp_path / "run", load_spec(tiny_avc_spec()))
    assert main(["avc", "export", str(tmp_path / "run"), "--keras-out", str(tmp_path / "tiny.keras")]) == 0
    out = capsys.readouterr().out
    assert f"audio embedding → {tmp_path / 'tiny.keras'}: 8000 samples at 8000 Hz → 8-d" in out
    assert f"kaudio downstream DATA --model {tmp_path / 'tiny.keras'}" in out
    for args, message in (([], "give --out FILE.weights.h5 (an OpenL3 model's weights) and/or --keras-out"),
                          (["--keras-out", str(tmp_path / "a.h5")], "a.h5: the output must end in .keras"),
                          (["--keras-out", str(tmp_path / "a.keras"), "--vision-out", str(tmp_path / "v.weights.h5")],
                           "--vision-out goes with --out")):
        assert main(["avc", "export", str(tmp_path / "run"), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert "Traceback" not in err and len(err.splitlines()) == 1 and message in err, err
