"""examples/ofa_instruments/run.py: the protocol's bookkeeping (work order and dependencies, the baselines' sizes
and the search budgets, finished runs read back, the result table and figure) and that its specs validate
against a teacher run. The training itself is the ofa / kd / supervised trainers' (tests/training); the example's
numbers come from running it by hand (the example README)."""
import json

import pytest

from tests.conftest import REPO
from tests.examples import load_example

HERE = REPO / "examples" / "ofa_instruments"


@pytest.fixture(scope="module")
def example():
    return load_example("ofa_instruments", "run", "ofa_instruments_run")


def test_items_come_after_what_they_need(example, tmp_path):
    work = example.Work(tmp_path, tmp_path / "data", seeds=2)
    items = work.items()
    assert items[0] == example.Item("teacher")
    assert len(items) == 1 + 2 * 2 + 2 * len(example.BUDGETS) * 2
    for position, item in enumerate(items):
        assert all(items.index(need) < position for need in work.needs(item))
    assert work.needs(example.Item("search", 1)) == [example.Item("supernet", 1)]
    assert work.run_dir(example.Item("kd", 1, "114k")) == tmp_path / "kd" / "114k" / "seed1"
    assert work.run_dir(example.Item("search", 0)) == work.run_dir(example.Item("supernet", 0))


def test_each_budget_holds_its_baseline_and_a_full_population(example):
    from kaudio.models.ofa.space import OfaSpace, parse_count, scaled_width
    from kaudio.spec import load_spec
    from kaudio.spec.source import load_raw
    from kaudio.training.ofa_search import in_budget, parse_budgets

    teacher = load_spec(HERE / "specs" / "teacher.yaml").backbone
    supernet = load_raw(HERE / "specs" / "supernet.yaml").data["backbone"]  # unvalidated: its teacher is not trained here
    space = OfaSpace.from_params(supernet, (401, 64, 1))
    budgets = parse_budgets(example.BUDGETS, example.EPSILON)
    assert [b.label for b in budgets] == list(example.BUDGETS)
    previous_high = 0
    for budget in budgets:
        ratio = example.BASELINE_WIDTHS[budget.label]
        sizes = example.baseline_sizes(ratio)
        config = {"widths": [ratio] * 3, "depths": [2, 2, 2], "fc_width": ratio}
        assert sizes["backbone.filters"] == [teacher["filters"][0]] + [scaled_width(ratio, f) for f in teacher["filters"][1:]]
        assert sizes["backbone.embedding_size"] == scaled_width(ratio, teacher["embedding_size"])
        assert space.count_params(config, 16).trainable in budget  # the individual model is inside its budget
        assert len(in_budget(space, 16, budget)) >= example.POPULATION
        assert budget.low > previous_high  # budgets do not overlap
        previous_high = budget.high
    assert parse_count(example.EPSILON) == 15_000


def test_baseline_sizes_build_the_counted_model(example, tmp_path):
    import kaudio
    from kaudio.training.fit import training_spec

    work = example.Work(tmp_path, tmp_path / "data")
    spec_file, overrides = work.spec_and_overrides(example.Item("scratch", 2, "53k"))
    spec = training_spec(spec_file, overrides)
    assert spec.name == "ofa_instruments_scratch_53k" and spec.train["seed"] == 2
    assert spec.backbone["filters"] == [16, 12, 25, 51]
    assert example.trainable_params(kaudio.build(spec)) == 52_709


def test_kd_and_supernet_specs_validate_against_a_teacher_run(example, tmp_path):
    import kaudio
    from kaudio.training.fit import training_spec

    work = example.Work(tmp_path, tmp_path / "data")
    teacher_spec = training_spec(HERE / "specs" / "teacher.yaml")
    work.teacher_dir.mkdir(parents=True)
    kaudio.build(teacher_spec).save(work.teacher_dir / "best.keras")
    (work.teacher_dir / "spec.yaml").write_text((HERE / "specs" / "teacher.yaml").read_text())
    for item in (example.Item("kd", 1, "200k"), example.Item("supernet", 1)):
        spec = training_spec(*work.spec_and_overrides(item))
        assert spec.teacher["weights"] == str((work.teacher_dir / "best.keras").resolve())
    supernet = training_spec(*work.spec_and_overrides(example.Item("supernet", 0)))
    assert supernet.train["type"] == "ofa" and supernet.train["init_from"].endswith("best.keras")
    assert supernet.train["subnets_per_step"] == 4 and supernet.train["monitor"] == "val_map"
    kd = training_spec(*work.spec_and_overrides(example.Item("kd", 0, "53k")))
    scratch = training_spec(*work.spec_and_overrides(example.Item("scratch", 0, "53k")))
    for key in ("epochs", "batch_size", "learning_rate", "weight_decay", "warmup_epochs", "spec_augment"):
        assert kd.train[key] == scratch.train[key] == teacher_spec.train[key], key  # the same recipe
        if key != "epochs":
            assert supernet.train[key] == teacher_spec.train[key], key
    for key in ("filters", "embedding_size", "input_norm", "dropout", "embedding_dropout"):
        assert supernet.backbone[key] == teacher_spec.backbone[key], key  # the teacher is the largest network


