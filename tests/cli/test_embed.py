"""kaudio embed: directories, outputs, skip/overwrite, failures reported with exit status 1."""
import os
import time

import numpy as np
import pytest
import soundfile as sf

from kaudio.cli.main import main

SR = 8000


def make_tree(root):
    (root / "a" / "b").mkdir(parents=True)
    x = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    sf.write(root / "one.wav", x, SR)
    sf.write(root / "a" / "b" / "two.flac", x, SR)
    (root / "a" / "notes.txt").write_text("not audio")
    return root


def run(args, tiny_model):
    return main(["embed", *args, "--model", tiny_model, "--embedding-size", "8", "--weights", "none", "--quiet"])


def test_embeds_a_directory_recursively_and_skips_existing(tiny_model, tmp_path, capsys):
    root = make_tree(tmp_path / "in")
    out = tmp_path / "out"
    assert run([str(root), "--output-dir", str(out), "--suffix", "e"], tiny_model) == 0
    # the folder structure below the input directory is mirrored
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.npz")) == ["a/b/two_e.npz", "one_e.npz"]
    with np.load(out / "a" / "b" / "two_e.npz") as data:
        assert data["embedding"].shape[1] == 8 and len(data["timestamps"]) == len(data["embedding"])
    assert "embedded 2 file(s)" in capsys.readouterr().out
    assert run([str(root), "--output-dir", str(out), "--suffix", "e"], tiny_model) == 0
    text = capsys.readouterr().out
    assert "exists with the same settings, skipped" in text and "skipped 2 existing" in text
    assert run([str(root / "one.wav"), "--output-dir", str(out), "--suffix", "e", "--overwrite"], tiny_model) == 0
    assert "embedded 1 file(s)" in capsys.readouterr().out


def test_failures_are_reported_and_the_others_still_run(tiny_model, tmp_path, capsys):
    root = make_tree(tmp_path / "in")
    bad = root / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    code = run([str(bad), str(root / "one.wav"), str(tmp_path / "missing.wav"), "--output-dir", str(tmp_path / "o")],
               tiny_model)
    captured = capsys.readouterr()
    assert code == 1
    assert "broken.wav: cannot decode audio" in captured.err and "missing.wav: file not found" in captured.err
    assert "embedded 1 file(s)" in captured.out and "failed 2" in captured.out
    assert (tmp_path / "o" / "one.npz").is_file()
    assert "Traceback" not in captured.err


def test_fast_mode_and_unknown_model(tiny_model, tmp_path, capsys):
    root = make_tree(tmp_path / "in")
    assert run([str(root / "one.wav"), "--mode", "fast", "--output-dir", str(tmp_path)], tiny_model) == 0
    assert (tmp_path / "one.npz").is_file()
    code = main(["embed", str(root / "one.wav"), "--model", "openl3_mel999_music", "--weights", "none", "--quiet"])
    assert code == 2 and "unknown audio embedding model" in capsys.readouterr().err


def test_bad_weights_fail_once_before_any_file(tiny_model, tmp_path, capsys):
    root = make_tree(tmp_path / "in")
    missing = tmp_path / "missing.weights.h5"
    status = main(["embed", str(root), "--output-dir", str(tmp_path / "out"), "--model", tiny_model,
                   "--embedding-size", "8", "--weights", str(missing), "--quiet"])
    captured = capsys.readouterr()
    assert status == 2  # an argument error, found before any output is looked at
    assert captured.err.count("no such weights file") == 1 and str(missing) in captured.err
    assert not (tmp_path / "out").exists()


