"""Command discovery, --version, and the console script's error path."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kaudio.cli.main import _command_modules, main


def test_commands_are_discovered():
    names = {c.COMMAND for c in _command_modules()}
    assert {"build", "validate", "specs"} <= names


def test_version_and_no_command(capsys):
    assert main(["--version"]) == 0 and capsys.readouterr().out.startswith("kaudio ")
    assert main([]) == 2


def test_console_script_bad_spec_file_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndescription: y\ninput: {type: audio, sample_rate: 8000, samples: 100}\n"
                   "backbone: {type: l3_audio, filters: [4, nope]}\n")
    exe = Path(sys.executable).with_name("kaudio")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "kaudio"]
    result = subprocess.run(cmd + ["build", str(bad)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 2
    assert f"{bad}:4: backbone.filters[1]: expected an integer, got string 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def _kaudio_command() -> list[str]:
    exe = Path(sys.executable).with_name("kaudio")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "kaudio"]


def _clean_env() -> dict:
    """The user's environment: no TF_CPP_MIN_LOG_LEVEL set by the test session."""
    return {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}


def test_importing_the_command_line_does_not_import_tensorflow():
    code = ("import sys, kaudio.cli.main, kaudio; "
            "heavy = [m for m in ('tensorflow', 'keras', 'kapre', 'librosa') if m in sys.modules]; "
            "print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_import_kaudio_is_enough_for_load_model(tmp_path):
    """`import kaudio` (light) then `import keras`: kaudio's classes are registered when Keras arrives."""
    code = ("import kaudio, keras; "
            "print('kaudio>KaudioModel' in keras.saving.get_custom_objects(), "
            "'kaudio>MelSpectrogram' in keras.saving.get_custom_objects())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True"


def test_help_version_and_specs_print_no_tensorflow_logs():
    for args in (["--help"], ["--version"], ["specs"], ["build"]):
        result = subprocess.run(_kaudio_command() + args, capture_output=True, text=True, timeout=120, env=_clean_env())
        assert result.returncode in (0, 2), (args, result.stderr)
        assert "tensorflow" not in result.stderr.lower() and "cuda" not in result.stderr.lower(), (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_commands_print_no_tensorflow_logs(tmp_path):
    """A command that imports TensorFlow (validate builds the shape checks) prints only its own output."""
    result = subprocess.run(_kaudio_command() + ["validate", "l3_m256_512"], capture_output=True, text=True,
                            timeout=300, env=_clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("name: l3_m256_512")


@pytest.mark.slow
def test_ctrl_c_during_embed_exits_130_with_one_line(tmp_path):
    """A real SIGINT while `kaudio embed` works through several files."""
    audio = tmp_path / "in"
    audio.mkdir()
    for i in range(6):
        sf.write(audio / f"clip{i}.wav", np.random.default_rng(i).standard_normal(48000 * 3).astype(np.float32) * 0.1,
                 48000)
    out = tmp_path / "out"
    process = subprocess.Popen(_kaudio_command() + ["embed", str(audio), "-o", str(out), "--weights", "none",
                                                    "--embedding-size", "512", "--hop-size", "0.5"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_clean_env())
    deadline = time.monotonic() + 240
    while not list(out.glob("*.npz")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert all(line.startswith("embedding: ") for line in lines[:-1]), stderr  # plain progress lines only
    assert "interrupted after" in lines[-1] and "run the same command again" in lines[-1]
    written = list(out.glob("*.npz"))
    assert 1 <= len(written) < 6 and not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    for path in written:
        with np.load(path) as data:  # every file that exists is complete
            assert data["embedding"].shape[1] == 512
