"""kaudio embed: directories, outputs, skip/overwrite, failures reported with exit status 1."""
import numpy as np
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
    assert sorted(p.name for p in out.iterdir()) == ["one_e.npz", "two_e.npz"]
    with np.load(out / "two_e.npz") as data:
        assert data["embedding"].shape[1] == 8 and len(data["timestamps"]) == len(data["embedding"])
    assert "embedded 2 file(s)" in capsys.readouterr().out
    assert run([str(root), "--output-dir", str(out), "--suffix", "e"], tiny_model) == 0
    text = capsys.readouterr().out
    assert "exists, skipped" in text and "skipped 2 existing" in text
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
    assert code == 1 and "unknown audio embedding model" in capsys.readouterr().err


def test_bad_weights_fail_once_before_any_file(tiny_model, tmp_path, capsys):
    root = make_tree(tmp_path / "in")
    missing = tmp_path / "missing.weights.h5"
    status = main(["embed", str(root), "--output-dir", str(tmp_path / "out"), "--model", tiny_model,
                   "--embedding-size", "8", "--weights", str(missing), "--quiet"])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.count("no such weights file") == 1 and str(missing) in captured.err
    assert "2 not attempted" in captured.out
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
