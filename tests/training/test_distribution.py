"""train.distribution: mirrored replicas and multi-worker processes train like one device; clear errors.

Runs that need two devices or a cluster start fresh processes (tests/training/distributed_worker.py):
TensorFlow fixes its logical devices, and a multi-worker strategy its collective ops, when it
initialises. See TensorFlow's guides "Distributed training with TensorFlow" and "Multi-worker
training with Keras".

Measured agreement (tiny spec, 32 training and 16 validation clips in batches of 8, 3 epochs,
no masked labels): two virtual CPU replicas and one device give per-epoch losses within 1e-7
and weights within 1.2e-7 once the supervised wrapper divides its loss by the number of
replicas (Keras's convention); two local worker processes give the same weights as the two
mirrored replicas, bit for bit. ``TOLERANCE`` leaves room for reduction-order noise.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kaudio.cli.main import main
from kaudio.errors import KaudioError, SpecError
from kaudio.training import fit
from kaudio.training.distribution import make_strategy, tf_config_problem
from kaudio.training.fit import read_history, training_spec
from tests.training import tiny_spec, toy_dataset, write_tiny_spec, write_toy_folder

ROOT = Path(__file__).resolve().parents[2]
MIRRORED = {"strategy": "mirrored", "devices": ["/cpu:0", "/cpu:1"]}
MULTI_WORKER = {"strategy": "multi_worker"}
TOLERANCE = 1e-5
#: Logged values that do not depend on how the loss is scaled for the replicas.
PARTS = ("fine_bce", "coarse_bce", "val_fine_bce", "val_coarse_bce")


# --- subprocess runs ----------------------------------------------------------------------------

def start_worker(out: Path, name: str, run_dir: Path, *args: str, distribution=None, cpus=1, tf_config=None,
                 tmpdir=None) -> subprocess.Popen:
    """Start one training of the tiny spec (tests/training/distributed_worker.py); ``out/name.json`` is its result."""
    env = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    env.update(PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    command = [sys.executable, "-m", "tests.training.distributed_worker", str(out / f"{name}.json"),
               "--run-dir", str(run_dir), "--cpus", str(cpus), "--distribution", json.dumps(distribution), *args]
    log = open(out / f"{name}.log", "w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log_path = out / f"{name}.log"
    log.close()
    return process


def finish(*processes, timeout=240) -> None:
    try:
        for process in processes:
            process.wait(timeout=timeout)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process in processes:
        assert process.returncode == 0, process.log_path.read_text()[-3000:]


def result(out: Path, name: str) -> dict:
    """A run's result: replicas, history, best_epoch, run_dir, and its weights as a list of arrays."""
    data = json.loads((out / f"{name}.json").read_text())
    if "weights" in data:
        with np.load(data["weights"]) as arrays:
            data["weights"] = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    return data


def assert_same_weights(a, b, atol=0.0):
    assert len(a) == len(b)
    for wa, wb in zip(a, b):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=atol)


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def cluster(ports, index):
    return {"cluster": {"worker": [f"localhost:{port}" for port in ports]}, "task": {"type": "worker", "index": index}}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """One-device and two-replica mirrored runs of the same spec, seed and data (3 epochs)."""
    out = tmp_path_factory.mktemp("baseline")
    finish(start_worker(out, "one", out / "one"),
           start_worker(out, "mirrored", out / "mirrored", distribution=MIRRORED, cpus=2))
    return {"out": out, "one": result(out, "one"), "mirrored": result(out, "mirrored")}


# --- mirrored -----------------------------------------------------------------------------------

def test_mirrored_on_two_cpu_devices_trains_like_one_device(baseline):
    one, mirrored = baseline["one"], baseline["mirrored"]
    assert one["replicas"] == 1 and mirrored["replicas"] == 2
    assert mirrored["history"]["epoch"] == [0.0, 1.0, 2.0]
    for key in PARTS:
        np.testing.assert_allclose(mirrored["history"][key], one["history"][key], rtol=0, atol=TOLERANCE,
                                   err_msg=key)
    assert mirrored["best_epoch"] == one["best_epoch"]
    run = baseline["out"] / "mirrored"
    for name in ("spec.yaml", "best.keras", "best.json", "history.csv", "checkpoints/epoch_003.keras"):
        assert (run / name).is_file(), name
    assert not (run / "backup").exists()


def test_mirrored_loss_and_weights_match_one_device(baseline):
    one, mirrored = baseline["one"], baseline["mirrored"]
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(mirrored["history"][key], one["history"][key], rtol=0, atol=TOLERANCE,
                                   err_msg=key)
    assert_same_weights(mirrored["weights"], one["weights"], atol=TOLERANCE)


