"""Command discovery, --version, and the console script's error path."""
import os
import subprocess
import sys
from pathlib import Path

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
