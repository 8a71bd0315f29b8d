"""examples/avc_synthetic: the synthetic videos and sounds, and the tower feature extractor of downstream.py."""
import csv
import importlib.util
import sys

import numpy as np
import pytest

from tests.conftest import REPO

HERE = REPO / "examples" / "avc_synthetic"
pytest.importorskip("av")


def load(name):
    spec = importlib.util.spec_from_file_location(f"avc_synthetic_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


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


def test_tower_features_are_the_tapped_embedding_per_protocol_window():
    from kaudio.downstream.features import uniform_window_count
    from kaudio.models.kaudio_model import KaudioModel
    from kaudio.spec import load_spec
    from tests.training.avc_data import tiny_avc_spec

    downstream = load("downstream")
    model = KaudioModel(load_spec(tiny_avc_spec()))
    features = downstream.TowerFeatures(model, "tiny", "random")
    signal = np.random.default_rng(0).standard_normal(12000).astype("float32")
    values = features.compute([signal])[0]
    assert values.shape == (uniform_window_count(12000, 8000, 800), 8)
    backbone = model.tower("audio").get_layer("backbone")
    tapped = backbone.get_layer("audio_embedding_layer").output
    import keras

    first = keras.Model(backbone.input, tapped)(model.tower("audio").get_layer("frontend")(signal[None, :8000, None]))
    np.testing.assert_allclose(values[0], np.max(np.asarray(first), axis=(1, 2))[0], rtol=1e-5, atol=1e-6)
    assert features.settings(REPO).items()["embedding_size"] == 8