def test_baseline_config_is_the_uniform_sub_network(example):
    largest = {"widths": [1.0, 1.0, 1.0], "depths": [2, 2, 2], "fc_width": 1.0}
    assert example.baseline_config(largest, 0.4) == {"widths": [0.4] * 3, "depths": [2, 2, 2], "fc_width": 0.4}


def test_finished_training_needs_best_keras_a_full_history_and_no_backup(example, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert example.finished_training(run, 3) is None
    (run / "best.keras").write_bytes(b"x")
    (run / "best.json").write_text(json.dumps({"epoch": 2}))
    (run / "history.csv").write_text("epoch,loss\n0,1.0\n1,0.5\n")
    assert example.finished_training(run, 3) is None  # two of three epochs
    (run / "history.csv").write_text("epoch,loss\n0,1.0\n1,0.5\n2,0.6\n")
    assert example.finished_training(run, 3) == (3, 2)
    (run / "backup").mkdir()
    assert example.finished_training(run, 3) is None  # still resumable: not finished


def fake_result(kind, seed, budget=None, pr=0.5, params=1000, best=5, epochs=10):
    out = {"kind": kind, "budget": budget, "seed": seed, "params": params, "epochs": epochs, "best_epoch": best,
           "test": {"pr_auc": pr, "roc_auc": 0.9, "f1": 0.4}}
    if kind == "ofa":
        out.pop("epochs"), out.pop("best_epoch")
        out["config"] = {"widths": [0.4, 0.4, 0.4], "depths": [2, 2, 1], "fc_width": 0.4}
    return out


def test_table_and_figure_from_results(example, tmp_path):
    results = [fake_result("teacher", 0, params=312_416, pr=0.8),
               fake_result("supernet", 0, params=312_416, pr=0.78, best=10, epochs=10),
               fake_result("ofa", 0, "53k", pr=0.7, params=50_000), fake_result("ofa", 1, "53k", pr=0.6, params=54_000),
               fake_result("ofa", 0, "53k_fixed", pr=0.66, params=52_709),
               fake_result("kd", 0, "53k", pr=0.65, params=52_709), fake_result("scratch", 0, "53k", pr=0.55, params=52_709)]
    supernets = [r for r in results if r["kind"] == "supernet"]
    rows = example.summary_rows(results, supernets)
    assert [(r["budget"], r["method"]) for r in rows] == [("53k", "ofa"), ("53k", "ofa_fixed"), ("53k", "kd"),
                                                           ("53k", "scratch")]
    assert rows[1]["params"] == 52_709 and rows[1]["pr_auc"] == pytest.approx((0.66, 0.0))
    ofa = rows[0]
    assert ofa["pr_auc"] == pytest.approx((0.65, 0.05)) and ofa["params"] == 52_000
    assert ofa["converged"].startswith("0/1")  # the supernet's best epoch was its last
    largest = [fake_result("ofa", 0, "largest", pr=0.79, params=312_416)]
    text = example.markdown(rows, results[0], supernets, largest, seeds=2)
    assert text.startswith("**Partial results**")
    assert "| 53k ± 15k | OFA, searched | 2 | 52,000 | 65.0 ± 5.0 |" in text
    assert "| 53k ± 15k | OFA, the baselines' architecture | 1 | 52,709 | 66.0 ± 0.0 |" in text
    assert "| - | teacher | 1 | 312,416 | 80.0 ± 0.0 |" in text
    assert "| - | supernet, largest, BN re-calibrated | 1 | 312,416 | 79.0 ± 0.0 |" in text
    assert "seed 0: " in text
    path = example.figure(rows, results[0], tmp_path / "pareto.png")
    assert path.stat().st_size > 1000

