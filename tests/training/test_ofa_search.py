"""The once-for-all search: budgets, the in-budget candidates and their draw, the keras-tuner oracle (out-of-budget
configurations never become trials, p per budget), the written results, resuming an interrupted search, refusing a
search folder of another supernet or settings."""
import json

import keras
import keras_tuner
import numpy as np
import pytest

import kaudio
from kaudio.errors import KaudioError
from kaudio.models.ofa import extract_subnet, load_config, ofa_space
from kaudio.training import ofa_search
from kaudio.training.ofa_search import (Budget, BudgetOracle, CandidateScorer, CandidateTuner, config_from_values,
                                        draw_population, hp_values, in_budget, parse_budgets, search)
from tests.models.ofa import randomize_statistics, tiny_ofa_spec, waveforms

SMALL, MEDIUM = Budget(6_000, 1_000), Budget(10_000, 1_000)


@pytest.fixture(scope="module")
def supernet():
    keras.utils.set_random_seed(0)
    model = kaudio.build(tiny_ofa_spec(num_classes=4))
    randomize_statistics(model)
    return model


@pytest.fixture(scope="module")
def val_ds():
    import tensorflow as tf

    labels = np.zeros((8, 4), "float32")
    labels[np.arange(8), np.arange(8) % 4] = 1
    labels[::3, 0] = 1
    return tf.data.Dataset.from_tensor_slices((waveforms(8), {"labels": labels, "labels_mask": np.ones_like(labels)})
                                              ).batch(4)


def test_budgets_from_the_command_line():
    found = parse_budgets(["0.8M", "1800000", "950k"], "0.2M")
    assert [(b.params, b.epsilon, b.label, b.folder) for b in found] == [
        (800_000, 200_000, "800k", "params_800k"), (1_800_000, 200_000, "1.8M", "params_1.8M"),
        (950_000, 200_000, "950k", "params_950k")]
    assert 1_600_000 in found[1] and 2_000_000 in found[1] and 2_000_001 not in found[1]
    assert found[1].describe() == "1.8M ± 200k (1,600,000-2,000,000 trainable parameters)"
    with pytest.raises(KaudioError, match="--params names a budget twice: 1.8M 1.8M"):
        parse_budgets(["1.8M", "1800k"])
    with pytest.raises(KaudioError, match="--epsilon: expected a count like 1.8M, 800k or 1800000, got 'wide'"):
        parse_budgets(["1.8M"], "wide")


def test_candidates_in_a_budget_and_the_nearest_sizes(supernet):
    space = ofa_space(supernet)
    inside = in_budget(space, 4, SMALL)
    assert len(inside) == 97 and all(5_000 <= n <= 7_000 for _, n in inside)
    assert all(space.count_params(config, 4).trainable == n for config, n in inside)
    with pytest.raises(KaudioError) as info:
        in_budget(space, 4, Budget(1_000, 100))
    assert "no sub-network of this supernet has 1k ± 100 (900-1,100 trainable parameters); the nearest sizes are " \
           "above: 3,044 (widths 0.4/0.4/0.4 depths 2/2/1 fc 0.4) (the space spans 3,044 to 24,044)" in str(info.value)
    with pytest.raises(KaudioError, match=r"nearest sizes are below: 22,156 \(widths .*\); above: 23,304 \(widths "):
        in_budget(space, 4, Budget(22_700, 500))  # in the gap between two sizes
    drawn = draw_population(inside, 5, seed=0)
    assert len(drawn) == 5 and len({json.dumps(c) for c, _ in drawn}) == 5 and drawn == draw_population(inside, 5, 0)
    assert draw_population(inside, 10, 0)[:5] == drawn  # a larger population extends the same draw
    assert sorted(map(json.dumps, draw_population(inside[:3], 25, 0))) == sorted(map(json.dumps, inside[:3]))


def test_configurations_as_hyperparameters(supernet, tmp_path):
    space = ofa_space(supernet)
    for config in space.configs():
        assert config_from_values(space, hp_values(space, config)) == config
    assert list(hp_values(space, space.largest())) == ["width_conv_block2", "width_conv_block3", "width_conv_block4",
                                                       "depth_conv_block4", "fc_width"]
    population = [config for config, _ in draw_population(in_budget(space, 4, SMALL), 3, 0)]
    oracle = BudgetOracle(space, population)
    oracle._set_project_dir(str(tmp_path), "oracle")
    handed = []
    while True:
        trial = oracle.create_trial("tuner0")
        if trial.status == keras_tuner.engine.trial.TrialStatus.STOPPED:
            break
        handed.append(config_from_values(space, trial.hyperparameters.values))
        oracle.update_trial(trial.trial_id, {"val_map": 0.5})
        oracle.end_trial(trial)
    assert handed == population


def read(path):
    return json.loads(path.read_text())