def test_existing_outputs_are_skipped_only_with_the_same_settings(tiny_model, tmp_path, capsys):
    root = make_tree(tmp_path / "in")
    out = tmp_path / "out"
    target = out / "one.npz"
    assert run([str(root / "one.wav"), "-o", str(out)], tiny_model) == 0
    before = target.read_bytes()
    capsys.readouterr()

    assert main(["embed", str(root / "one.wav"), "-o", str(out), "--model", tiny_model, "--embedding-size", "128",
                 "--weights", "none", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "embedding_size: file has 8, this run 128" in err and "--overwrite replaces it" in err
    assert run([str(root / "one.wav"), "-o", str(out), "--hop-size", "0.2"], tiny_model) == 1
    assert "hop_size: file has 0.1, this run 0.2" in capsys.readouterr().err
    weights = tmp_path / "w.weights.h5"
    from kaudio.embedding.models import load_embedding_model

    load_embedding_model(tiny_model, 8, None).backbone.save_weights(weights)
    assert main(["embed", str(root / "one.wav"), "-o", str(out), "--model", tiny_model, "--embedding-size", "8",
                 "--weights", str(weights), "--quiet"]) == 1
    assert "weights: file has random, this run file sha256 " in capsys.readouterr().err
    assert target.read_bytes() == before  # never replaced without --overwrite

    # the arguments are validated before the outputs are looked at
    assert main(["embed", str(root / "one.wav"), "-o", str(out), "--model", "bogus", "--embedding-size", "123",
                 "--quiet"]) == 2
    assert "unknown audio embedding model 'bogus'" in capsys.readouterr().err
    assert run([str(root / "one.wav"), "-o", str(out), "--hop-size", "0.2", "--overwrite"], tiny_model) == 0
    with np.load(target) as data:
        assert data["hop_size"].item() == 0.2


def test_outputs_of_openl3_or_older_kaudio_are_not_reused(tiny_model, tmp_path, capsys):
    root = make_tree(tmp_path / "in")
    (tmp_path / "out").mkdir()
    np.savez(tmp_path / "out" / "one.npz", embedding=np.zeros((1, 8)), timestamps=np.zeros(1))
    assert run([str(root / "one.wav"), "-o", str(tmp_path / "out")], tiny_model) == 1
    assert "records no kaudio settings" in capsys.readouterr().err


def test_colliding_output_names_are_refused_before_any_work(tiny_model, tmp_path, capsys):
    x = np.zeros(SR, np.float32)
    for name in ("a/clip.wav", "b/clip.wav", "c/x.wav", "c/x.flac"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        sf.write(tmp_path / name, x, SR)
    out = tmp_path / "out"
    assert run([str(tmp_path / "a/clip.wav"), str(tmp_path / "b/clip.wav"), "-o", str(out)], tiny_model) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'a/clip.wav'} and {tmp_path / 'b/clip.wav'} would both write {out / 'clip.npz'}" in err
    assert not out.exists()
    assert run([str(tmp_path / "c")], tiny_model) == 2  # x.flac and x.wav beside each other
    assert "would both write" in capsys.readouterr().err and not list((tmp_path / "c").glob("*.npz"))
    assert run([str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out)], tiny_model) == 2  # both map to out/
    assert "would both write" in capsys.readouterr().err
    # the structure below a folder input is mirrored under --output-dir: equal names in subfolders stay apart
    (tmp_path / "c" / "x.flac").unlink()
    assert run([str(tmp_path), "-o", str(out)], tiny_model) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.npz")) == ["a/clip.npz", "b/clip.npz", "c/x.npz"]
    capsys.readouterr()
    # the same file named twice is embedded once
    assert run([str(tmp_path / "a/clip.wav"), str(tmp_path / "a/clip.wav"), "-o", str(tmp_path / "twice"),
                "--overwrite"], tiny_model) == 0
    assert "embedded 1 file(s)" in capsys.readouterr().out


def test_unwritable_output_folder_fails_early_with_one_line(tiny_model, tmp_path, capsys, monkeypatch):
    root = make_tree(tmp_path / "in")
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    for out in (a_file, a_file / "sub"):
        assert run([str(root), "-o", str(out)], tiny_model) == 1
        err = capsys.readouterr().err
        assert err.strip() == f"kaudio embed: error: cannot write to the output folder {out}: {a_file} is a file, not a folder"

    import errno
    import tempfile

    for error, reason in ((PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
                          (OSError(errno.EROFS, "Read-only file system"), "read-only file system")):
        def refuse(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
        assert run([str(root), "-o", str(tmp_path / "ro")], tiny_model) == 1
        err = capsys.readouterr().err
        assert err.strip() == f"kaudio embed: error: cannot write to the output folder {tmp_path / 'ro'}: {reason}"
        assert "Traceback" not in err
    monkeypatch.undo()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write into read-only folders")
def test_read_only_output_folder(tiny_model, tmp_path, capsys):
    root = make_tree(tmp_path / "in")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert run([str(root), "-o", str(locked)], tiny_model) == 1
        assert "permission denied" in capsys.readouterr().err
    finally:
        locked.chmod(0o755)


def test_ctrl_c_prints_one_line_and_exits_130(tiny_model, tmp_path, capsys, monkeypatch):
    from kaudio.cli import embed as embed_command

    root = make_tree(tmp_path / "in")
    real = embed_command._embed_one
    calls = []

    def interrupt_on_second(item, *args):
        calls.append(item)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(item, *args)

    monkeypatch.setattr(embed_command, "_embed_one", interrupt_on_second)
    assert run([str(root), "-o", str(tmp_path / "out")], tiny_model) == 130
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "interrupted after 1 of 2 file(s)" in lines[0] and "run the same command again" in lines[0]
    assert len(list((tmp_path / "out").rglob("*.npz"))) == 1


def test_left_over_temporary_files_are_removed(tiny_model, tmp_path, capsys):
    root = make_tree(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    dead = out / ".one.npz.999999999-0123456789ab.tmp"  # no such process
    old_legacy = out / ".one.npz.0123456789ab.tmp"
    new_legacy = out / ".two.npz.ba9876543210.tmp"
    running = out / f".one.npz.{os.getpid()}-0123456789ab.tmp"  # a writer that is still alive
    unrelated = out / ".notes.tmp"
    for path in (dead, old_legacy, new_legacy, running, unrelated):
        path.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(old_legacy, (two_hours_ago, two_hours_ago))
    assert run([str(root / "one.wav"), "-o", str(out)], tiny_model) == 0
    assert "removed 2 temporary file(s) left by an interrupted run" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(["one.npz", new_legacy.name, running.name, unrelated.name])


def test_plain_output_and_one_line_warnings_when_not_a_terminal(tiny_model, tmp_path, capsys):
    sf.write(tmp_path / "short.wav", np.zeros(100, np.float32), SR)
    code = main(["embed", str(tmp_path / "short.wav"), "--model", tiny_model, "--embedding-size", "8",
                 "--weights", "none"])  # progress on (no --quiet), captured streams are not terminals
    captured = capsys.readouterr()
    assert code == 0
    assert "\r" not in captured.err + captured.out and "\x1b" not in captured.err + captured.out
    assert "embedding: 1/1 windows (100%)" in captured.err
    warning = [line for line in captured.err.splitlines() if "shorter than one window" in line]
    assert warning == [f"warning: {tmp_path / 'short.wav'} is shorter than one window (100 < 4000 samples at "
                       "8000 Hz); it is zero-padded"]
