"""Evaluation of a run: predictions over a dataset, thresholds tuned on val, Table-1 files."""
import csv
import json

import numpy as np
import pytest
import tensorflow as tf

import kaudio
from kaudio.errors import KaudioError
from kaudio.hierarchy import Hierarchy
from kaudio.training.evaluate import (evaluate_model, load_thresholds, predict_dataset, save_thresholds,
                                      tune_level_thresholds)
from tests.training import HIERARCHY, tiny_spec, toy_arrays, toy_dataset


class Oracle:
    """A 'model' returning the targets (as probabilities) hidden in the audio's first samples."""

    spec = kaudio.load_spec(tiny_spec())
    name = "oracle"

    def __call__(self, audio, training=False):
        fine = tf.cast(audio[:, :4, 0] > 0.5, "float32") * 0.9 + 0.05
        coarse = tf.stack([tf.reduce_max(fine[:, :2], 1), tf.reduce_max(fine[:, 2:], 1)], 1)
        return {"fine": fine, "coarse": coarse}


def _oracle_dataset(n, seed):
    audio, targets = toy_arrays(n, seed)
    audio[:, :4, 0] = targets["fine"]
    return tf.data.Dataset.from_tensor_slices((audio, targets)).batch(5)


def test_predict_dataset_concatenates_batches_in_order():
    model = kaudio.build(tiny_spec())
    targets, scores = predict_dataset(model, toy_dataset(13, 0, batch_size=5))
    audio, expected = toy_arrays(13, 0)
    assert scores["fine"].shape == (13, 4) and scores["coarse"].shape == (13, 2)
    np.testing.assert_array_equal(targets["fine_mask"], expected["fine_mask"])
    np.testing.assert_allclose(scores["fine"], np.asarray(model(audio)["fine"]), atol=1e-5)


def test_oracle_scores_perfectly_and_files_are_written(tmp_path):
    result = evaluate_model(Oracle(), _oracle_dataset(20, 0), _oracle_dataset(20, 1), tmp_path, method="oracle")
    for row in result["rows"]:
        assert row["roc_auc"] == pytest.approx(1.0) and row["f1"] == pytest.approx(1.0), row
    thresholds = json.loads((tmp_path / "thresholds.json").read_text())
    assert list(thresholds["fine"]) == ["tone300", "tone700", "tone1800", "tone3000"]
    assert list(thresholds["coarse"]) == ["low", "high"]
    table = (tmp_path / "metrics.md").read_text()
    assert "| oracle | 1 | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 |" in table
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert rows[0]["method"] == "oracle" and float(rows[0]["coarse_f1_mean"]) == pytest.approx(1.0)


def test_thresholds_are_tuned_on_validation_per_level():
    targets = {"fine": np.array([[1, 0], [0, 1], [1, 1]], np.float32), "coarse": np.array([[1], [0], [1]], np.float32)}
    scores = {"fine": np.array([[0.3, 0.1], [0.2, 0.8], [0.4, 0.9]]), "coarse": np.array([[0.6], [0.1], [0.7]])}
    thresholds = tune_level_thresholds(targets, scores)
    np.testing.assert_allclose(thresholds["fine"], [0.3, 0.8])
    np.testing.assert_allclose(thresholds["coarse"], [0.6])


def test_given_thresholds_need_no_validation_data(tmp_path):
    thresholds = {"fine": np.full(4, 0.5), "coarse": np.full(2, 0.5)}
    result = evaluate_model(Oracle(), None, _oracle_dataset(20, 1), tmp_path, method="oracle", thresholds=thresholds,
                            stem="metrics_other")
    assert all(row["f1"] == pytest.approx(1.0) for row in result["rows"])
    assert (tmp_path / "metrics_other.md").is_file() and not (tmp_path / "thresholds.json").exists()
    with pytest.raises(KaudioError, match="needs the validation data"):
        evaluate_model(Oracle(), None, _oracle_dataset(20, 1))


def test_thresholds_json_round_trip(tmp_path):
    hierarchy = Hierarchy.from_mapping(HIERARCHY)
    names = {"fine": list(hierarchy.fine_names), "coarse": list(hierarchy.coarse_names)}
    values = {"fine": np.array([0.1, 0.2, 0.3, 0.4]), "coarse": np.array([0.5, 0.6])}
    save_thresholds(tmp_path / "t.json", values, names)
    back = load_thresholds(tmp_path / "t.json", names)
    np.testing.assert_allclose(back["fine"], values["fine"])
    save_thresholds(tmp_path / "u.json", values)  # no names: plain lists
    np.testing.assert_allclose(load_thresholds(tmp_path / "u.json")["coarse"], values["coarse"])


def test_empty_or_flat_inputs_raise():
    empty = toy_dataset(4).take(0)
    with pytest.raises(KaudioError, match="empty"):
        predict_dataset(kaudio.build(tiny_spec()), empty)
    targets, scores = predict_dataset(lambda audio, training=False: audio[:, :4, 0], toy_dataset(4))
    assert set(scores) == {"labels"}  # a single output
    with pytest.raises(KaudioError, match="evaluation needs the model output 'fine'"):
        tune_level_thresholds(targets, scores)
