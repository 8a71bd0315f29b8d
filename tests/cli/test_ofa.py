"""kaudio ofa space / extract: the space table and JSON, extraction from a .keras file or a run folder, the
TFLite table, and one-line errors (exit 2 for bad arguments and inputs; 1 for an output that exists, as every
kaudio command)."""
import json

import keras
import numpy as np
import pytest

import kaudio
from kaudio.cli.main import main
from kaudio.models.ofa import set_subnet
from tests.models.ofa import randomize_statistics, tiny_ofa_spec, waveforms

SMALL = '{"widths": [0.4, 0.6, 1.0], "depths": [2, 2, 1], "fc_width": 0.4}'


@pytest.fixture(scope="module")
def supernet_file(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = kaudio.build(tiny_ofa_spec())
    randomize_statistics(model)
    path = tmp_path_factory.mktemp("ofa") / "supernet.keras"
    model.save(path)
    return path


def test_space_text_for_the_cnn10_supernet(capsys):
    assert main(["ofa", "space", "ofa_cnn10"]) == 0
    out = capsys.readouterr().out
    assert "ofa_cnn10: 512 sub-networks (4 x 4 x 4 x 2 x 4 choices)" in out
    assert "conv_block4: width ratio 0.4/0.6/0.8/1 -> 204/307/409/512 channels, depth 1 or 2" in out
    assert "fc1: width ratio 0.4/0.6/0.8/1 -> 204/307/409/512 units" in out
    assert "trainable parameters (527-class tagger included): 569,210 to 5,219,279" in out
    assert "largest  widths 1/1/1 depths 2/2/2 fc 1: 5,219,279 trainable, 5,223,247 with the BN moving statistics" in out


def test_space_json_with_overrides(capsys):
    assert main(["ofa", "space", "ofa_cnn10", "--set", "backbone.input_norm=single", "--set",
                 "backbone.elastic_fc=false", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["size"] == 128 and data["num_classes"] == 527 and data["fc_widths"] == [512]
    assert data["smallest"]["trainable_params"] == 794_540 and data["largest"]["trainable_params"] == 5_219_153
    assert data["smallest"]["config"] == {"widths": [0.4, 0.4, 0.4], "depths": [2, 2, 1], "fc_width": None}
    assert [c["key"] for c in data["choices"]] == ["widths[0]", "widths[1]", "widths[2]", "depths[2]"]


def test_extract_from_a_file_writes_a_plain_model(supernet_file, tmp_path, capsys):
    out = tmp_path / "small.keras"
    assert main(["ofa", "extract", str(supernet_file), SMALL, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "widths 0.4/0.6/1 depths 2/2/1 fc 0.4" in text and "5,860 trainable parameters" in text
    plain = keras.models.load_model(out)
    supernet = keras.models.load_model(supernet_file)
    set_subnet(supernet, json.loads(SMALL))
    x = waveforms(2)
    assert np.abs(plain.predict(x, verbose=0) - supernet.predict(x, verbose=0)).max() <= 1e-5


def test_extract_from_a_run_folder_with_tflite(supernet_file, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.keras").write_bytes(supernet_file.read_bytes())
    config = tmp_path / "small.yaml"
    config.write_text("widths: [0.4, 0.4, 0.4]\ndepths: [2, 2, 1]\nfc_width: 0.4\n")
    out = tmp_path / "small.keras"
    assert main(["ofa", "extract", str(run), str(config), "--out", str(out), "--tflite", "--runs", "2"]) == 0
    text = capsys.readouterr().out
    assert (tmp_path / "small.tflite").is_file() and (tmp_path / "small.int8.tflite").is_file()
    rows = {line.split()[0]: line.split() for line in text.splitlines() if ".tflite " in line}
    assert rows["small.tflite"][1] == "float32" and float(rows["small.tflite"][4]) < 1e-5
    assert rows["small.int8.tflite"][1] == "dynamic_int8"
    assert "latency: median of 2 calls, 1 thread" in text and "Transpose runs through TF Select" in text


@pytest.mark.parametrize("make_args, needle", [
    (lambda f, d: [str(f), '{"widths": [0.5, 0.6, 1.0], "depths": [2, 2, 3], "fc_width": 0.4}'],
     "inline configuration is not in this supernet's space: widths[0] (conv_block2): width ratio 0.5 is not offered; "
     "valid: 0.4, 0.6, 0.8, 1; depths[2] (conv_block4): depth 3 is not offered; valid: 1, 2"),
    (lambda f, d: [str(d / "missing.keras"), SMALL], "SOURCE: no such file"),
    (lambda f, d: [str(d / "corrupt.keras"), SMALL], "corrupt.keras is not a Keras archive"),
    (lambda f, d: [str(d / "plain.keras"), SMALL], "is not a once-for-all supernet (its backbone: PannsCNN)"),
    (lambda f, d: [str(d / "empty_run"), SMALL], "has no best.keras: the run has not finished its first epoch yet"),
    (lambda f, d: [str(f), str(d / "none.yaml")], "no such configuration file"),
    (lambda f, d: [str(f), "{widths: [0.4"], "inline configuration: not YAML/JSON"),
])
def test_extract_errors_are_one_line_exit_2(supernet_file, tmp_path, capsys, make_args, needle):
    (tmp_path / "corrupt.keras").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "empty_run").mkdir()
    kaudio.build(tiny_ofa_spec() | {"backbone": {"type": "panns_cnn", "filters": [8, 16]}}).save(tmp_path / "plain.keras")
    code = main(["ofa", "extract", *make_args(supernet_file, tmp_path), "--out", str(tmp_path / "o.keras")])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_extract_output_checks(supernet_file, tmp_path, capsys):
    assert main(["ofa", "extract", str(supernet_file), SMALL, "--out", str(tmp_path / "o.h5")]) == 2
    assert "--out must end in .keras" in capsys.readouterr().err
    (tmp_path / "o.keras").write_text("keep me")
    (tmp_path / "p.keras").write_text("")
    assert main(["ofa", "extract", str(supernet_file), SMALL, "--out", str(tmp_path / "o.keras")]) == 1
    assert "o.keras exists; pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "o.keras").read_text() == "keep me"
    assert main(["ofa", "extract", str(supernet_file), SMALL, "--out", str(tmp_path / "p.keras"), "--overwrite"]) == 0
    (tmp_path / "r.int8.tflite").write_text("")  # a TFLite file that --tflite would write blocks before any work
    assert main(["ofa", "extract", str(supernet_file), SMALL, "--out", str(tmp_path / "r.keras"), "--tflite"]) == 1
    assert "r.int8.tflite exists" in capsys.readouterr().err and not (tmp_path / "r.keras").exists()
    assert main(["ofa", "extract", str(supernet_file), SMALL, "--out", str(tmp_path / "q.keras"), "--tflite",
                 "--threads", "0"]) == 2


def test_space_needs_an_ofa_spec(capsys):
    assert main(["ofa", "space", "panns_cnn10"]) == 2
    assert "not a once-for-all supernet" in capsys.readouterr().err


# --- train → search → extract → plot ------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A supernet trained by `kaudio train` (train.type ofa, 1 epoch) on the tone folder, and that folder."""
    import yaml

    from tests.training import write_flat_folder
    from tests.training.test_ofa import ofa_train_spec, write_tiny_teacher

    folder = tmp_path_factory.mktemp("ofa_run")
    data = write_flat_folder(folder / "data", n=20)
    spec = ofa_train_spec(write_tiny_teacher(folder), spec_augment=True, subnets_per_step=2)
    (folder / "supernet.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    run = folder / "run"
    assert main(["train", str(folder / "supernet.yaml"), "--data", str(data), "--out", str(run), "-q"]) == 0
    return run, data


def test_train_search_extract_and_plot(trained_run, tmp_path, capsys):
    run, data = trained_run
    common = ["--data", str(data), "--epsilon", "1k", "--population", "3", "--calibration-batches", "2"]
    assert main(["ofa", "search", str(run), "--params", "6k", "10k", *common]) == 0
    out = capsys.readouterr().out
    assert "| 6k ± 1k | 97 | 3 |" in out and "| 10k ± 1k | 87 | 3 |" in out
    search_dir = run / "search"
    for name in ("summary.md", "summary.json", "best_6k.yaml", "best_6k.keras", "best_10k.yaml", "best_10k.keras",
                 "params_6k/oracle.json", "params_6k/candidates.json", "params_10k/candidates.json"):
        assert (search_dir / name).is_file(), name
    assert "--data DIR --calibration-batches 2 --seed 0" in (search_dir / "best_6k.yaml").read_text()
    assert main(["ofa", "search", str(run), "--params", "6k", *common]) == 0  # done: nothing is scored again
    assert "  [6k] " not in capsys.readouterr().out

    extracted = tmp_path / "best_6k.keras"
    assert main(["ofa", "extract", str(run), str(search_dir / "best_6k.yaml"), "--out", str(extracted), "--data",
                 str(data), "--calibration-batches", "2"]) == 0
    assert "BatchNorm statistics re-estimated on 8 training clips" in capsys.readouterr().out
    for a, b in zip(keras.models.load_model(extracted).get_weights(),
                    keras.models.load_model(search_dir / "best_6k.keras").get_weights()):
        np.testing.assert_array_equal(a, b)  # the searched model, calibrated the same way again

    assert main(["ofa", "plot", str(run), "--latency", "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "latency 2/2" in out and f"wrote {search_dir / 'pareto.png'}" in out
    assert (search_dir / "pareto.png").stat().st_size > 10_000
    latency = json.loads((search_dir / "latency.json").read_text())
    assert len(latency) == 2 and all(entry["float32_ms"] > 0 for entry in latency.values())


def test_search_errors_are_one_line_exit_2(trained_run, tmp_path, capsys):
    run, data = trained_run
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "spec.yaml").write_text((run / "spec.yaml").read_text())
    base = ["--data", str(data), "--epsilon", "1k", "--population", "1", "--no-calibration"]
    cases = [
        ([str(tmp_path / "unfinished"), "--params", "6k", *base], "has no best.keras"),
        ([str(run), "--params", "1k", *base, "--out", str(tmp_path / "s")],
         "no sub-network of this supernet has 1k ± 1k (0-2,000 trainable parameters); the nearest sizes are above: "
         "3,044"),
        ([str(run), "--params", "lots", *base], "--params: expected a count like 1.8M"),
        ([str(run), "--params", "6k", *base, "--population", "0"], "--population must be >= 1"),
    ]
    for args, needle in cases:
        assert main(["ofa", "search", *args]) == 2, needle
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    out = tmp_path / "foreign"
    assert main(["ofa", "search", str(run), "--params", "6k", *base, "--out", str(out)]) == 0
    settings = out / "params_6k" / "kaudio_search.json"
    settings.write_text(settings.read_text().replace('"supernet": "', '"supernet": "another-'))
    assert main(["ofa", "search", str(run), "--params", "6k", *base, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds a search of another supernet" in err and "--overwrite" in err
    assert main(["ofa", "plot", str(tmp_path / "unfinished")]) == 2
    assert "has no summary.json" in capsys.readouterr().err


def test_cli_defaults_are_the_librarys():
    from kaudio.cli import ofa as cli
    from kaudio.models.ofa.calibrate import DEFAULT_CALIBRATION_BATCHES
    from kaudio.training.ofa_search import DEFAULT_EPSILON, DEFAULT_POPULATION, parse_budgets

    assert cli.CALIBRATION_BATCHES == DEFAULT_CALIBRATION_BATCHES and cli.POPULATION == DEFAULT_POPULATION
    assert parse_budgets(["1M"], cli.EPSILON)[0].epsilon == DEFAULT_EPSILON


def test_missing_or_corrupt_teacher_weights_stop_ofa_training(tmp_path, capsys):
    import yaml

    from tests.training import write_flat_folder
    from tests.training.test_ofa import ofa_train_spec, write_tiny_teacher

    spec = ofa_train_spec({**write_tiny_teacher(tmp_path, weights=False), "weights": "missing.keras"})
    (tmp_path / "supernet.yaml").write_text(yaml.safe_dump(spec))
    assert main(["train", str(tmp_path / "supernet.yaml"), "--data", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err
    assert "teacher.weights" in err and "Traceback" not in err
    (tmp_path / "corrupt.keras").write_bytes(b"not a Keras archive")
    spec["teacher"]["weights"] = str(tmp_path / "corrupt.keras")
    (tmp_path / "supernet.yaml").write_text(yaml.safe_dump(spec))
    data = write_flat_folder(tmp_path / "data", n=8)
    assert main(["train", str(tmp_path / "supernet.yaml"), "--data", str(data), "--out", str(tmp_path / "run"),
                 "-q"]) == 2
    err = capsys.readouterr().err
    assert f"teacher.weights: {tmp_path / 'corrupt.keras'} is not a Keras archive" in err
    assert "File not found" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_distributed_search_with_a_chief_and_a_worker(trained_run, tmp_path):
    """keras-tuner's distributed mode: the chief serves the oracle and writes the results, the worker scores."""
    import os
    import socket
    import subprocess
    import sys

    run, data = trained_run
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "kaudio", "ofa", "search", str(run), "--data", str(data), "--params", "6k",
               "--epsilon", "1k", "--population", "2", "--no-calibration", "--out", str(tmp_path / "search")]
    environment = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port)}
    processes = [subprocess.Popen(command, env={**environment, "KERASTUNER_TUNER_ID": tuner}, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for tuner in ("chief", "tuner0")]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    chief, worker = outputs
    assert "| 6k ± 1k | 97 | 2 |" in chief and "  [6k] " not in chief  # the chief scores nothing
    assert worker.count("  [6k] ") == 2 and "this worker is done" in worker
    assert len(json.loads((tmp_path / "search" / "params_6k" / "candidates.json").read_text())["candidates"]) == 2
