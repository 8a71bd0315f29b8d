"""kaudio.downstream.protocol: clip-level validation split, one fold, the whole protocol (serial and in processes)."""
import numpy as np
import pytest

from kaudio.downstream.protocol import ProtocolSettings, evaluate_fold, run_downstream, split_validation_clips
from kaudio.errors import KaudioError
from tests.downstream.synthetic import make_tone_dataset


def test_validation_split_is_by_clip_and_stratified():
    labels = np.array([0] * 10 + [1] * 5 + [2])
    train, val = split_validation_clips(labels, 0.1, seed=3)
    assert len(np.intersect1d(train, val)) == 0 and sorted(np.concatenate([train, val])) == list(range(16))
    assert sorted(labels[val]) == [0, 1]  # round(0.1 * 15) = 2 clips, at least one per class that has two
    assert 15 in train  # the single clip of class 2 stays in training
    again, _ = split_validation_clips(labels, 0.1, seed=3)
    np.testing.assert_array_equal(train, again)
    many = np.repeat(np.arange(4), 25)
    train, val = split_validation_clips(many, 0.1, seed=0)
    assert len(val) == 10 and set(np.bincount(many[val], minlength=4)) <= {2, 3}
    with pytest.raises(KaudioError, match="no class has two training clips"):
        split_validation_clips(np.array([0, 1, 2]), 0.1, seed=0)


