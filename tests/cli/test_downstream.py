"""kaudio downstream: a run end to end, compare, and one-line errors with their exit statuses."""
import json

import pytest

from kaudio.cli.main import main
from kaudio.downstream.features import FeatureCache, LogMelFeatures
from tests.downstream.synthetic import make_tone_dataset

QUICK = ["--model", "logmel", "--grid", "quick", "--epochs", "3", "--quiet"]


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    return make_tone_dataset(tmp_path_factory.mktemp("cli") / "tones", folds=(1, 2), clips_per_class=3)


def one_error_line(capsys, text):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("kaudio downstream: error:")]
    assert len(lines) == 1 and text in lines[0], err
    return lines[0]


def test_run_writes_the_report_and_compare_reads_it(tones, tmp_path, capsys):
    out = tmp_path / "logmel.json"
    assert main(["downstream", str(tones), "--out", str(out), *QUICK]) == 0
    text = capsys.readouterr().out
    assert f"dataset {tones} (labels.csv): 18 clips, 3 classes, 2 folds; features logmel" in text
    assert "fold 1 (1/2): accuracy" in text and "fold 2 (2/2): accuracy" in text
    assert "over 2 folds (18 clip(s) embedded, 0 from the cache" in text and f"wrote {out} and" in text
    report = json.loads(out.read_text())
    assert report["features"]["cache"] == str(tmp_path / "logmel.features") and out.with_suffix(".md").is_file()
    # the report is not replaced silently
    assert main(["downstream", str(tones), "--out", str(out), *QUICK]) == 1
    one_error_line(capsys, "exists; pass --overwrite")
    # compare against a changed copy
    other = tmp_path / "other.json"
    report["folds"][0]["accuracy"] = report["folds"][0]["accuracy"] - 0.2
    other.write_text(json.dumps(report))
    assert main(["downstream", "compare", str(out), str(other)]) == 0
    text = capsys.readouterr().out
    assert "Wilcoxon signed-rank test over 2 folds" in text and "note: too few folds" in text
    assert "| Method | Runs | Accuracy |" in text


@pytest.mark.parametrize("args, message", [
    ([], "--out REPORT.json is required"),
    (["--out", "r.md"], "give a name ending in .json"),
    (["--out", "r.json", "--weights", "w.weights.h5"], "the logmel baseline has no weights"),
])
def test_argument_errors(tones, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["downstream", str(tones), "--model", "logmel", *args]) == 2
    one_error_line(capsys, message)


def test_input_errors_are_one_line(tones, tmp_path, capsys):
    out = str(tmp_path / "r.json")
    assert main(["downstream", str(tmp_path), "--out", out]) == 2
    one_error_line(capsys, "not a downstream dataset: none of")
    assert main(["downstream", str(tones), "--out", out, "--model", "openl3_mel265_music"]) == 2
    one_error_line(capsys, "unknown audio embedding model 'openl3_mel265_music'")
    assert main(["downstream", str(tones), str(tones), "--out", out]) == 2
    one_error_line(capsys, "give one dataset folder (got 2")
    assert main(["downstream", "compare", out]) == 2
    one_error_line(capsys, "compare takes two reports")
    assert main(["downstream", "compare", out, out]) == 2
    one_error_line(capsys, "report not found")


def test_a_cache_of_other_settings_is_refused(tones, tmp_path, capsys):
    FeatureCache(tmp_path / "cache", LogMelFeatures(hop_size=0.5).settings(tones))
    assert main(["downstream", str(tones), "--out", str(tmp_path / "r.json"), "--cache", str(tmp_path / "cache"),
                 *QUICK]) == 2
    one_error_line(capsys, "was made with other settings (hop_size: file has 0.5, this run 0.1)")


def test_ctrl_c_exits_130_with_one_line(tones, tmp_path, capsys, monkeypatch):
    from kaudio.downstream import protocol

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(protocol, "run_downstream", interrupted)
    assert main(["downstream", str(tones), "--out", str(tmp_path / "r.json"), *QUICK]) == 130
    err = capsys.readouterr().err
    assert "interrupted after 0 of 2 fold(s); no report was written" in err and "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


def test_a_keras_embedding_file_runs_end_to_end_with_its_weights_or_random_ones(tones, tmp_path, capsys):
    from tests.training.avc_data import tiny_keras_embedding

    model = str(tiny_keras_embedding(tmp_path))
    quick = ["--model", model, "--grid", "quick", "--epochs", "2", "--quiet"]
    reports = {}
    for name, extra in (("trained", []), ("random", ["--weights", "none"])):
        out = tmp_path / f"{name}.json"
        assert main(["downstream", str(tones), "--out", str(out), *quick, *extra]) == 0
        assert f"features {model};" in capsys.readouterr().out
        reports[name] = json.loads(out.read_text())
    trained, random = (reports[name]["features"] for name in ("trained", "random"))
    assert trained["model"] == random["model"] == "tiny_avc_audio_embedding" and trained["dimension"] == 8
    assert trained["weights"].startswith("file sha256 ") and random["weights"].startswith("random seed 0 (")
    assert reports["trained"]["accuracy"]["folds"] == 2
    # the trained features' cache refuses the random network
    assert main(["downstream", str(tones), "--out", str(tmp_path / "r.json"), "--cache",
                 str(tmp_path / "trained.features"), *quick, "--weights", "none"]) == 2
    one_error_line(capsys, "was made with other settings (weights: file has file sha256")
    assert main(["downstream", str(tones), "--out", str(tmp_path / "r.json"), *quick, "-s", "512"]) == 2
    one_error_line(capsys, "gives 8-d embeddings, not 512")
    (tmp_path / "bad.keras").write_bytes(b"")
    assert main(["downstream", str(tones), "--out", str(tmp_path / "r.json"), "--model",
                 str(tmp_path / "bad.keras")]) == 2
    one_error_line(capsys, "bad.keras: cannot load as a Keras model")