def test_search_writes_the_best_per_budget(supernet, val_ds, tmp_path, capsys):
    result = search(supernet, val_ds, tmp_path / "search", [SMALL, MEDIUM], population=3,
                    identity={"supernet": "abc"})
    out = capsys.readouterr().out
    assert "search 6k ± 1k (5,000-7,000 trainable parameters): 3 candidates (3 of 97 in the budget)" in out
    assert out.count("  [6k] widths ") == 3 and out.count("  [10k] widths ") == 3
    assert list(result.constraints) == ["6k", "10k"] and "| 6k ± 1k | 97 | 3 |" in result.markdown
    for budget in (SMALL, MEDIUM):
        entry = read(tmp_path / "search" / budget.folder / "candidates.json")
        assert len(entry["candidates"]) == 3 and entry["in_budget"] == len(in_budget(ofa_space(supernet), 4, budget))
        assert all(row["trainable_params"] in budget for row in entry["candidates"])
        best = max(entry["candidates"], key=lambda row: row["val_map"])
        assert entry["best"] == best and result.constraints[budget.label]["best"] == best
        config, _ = load_config(tmp_path / "search" / f"best_{budget.label}.yaml")  # what kaudio ofa extract reads
        assert ofa_space(supernet).validate(config) == best["config"]
        saved = keras.models.load_model(tmp_path / "search" / f"best_{budget.label}.keras")
        x = waveforms(2)
        np.testing.assert_allclose(saved.predict(x, verbose=0),
                                   extract_subnet(supernet, best["config"]).predict(x, verbose=0), atol=1e-5)
    assert read(tmp_path / "search" / "summary.json")["constraints"][0]["label"] == "6k"
    tuner = CandidateTuner(BudgetOracle(ofa_space(supernet), []), ofa_space(supernet), None,
                           directory=str(tmp_path / "search"), project_name=SMALL.folder)  # keras-tuner's own view
    tuner.results_summary(1)
    assert "Showing 1 best trials" in capsys.readouterr().out and len(tuner.oracle.trials) == 3


def test_an_interrupted_search_resumes_where_it_stopped(supernet, val_ds, tmp_path, monkeypatch):
    scored = []
    original = CandidateScorer.__call__

    def interrupted_on_the_third(self, config):
        if len(scored) == 2:
            raise KeyboardInterrupt
        scored.append(config)
        return original(self, config)

    monkeypatch.setattr(CandidateScorer, "__call__", interrupted_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        search(supernet, val_ds, tmp_path, [SMALL], population=4)
    assert not (tmp_path / SMALL.folder / "candidates.json").exists()

    def counted(self, config):
        scored.append(config)
        return original(self, config)

    monkeypatch.setattr(CandidateScorer, "__call__", counted)
    search(supernet, val_ds, tmp_path, [SMALL], population=4)
    assert len(scored) == 4  # two before the interruption, the interrupted one again and the last
    entry = read(tmp_path / SMALL.folder / "candidates.json")
    assert [row["config"] for row in entry["candidates"]] == scored
    search(supernet, val_ds, tmp_path, [SMALL], population=5)  # a larger population continues the same draw
    assert len(scored) == 5 and len(read(tmp_path / SMALL.folder / "candidates.json")["candidates"]) == 5


def test_a_search_folder_of_another_supernet_or_settings_is_refused(supernet, val_ds, tmp_path):
    search(supernet, val_ds, tmp_path, [SMALL], population=1, identity={"supernet": "abc"})
    with pytest.raises(KaudioError, match=r"params_6k holds a search of another supernet \(identity.supernet: 'abc' "
                                          r"there, 'def' now\).*give --overwrite"):
        search(supernet, val_ds, tmp_path, [SMALL], population=1, identity={"supernet": "def"})
    with pytest.raises(KaudioError, match=r"holds a search of other settings \(epsilon: 1000 there, 2000 now"):
        search(supernet, val_ds, tmp_path, [Budget(6_000, 2_000)], population=1, identity={"supernet": "abc"})
    search(supernet, val_ds, tmp_path, [SMALL], population=1, identity={"supernet": "def"}, overwrite=True)
    assert read(tmp_path / SMALL.folder / "kaudio_search.json")["identity"] == {"supernet": "def"}
    (tmp_path / "other" / SMALL.folder).mkdir(parents=True)
    (tmp_path / "other" / SMALL.folder / "oracle.json").write_text("{}")
    with pytest.raises(KaudioError, match="exists but was not written by kaudio ofa search"):
        search(supernet, val_ds, tmp_path / "other", [SMALL], population=1)


def test_a_scoring_error_stops_the_search(supernet, tmp_path):
    import tensorflow as tf

    labels = np.ones((4, 4), "float32")  # every clip positive for every class: no average precision
    undefined = tf.data.Dataset.from_tensor_slices((waveforms(4), {"labels": labels})).batch(4)
    with pytest.raises(KaudioError, match="the validation mAP is undefined"):
        search(supernet, undefined, tmp_path, [SMALL], population=2)
    assert ofa_search.DEFAULT_POPULATION == 25 and ofa_search.DEFAULT_EPSILON == 200_000