def clip_features(seed, clips_per_class=6, classes=3, dim=8):
    """Per-clip window features around class centres (3 to 6 windows per clip) and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), clips_per_class)
    centres = 2.0 * rng.standard_normal((classes, dim))
    features = [(centres[c] + rng.standard_normal((rng.integers(3, 7), dim))).astype(np.float32) for c in labels]
    return features, labels


def test_one_fold_trains_on_the_others_and_scores_clips():
    features, labels = clip_features(0)
    test = np.zeros(len(labels), bool)
    test[::3] = True
    protocol = ProtocolSettings(learning_rates=(1e-3, 1e-4), weight_decays=(1e-4,), epochs=6, patience=6)
    result = evaluate_fold(features, labels, test, 3, protocol, fold_index=0, fold="a")
    assert result["test_clips"] == 6 and result["train_clips"] + result["validation_clips"] == 12
    assert result["validation_clips"] == 3  # at least one clip per class
    assert result["test_windows"] == sum(len(features[i]) for i in np.flatnonzero(test))
    train_and_val = sum(len(features[i]) for i in np.flatnonzero(~test))
    assert result["train_windows"] < train_and_val  # the validation clips' windows are held out whole
    assert [(g["learning_rate"], g["weight_decay"]) for g in result["grid"]] == [(1e-3, 1e-4), (1e-4, 1e-4)]
    best = max(result["grid"], key=lambda g: (g["val_accuracy"], -g["val_loss"]))
    assert (result["learning_rate"], result["val_accuracy"]) == (best["learning_rate"], best["val_accuracy"])
    assert result["accuracy"] == result["correct"] / 6 and result["accuracy"] >= 5 / 6
    assert result["classes_without_training_clips"] == []


def test_protocol_settings_are_checked():
    assert ProtocolSettings().grid == [(a, b) for a in (1e-5, 1e-4, 1e-3) for b in (1e-5, 1e-4, 1e-3)]
    assert ProtocolSettings.from_grid("quick").grid == [(1e-3, 1e-4)]
    with pytest.raises(KaudioError, match="grid must be one of full, quick"):
        ProtocolSettings.from_grid("tiny")
    with pytest.raises(KaudioError, match="epochs must be a positive integer"):
        ProtocolSettings(epochs=0)
    with pytest.raises(KaudioError, match="learning_rates must be a non-empty list of positive numbers"):
        ProtocolSettings(learning_rates=())
    with pytest.raises(KaudioError, match="validation_fraction must be between 0 and 1"):
        ProtocolSettings(validation_fraction=1.0)


QUICK = ProtocolSettings.from_grid("quick", epochs=12, patience=12)


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    return make_tone_dataset(tmp_path_factory.mktemp("downstream") / "tones", short_seconds=0.7)


@pytest.fixture(scope="module")
def serial_report(tones):
    return run_downstream(tones, "logmel", cache=tones.parent / "cache", protocol=QUICK, jobs=1)


def test_logmel_protocol_tests_every_fold_once(serial_report):
    report = serial_report
    assert [f["fold"] for f in report["folds"]] == ["1", "2", "3"]
    assert sum(f["test_clips"] for f in report["folds"]) == 36 and all(f["test_clips"] == 12 for f in report["folds"])
    # chance is 1/3; the 0.7-s clip of each class and fold is mostly zero padding, the others are easy
    assert report["accuracy"]["mean"] >= 0.8 and report["accuracy"]["folds"] == 3
    accuracies = [f["accuracy"] for f in report["folds"]]
    assert report["accuracy"]["std"] == pytest.approx(np.std(accuracies, ddof=1))
    assert report["features"]["computed_clips"] == 36 and report["features"]["windows"] == 27 * 6 + 9
    assert report["dataset"]["layout"] == "labels.csv" and report["protocol"]["epochs"] == 12


@pytest.mark.slow  # two spawned TensorFlow processes: ~25 s on 2 busy cores
def test_worker_processes_reuse_the_cache_and_give_the_same_report(tones, serial_report):
    """Same seed, fresh processes: the same grid results as the serial run (so the protocol is
    deterministic given the seed), and the features come from the cache."""
    seen = []
    parallel = run_downstream(tones, "logmel", cache=tones.parent / "cache", protocol=QUICK, jobs=2,
                              on_fold=lambda r: seen.append(r["fold"]))
    assert parallel["jobs"] == 2 and sorted(seen) == ["1", "2", "3"]
    assert parallel["features"]["cached_clips"] == 36 and parallel["features"]["computed_clips"] == 0
    assert [f["fold"] for f in parallel["folds"]] == ["1", "2", "3"]
    # Selections, epochs and accuracies are identical; losses agree to float32 rounding (a fresh process
    # may order the CPU reductions differently: CI saw a 2e-7 relative difference).
    for got, want in zip(parallel["folds"], serial_report["folds"]):
        assert len(got["grid"]) == len(want["grid"])
        for got_row, want_row in zip(got["grid"], want["grid"]):
            assert {k: v for k, v in got_row.items() if k != "val_loss"} == \
                {k: v for k, v in want_row.items() if k != "val_loss"}
            assert got_row["val_loss"] == pytest.approx(want_row["val_loss"], rel=1e-5)
    assert parallel["accuracy"] == serial_report["accuracy"]


def test_logmel_has_no_weights(tones):
    with pytest.raises(KaudioError, match="the logmel baseline has no weights"):
        run_downstream(tones, "logmel", weights="some.weights.h5")
    with pytest.raises(KaudioError, match="jobs must be a positive integer"):
        run_downstream(tones, "logmel", jobs=0)


def test_an_embedding_model_runs_the_same_protocol(tiny_model, tones, tmp_path):
    """A kaudio embedding model (the tiny test model: 0.5-s windows at 8 kHz, random weights) in place of logmel."""
    protocol = ProtocolSettings.from_grid("quick", epochs=2)
    report = run_downstream(tones, tiny_model, embedding_size=8, weights=None, cache=tmp_path / "cache",
                            protocol=protocol)
    features = report["features"]
    assert (features["model"], features["weights"], features["dimension"]) == (tiny_model, "random", 8)
    # 1.5 s at 8 kHz: 1 + (12000 - 4000) // 800 = 11 windows; 0.7 s: 1 + (5600 - 4000) // 800 = 3
    assert features["windows"] == 27 * 11 + 9 * 3 and features["center"] is False
    assert len(report["folds"]) == 3 and 0.0 <= report["accuracy"]["mean"] <= 1.0