@pytest.mark.slow
def test_mirrored_resume_after_interruption_is_identical(tmp_path, baseline):
    """Interrupted after epoch 1 and resumed, a mirrored run ends as the uninterrupted one (bit for bit)."""
    finish(start_worker(tmp_path, "cut", tmp_path / "run", "--interrupt-after", "0", distribution=MIRRORED, cpus=2))
    assert result(tmp_path, "cut") == {"interrupted": True}
    assert (tmp_path / "run" / "backup").is_dir()
    assert len(read_history(tmp_path / "run" / "history.csv")["loss"]) == 1
    finish(start_worker(tmp_path, "resumed", tmp_path / "run", distribution=MIRRORED, cpus=2))
    resumed, full = result(tmp_path, "resumed"), baseline["mirrored"]
    assert resumed["replicas"] == 2
    assert resumed["history"] == full["history"]
    assert resumed["best_epoch"] == full["best_epoch"]
    assert_same_weights(resumed["weights"], full["weights"])


# --- multi-worker ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_multi_worker_on_localhost_matches_mirrored(tmp_path, baseline):
    """Two worker processes (TF_CONFIG on two local ports) train the mirrored run's weights; only the chief writes."""
    ports, run = free_ports(2), tmp_path / "run"
    tmpdirs = [tmp_path / f"tmp{i}" for i in range(2)]
    for folder in tmpdirs:
        folder.mkdir()
    finish(*[start_worker(tmp_path, f"worker{i}", run, distribution=MULTI_WORKER, tf_config=cluster(ports, i),
                          tmpdir=tmpdirs[i]) for i in range(2)])
    chief, worker = result(tmp_path, "worker0"), result(tmp_path, "worker1")
    assert chief["replicas"] == worker["replicas"] == 2
    assert chief["history"] == worker["history"] == baseline["mirrored"]["history"]
    assert_same_weights(chief["weights"], worker["weights"])
    assert_same_weights(chief["weights"], baseline["mirrored"]["weights"], atol=TOLERANCE)
    for name in ("spec.yaml", "best.keras", "best.json", "history.csv"):
        assert (run / name).is_file(), name
    assert worker["run_dir"] == str(run)
    assert not any(tmpdirs[1].iterdir())  # the worker's private folder is gone once the run finished


@pytest.mark.slow
def test_multi_worker_resume(tmp_path, baseline):
    """Both workers interrupted after epoch 1 resume to the uninterrupted weights; a worker that lost its
    backup makes every worker stop with the same clear error instead of waiting for the others forever."""
    ports, run = free_ports(2), tmp_path / "run"
    tmpdirs = [tmp_path / f"tmp{i}" for i in range(2)]
    for folder in tmpdirs:
        folder.mkdir()

    def both(name, *args):
        return [start_worker(tmp_path, f"{name}{i}", run, *args, distribution=MULTI_WORKER,
                             tf_config=cluster(ports, i), tmpdir=tmpdirs[i]) for i in range(2)]

    finish(*both("cut", "--interrupt-after", "0"))
    assert (run / "backup").is_dir()
    [private] = list(tmpdirs[1].iterdir())
    assert private.name.startswith("kaudio_worker_worker1_") and (private / "backup").is_dir()

    kept = tmp_path / "kept"
    private.rename(kept)  # the worker's backup is lost
    processes = both("lost")
    for process in processes:
        process.wait(timeout=240)
    for i, process in enumerate(processes):
        assert process.returncode != 0
        assert "resume from different epochs" in process.log_path.read_text(), f"worker {i}"

    for leftover in tmpdirs[1].iterdir():
        shutil.rmtree(leftover)
    kept.rename(private)  # and found again
    finish(*both("resumed"))
    resumed = result(tmp_path, "resumed0")
    assert resumed["history"] == baseline["mirrored"]["history"]
    assert_same_weights(resumed["weights"], baseline["mirrored"]["weights"], atol=TOLERANCE)
    assert_same_weights(resumed["weights"], result(tmp_path, "resumed1")["weights"])


# --- errors ---------------------------------------------------------------------------------------

def _spec_error(excinfo, path: str, *fragments: str) -> str:
    [problem] = excinfo.value.problems
    assert problem.path == path
    for fragment in fragments:
        assert fragment in problem.message, problem.message
    return problem.message


def test_a_device_that_does_not_exist_is_a_spec_error(tmp_path):
    spec = tiny_spec(epochs=1, distribution={"strategy": "mirrored", "devices": ["/cpu:0", "/gpu:7"]})
    with pytest.raises(SpecError) as excinfo:
        fit(spec, toy_dataset(8, 0), toy_dataset(8, 1), run_dir=tmp_path / "run", verbose=0)
    _spec_error(excinfo, "train.distribution.devices", "no such device here: /gpu:7", "visible:", "CPU:0")
    assert not (tmp_path / "run").exists()


def test_multi_worker_without_tf_config_is_a_spec_error(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SpecError) as excinfo:
        fit(tiny_spec(epochs=1, distribution=MULTI_WORKER), toy_dataset(8, 0), toy_dataset(8, 1),
            run_dir=tmp_path / "run", verbose=0)
    _spec_error(excinfo, "train.distribution.strategy", "TF_CONFIG environment variable", '"cluster"')


