"""λ grid (keras-tuner GridSearch on val_fine_bce) and repeated seeds (mean ± std)."""
import importlib
import json

import pytest

from kaudio.errors import KaudioError
from kaudio.training.tuning import LAMBDA_GRID, lambda_grid_search, run_seeds
from tests.training import tiny_spec, toy_dataset


def test_default_grid_is_the_papers():
    assert LAMBDA_GRID == (0.70, 0.75, 0.80, 0.85, 0.90)


@pytest.mark.slow
def test_lambda_grid_picks_the_lowest_validation_fine_bce(tmp_path):
    result = lambda_grid_search(tiny_spec(epochs=1), toy_dataset(16, 0), lambda seed: toy_dataset(8, 1),
                                tmp_path, grid=[0.7, 0.9], verbose=0)
    trials = result["trials"]
    assert [t["fine_weight"] for t in trials] == [0.7, 0.9]
    best = min(trials, key=lambda t: t["val_fine_bce"])
    assert result["best_fine_weight"] == best["fine_weight"]
    assert trials[0]["val_fine_bce"] != trials[1]["val_fine_bce"]  # λ changes training
    for t in trials:
        spec = (tmp_path / f"lambda_{t['fine_weight']:.2f}" / "spec.yaml").read_text()
        assert f"fine_weight: {t['fine_weight']}" in spec
    assert json.loads((tmp_path / "lambda_grid.json").read_text()) == result
    # a second search on the same directory reloads the finished trials instead of training again
    again = lambda_grid_search(tiny_spec(epochs=1), None, None, tmp_path, grid=[0.7, 0.9], verbose=0)
    assert again == result


class _CtrlCAfterFirstEpoch:
    """Wraps kaudio.fit: the ``nth`` call (1-based) is interrupted like Ctrl-C at the end of its first epoch."""

    def __init__(self, real_fit, nth):
        self.real_fit, self.nth, self.weights, self.calls = real_fit, nth, [], 0

    def __call__(self, spec, *args, callbacks=None, **kwargs):
        import keras

        class CtrlC(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                raise KeyboardInterrupt

        overrides = kwargs.get("overrides") or {}
        self.weights.append(overrides.get("loss.fine_weight", spec.to_dict()["loss"]["fine_weight"]))
        self.calls += 1
        extra = [CtrlC()] if self.calls == self.nth else []
        return self.real_fit(spec, *args, callbacks=list(callbacks or []) + extra, **kwargs)


@pytest.mark.slow
def test_an_interrupted_lambda_grid_resumes_and_tries_every_point(tmp_path, monkeypatch):
    """keras-tuner's GridSearch does not save the grid points it visited, so reloading it after an interruption
    ended the search after the finished trials (λ then chosen from part of the grid) or raised a KeyError.
    Running the search again must try every λ: finished trials read back, the interrupted one resumed."""
    fit_module = importlib.import_module("kaudio.training.fit")  # the module (kaudio.training.fit is the function)

    data = dict(train_ds=toy_dataset(16, 0), val_ds=lambda seed: toy_dataset(8, 1), run_dir=tmp_path, verbose=0)
    spy = _CtrlCAfterFirstEpoch(fit_module.fit, nth=2)
    monkeypatch.setattr(fit_module, "fit", spy)
    with pytest.raises(KeyboardInterrupt):
        lambda_grid_search(tiny_spec(epochs=2), grid=[0.7, 0.8, 0.9], **data)
    assert spy.weights == [0.7, 0.8] and (tmp_path / "lambda_0.80" / "backup").is_dir()
    spy.weights.clear()
    result = lambda_grid_search(tiny_spec(epochs=2), grid=[0.7, 0.8, 0.9], **data)
    assert spy.weights == [0.8, 0.9]  # λ 0.7 read back, not trained again
    assert [t["fine_weight"] for t in result["trials"]] == [0.7, 0.8, 0.9]
    assert not (tmp_path / "lambda_0.80" / "backup").exists()


def test_bad_grid():
    with pytest.raises(KaudioError, match="λ grid"):
        lambda_grid_search(tiny_spec(), None, None, "unused", grid=[1.5])


def test_grid_refused_for_the_flat_head(tmp_path):
    with pytest.raises(KaudioError, match="'flat' head trains the fine level only"):
        lambda_grid_search(tiny_spec(head="flat"), None, None, tmp_path, grid=[0.7, 0.9])


def test_run_seeds_reports_mean_and_std(tmp_path):
    result = run_seeds(tiny_spec(epochs=1), toy_dataset(16, 0), toy_dataset(8, 1), toy_dataset(8, 2), tmp_path,
                       seeds=2, verbose=0)
    assert len(result["runs"]) == 2 and result["summary"][0]["runs"] == 2
    assert (tmp_path / "seed_0" / "best.keras").is_file() and (tmp_path / "seed_1" / "metrics.md").is_file()
    table = (tmp_path / "metrics.md").read_text()
    assert "| gmp | 2 |" in table and "±" in table
    assert result["runs"][0] != result["runs"][1]  # the seeds differ
    assert (tmp_path / "metrics.csv").is_file()


def test_run_seeds_keeps_seeds_that_finished_with_the_same_spec(tmp_path, capsys):
    """Re-running after an interruption does not train finished seeds again; another spec retrains them."""
    first = run_seeds(tiny_spec(epochs=1), toy_dataset(16, 0), toy_dataset(8, 1), toy_dataset(8, 2), tmp_path,
                      seeds=2, verbose=0)
    stamps = [(tmp_path / f"seed_{i}" / "best.keras").stat().st_mtime_ns for i in range(2)]
    capsys.readouterr()
    again = run_seeds(tiny_spec(epochs=1), toy_dataset(16, 0), toy_dataset(8, 1), toy_dataset(8, 2), tmp_path,
                      seeds=2, verbose=0)
    assert capsys.readouterr().out.count("finished earlier with this spec") == 2
    assert [(tmp_path / f"seed_{i}" / "best.keras").stat().st_mtime_ns for i in range(2)] == stamps
    assert again["runs"] == first["runs"]
    run_seeds(tiny_spec(epochs=2), toy_dataset(16, 0), toy_dataset(8, 1), toy_dataset(8, 2), tmp_path,
              seeds=1, verbose=0)
    assert "finished earlier" not in capsys.readouterr().out
    assert (tmp_path / "seed_0" / "best.keras").stat().st_mtime_ns != stamps[0]
