"""kaudio evaluate RUN_DIR --data DIR."""
import json

import pytest

from kaudio.cli.main import main
from tests.training import write_tiny_spec, write_toy_folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    folder = write_toy_folder(root / "toy", n=20)
    out = root / "run"
    assert main(["train", str(write_tiny_spec(root / "spec.yaml")), "--data", str(folder), "--out", str(out),
                 "--epochs", "1", "-q"]) == 0
    return folder, out


def test_evaluate_rewrites_the_tables(trained, capsys):
    folder, run = trained
    (run / "metrics.md").unlink()
    assert main(["evaluate", str(run), "--data", str(folder)]) == 0
    text = capsys.readouterr().out
    assert "test split (4 clips)" in text and "tuned on 4 validation clips" in text and "| gmp | 1 |" in text
    assert (run / "metrics.md").is_file()
    assert main(["evaluate", str(run), "--data", str(folder), "--split", "val"]) == 0
    assert "val split (4 clips)" in capsys.readouterr().out
    assert set(json.loads((run / "thresholds.json").read_text())["fine"]) == {"tone300", "tone700", "tone1800", "tone3000"}


def test_evaluate_errors(trained, tmp_path, capsys):
    folder, run = trained
    assert main(["evaluate", str(tmp_path / "nope"), "--data", str(folder)]) == 2
    assert "no such run directory" in capsys.readouterr().err
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "spec.yaml").write_text((run / "spec.yaml").read_text())
    assert main(["evaluate", str(tmp_path / "half"), "--data", str(folder)]) == 2
    assert "has no best.keras" in capsys.readouterr().err
    nosplit = write_toy_folder(tmp_path / "nosplit", n=10, splits=False)
    assert main(["evaluate", str(run), "--data", str(nosplit)]) == 2  # other data than the run's split.json
    assert "clips of the training run's split are not in this data" in capsys.readouterr().err
    (tmp_path / "copy").mkdir()
    for name in ("spec.yaml", "best.keras"):  # a run without split.json: the spec's split of the data
        (tmp_path / "copy" / name).write_bytes((run / name).read_bytes())
    assert main(["evaluate", str(tmp_path / "copy"), "--data", str(nosplit)]) == 2
    assert "no 'test' clips" in capsys.readouterr().err


def test_evaluate_another_folder_with_the_runs_thresholds(trained, tmp_path, capsys):
    folder, run = trained
    thresholds = (run / "thresholds.json").read_text()
    other = write_toy_folder(tmp_path / "other_domain", n=8, seed=5, splits=False)
    assert main(["evaluate", str(run), "--test-data", str(other)]) == 0
    text = capsys.readouterr().out
    assert f"on {other} (8 clips), thresholds from {run / 'thresholds.json'}" in text and "| gmp | 1 |" in text
    assert (run / "metrics_other_domain.md").is_file() and (run / "thresholds.json").read_text() == thresholds


def test_evaluate_test_data_errors_come_before_the_model_is_loaded(trained, tmp_path, capsys, monkeypatch):
    import importlib

    run_machinery = importlib.import_module("kaudio.training.fit")  # the module (kaudio.training.fit is also a function)

    folder, run = trained
    monkeypatch.setattr(run_machinery, "load_best_model", lambda run_dir: pytest.fail("the model was loaded"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "labels.csv").write_text("file,tags\nmissing.wav,tone300\n")
    assert main(["evaluate", str(run), "--test-data", str(bad)]) == 2
    assert "missing.wav" in capsys.readouterr().err
    (tmp_path / "nothresholds").mkdir()
    for name in ("spec.yaml", "best.keras"):
        (tmp_path / "nothresholds" / name).write_bytes((run / name).read_bytes())
    other = write_toy_folder(tmp_path / "other", n=4, splits=False)
    assert main(["evaluate", str(tmp_path / "nothresholds"), "--test-data", str(other)]) == 2
    assert "has no thresholds.json" in capsys.readouterr().err
    assert main(["evaluate", str(run)]) == 2
    assert "give --data DIR" in capsys.readouterr().err