@pytest.mark.parametrize("text, fragment", [
    ("{cluster: [", "TF_CONFIG is not JSON"),
    ('["localhost:1"]', 'no "cluster" mapping'),
    ('{"task": {"type": "worker", "index": 0}}', 'no "cluster" mapping'),
    ('{"cluster": {"ps": ["localhost:1"]}, "task": {"type": "ps", "index": 0}}', "'ps' job"),
    ('{"cluster": {"worker": ["localhost"]}, "task": {"type": "worker", "index": 0}}', '"host:port" addresses'),
    ('{"cluster": {"worker": "localhost:1"}, "task": {"type": "worker", "index": 0}}', '"host:port" addresses'),
    ('{"cluster": {"worker": ["localhost:1", "localhost:2"]}}', "task must name"),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "chief", "index": 0}}', "task must name"),
    ('{"cluster": {"worker": ["localhost:1", "localhost:2"]}, "task": {"type": "worker", "index": 2}}',
     "index must be 0..1"),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": "0"}}', "index must be 0..0"),
])
def test_a_malformed_tf_config_is_a_spec_error(tmp_path, monkeypatch, text, fragment):
    assert fragment in tf_config_problem(text)
    monkeypatch.setenv("TF_CONFIG", text)
    with pytest.raises(SpecError) as excinfo:
        make_strategy(MULTI_WORKER, "spec.yaml")
    _spec_error(excinfo, "train.distribution.strategy", fragment)
    assert excinfo.value.problems[0].file == "spec.yaml"


def test_valid_tf_configs_pass():
    assert tf_config_problem(json.dumps(cluster([1234, 1235], 1))) is None
    assert tf_config_problem(json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:2"]},
                                         "task": {"type": "chief", "index": 0}})) is None


def test_spec_time_distribution_problems():
    with pytest.raises(SpecError) as excinfo:
        training_spec(tiny_spec(distribution={"strategy": "mirored"}))
    assert "train.distribution.strategy" in str(excinfo.value) and "mirrored" in str(excinfo.value)
    with pytest.raises(SpecError, match="train.distribution.devices: multi_worker takes its machines from TF_CONFIG"):
        training_spec(tiny_spec(distribution={"strategy": "multi_worker", "devices": ["/cpu:0"]}))


def test_multi_worker_started_too_late_says_how_to_fix_it(monkeypatch):
    """MultiWorkerMirroredStrategy cannot start once TensorFlow ran an operation in the process."""
    import tensorflow as tf
    from tensorflow.python.eager import context

    tf.constant(1.0) + 1.0  # this process's TensorFlow runtime is initialised
    if context.context()._context_handle is None:  # pragma: no cover - would start a real worker and wait
        pytest.skip("TensorFlow's runtime is not initialised in this process")
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster(free_ports(2), 0)))
    with pytest.raises(KaudioError, match="must start before TensorFlow runs its first operation") as excinfo:
        make_strategy(MULTI_WORKER)
    assert "make_strategy" in str(excinfo.value) and not isinstance(excinfo.value, SpecError)


@pytest.fixture(scope="module")
def toy_folder(tmp_path_factory):
    return write_toy_folder(tmp_path_factory.mktemp("data") / "toy", n=20)


@pytest.mark.parametrize("distribution, tf_config, path", [
    ({"strategy": "mirrored", "devices": ["/gpu:7"]}, None, "train.distribution.devices"),
    (MULTI_WORKER, None, "train.distribution.strategy"),
    (MULTI_WORKER, "not json", "train.distribution.strategy"),
])
def test_cli_distribution_errors_exit_2_without_traceback(tmp_path, toy_folder, capsys, monkeypatch,
                                                          distribution, tf_config, path):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if tf_config is not None:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    spec = write_tiny_spec(tmp_path / "spec.yaml", epochs=1, distribution=distribution)
    assert main(["train", str(spec), "--data", str(toy_folder), "--out", str(tmp_path / "run"), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"spec.yaml: {path}: " in err and "Traceback" not in err


def test_cli_trains_and_evaluates_under_a_strategy(tmp_path, toy_folder, capsys):
    """A mirrored strategy of this process's one CPU: training, the best model and the evaluation run under it."""
    spec = write_tiny_spec(tmp_path / "spec.yaml", epochs=1, distribution={"strategy": "mirrored",
                                                                          "devices": ["/cpu:0"]})
    assert main(["train", str(spec), "--data", str(toy_folder), "--out", str(tmp_path / "run"), "-q"]) == 0
    assert "best epoch 1 of 1" in capsys.readouterr().out
    assert (tmp_path / "run" / "metrics.md").is_file()
    section = {"strategy": "mirrored", "devices": ["/cpu:0"]}
    assert make_strategy(section) is make_strategy(dict(section))  # started once per process
