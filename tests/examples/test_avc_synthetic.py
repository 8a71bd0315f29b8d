"""examples/avc_synthetic: the synthetic videos and sounds, and downstream.sh (the command-line comparison)."""
import csv
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from tests.examples import load_example

HERE = REPO / "examples" / "avc_synthetic"
pytest.importorskip("av")


def load(name):
    return load_example("avc_synthetic", name)


def test_videos_and_held_out_sounds(tmp_path):
    make = load("make_videos")
    assert make.main(["--out", str(tmp_path / "videos"), "--families", "2", "--videos-per-family", "2",
                      "--seconds", "1.5", "--audio-out", str(tmp_path / "sounds"), "--clips-per-family", "2",
                      "--folds", "2"]) == 0
    from kaudio.data.avc import scan_videos

    index = scan_videos(tmp_path / "videos")
    assert sorted(v.key for v in index.videos) == [f"family{f}_00{i}.mp4" for f in range(2) for i in range(2)]
    with open(tmp_path / "sounds" / "labels.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["label"], r["fold"]) for r in rows] == [("family0", "1"), ("family0", "2"), ("family1", "1"),
                                                        ("family1", "2")]
    rng = np.random.default_rng(0)
    sounds = [make.family_sound(family, 1.0, rng) for family in range(6)]
    assert all(s.shape == (48000,) and np.max(np.abs(s)) <= 1 for s in sounds)
    picture = make.Picture(3, rng)
    assert picture.frame(0.5).shape == (make.HEIGHT, make.WIDTH, 3)


@pytest.mark.slow  # seven kaudio processes (four import TensorFlow): 52 s measured on 2 busy cores
def test_downstream_script_compares_the_three_feature_sets_with_the_command_line(tmp_path):
    """downstream.sh on a tiny AVC run and a tiny labelled set: export, three reports, the comparison."""
    import json
    import os
    import subprocess

    from kaudio.spec import load_spec
    from tests.downstream.synthetic import make_tone_dataset
    from tests.training.avc_data import tiny_avc_spec, write_avc_run

    write_avc_run(tmp_path / "run", load_spec(tiny_avc_spec()))
    sounds = make_tone_dataset(tmp_path / "sounds", folds=(1, 2), clips_per_class=2)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(HERE / "downstream.sh"), str(tmp_path / "run"), str(sounds),
                             str(tmp_path / "out"), "--grid", "quick", "--epochs", "2", "--quiet"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    reports = {name: json.loads((tmp_path / "out" / f"{name}.json").read_text())["features"]
               for name in ("trained", "random", "logmel")}
    assert reports["trained"]["model"] == "tiny_avc_audio_embedding" and reports["trained"]["dimension"] == 8
    assert reports["random"]["weights"].startswith("random seed 0") and reports["logmel"]["dimension"] == 256
    comparison = (tmp_path / "out" / "comparison.md").read_text()
    assert comparison.count("Wilcoxon signed-rank test") == 3 and "## random vs logmel" in comparison
