"""kaudio train: a labels.csv folder → a trained, evaluated run directory; λ grid; seeds; errors."""
import json

import keras
import pytest

import kaudio
from kaudio.cli.main import main
from tests.training import write_tiny_spec, write_toy_folder


@pytest.fixture(scope="module")
def toy_folder(tmp_path_factory):
    return write_toy_folder(tmp_path_factory.mktemp("data") / "toy", n=20)


def test_train_writes_a_complete_run_directory(tmp_path, toy_folder, capsys):
    spec = write_tiny_spec(tmp_path / "spec.yaml", head="resatt", spec_augment=True)
    out = tmp_path / "run"
    assert main(["train", str(spec), "--data", str(toy_folder), "--out", str(out), "--epochs", "2", "-q"]) == 0
    text = capsys.readouterr().out
    assert "12 train, 4 val, 4 test clips" in text and "best epoch" in text and "| resatt | 1 |" in text
    for name in ("spec.yaml", "split.json", "best.keras", "history.csv", "thresholds.json", "metrics.md", "metrics.csv"):
        assert (out / name).is_file(), name
    assert isinstance(keras.models.load_model(out / "best.keras"), kaudio.KaudioModel)
    assert set(json.loads((out / "thresholds.json").read_text())["coarse"]) == {"low", "high"}
    assert len((out / "history.csv").read_text().splitlines()) == 3  # header + 2 epochs


def test_lambda_grid_then_evaluation_of_the_best(tmp_path, toy_folder, capsys):
    spec = write_tiny_spec(tmp_path / "spec.yaml")
    out = tmp_path / "grid"
    assert main(["train", str(spec), "--data", str(toy_folder), "--out", str(out), "--epochs", "1", "-q",
                 "--lambda-grid", "0.7", "0.9"]) == 0
    text = capsys.readouterr().out
    best = json.loads((out / "lambda_grid.json").read_text())["best_fine_weight"]
    assert f"best λ (loss.fine_weight) = {best:.2f}" in text
    assert (out / f"lambda_{best:.2f}" / "metrics.md").is_file()


def test_seeds_report_mean_and_std(tmp_path, toy_folder, capsys):
    spec = write_tiny_spec(tmp_path / "spec.yaml")
    out = tmp_path / "seeds"
    assert main(["train", str(spec), "--data", str(toy_folder), "--out", str(out), "--epochs", "1", "-q",
                 "--seeds", "2"]) == 0
    assert "±" in capsys.readouterr().out and (out / "seed_1" / "best.keras").is_file()


def test_errors_exit_2_without_traceback(tmp_path, toy_folder, capsys):
    spec = write_tiny_spec(tmp_path / "spec.yaml")
    assert main(["train", str(spec), "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["train", str(spec), "--data", str(toy_folder), "--set", "train.monitor=acc"]) == 2
    assert "train.monitor" in capsys.readouterr().err
    assert main(["train", "l3_m256", "--data", str(toy_folder)]) == 2
    assert "needs a head that predicts labels" in capsys.readouterr().err
    assert main(["train", str(spec), "--data", str(toy_folder), "--seeds", "0"]) == 2


@pytest.mark.slow
def test_the_bundled_panns_cnn10_trains_on_a_labels_folder(tmp_path, capsys):
    """`kaudio train specs/panns_cnn10.yaml` (a 527-way AudioSet tagger) on a small multi-label folder:
    the classes come from the data; shrunk with --set so it runs in seconds on a CPU."""
    from tests.training import write_flat_folder

    folder = write_flat_folder(tmp_path / "data", n=10)
    out = tmp_path / "run"
    code = main(["train", "panns_cnn10", "--data", str(folder), "--out", str(out), "--epochs", "1", "-q",
                 "--set", "input.sample_rate=8000", "--set", "input.duration=0.5", "--set", "frontend.preset=panns_16k",
                 "--set", "frontend.f_max=4000", "--set", "backbone.filters=[4, 8]",
                 "--set", "backbone.embedding_size=8", "--set", "train.spec_augment.enabled=false"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "head.classes from the data's labels.csv: 4 classes" in captured.err and "num_classes 527" in captured.err
    assert "| Method | Runs | ROC-AUC | PR-AUC | F1 |" in captured.out and "| tagger | 1 |" in captured.out
    assert kaudio.load_spec(out / "spec.yaml").head["classes"] == ["tone1800", "tone300", "tone3000", "tone700"]


def test_a_single_label_classifier(tmp_path, capsys):
    import yaml

    from tests.training import flat_spec, write_flat_folder

    folder = write_flat_folder(tmp_path / "data", n=12, single=True)
    spec = tmp_path / "classifier.yaml"
    spec.write_text(yaml.safe_dump(flat_spec("classifier")))
    assert main(["train", str(spec), "--data", str(folder), "--out", str(tmp_path / "run"), "--epochs", "1", "-q"]) == 0
    text = capsys.readouterr().out
    assert "| Method | Runs | Accuracy | Macro F1 |" in text and "| classifier | 1 |" in text
    assert not (tmp_path / "run" / "thresholds.json").exists()
