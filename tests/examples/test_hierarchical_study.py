"""examples/hierarchical_instruments/study.py: the bookkeeping of the recipe ablation (cells, which runs are
one training run, λ-grid gating, pairing by seed, paired differences, tables, continuing runs that did not
converge, one child process per run). Training itself is run by hand
(the example README)."""
import json
import math

import pytest

from tests.conftest import REPO
from tests.examples import example_on_path, load_example

HERE = REPO / "examples" / "hierarchical_instruments"


@pytest.fixture(scope="module")
def study():
    with example_on_path("hierarchical_instruments"):  # the script imports its sibling scripts when it runs
        yield load_example("hierarchical_instruments", "study", "hierarchical_study")


def rows(coarse_pr, fine_pr=0.5):
    return [{"level": "fine", "roc_auc": 0.8, "pr_auc": fine_pr, "f1": 0.5},
            {"level": "coarse", "roc_auc": 0.9, "pr_auc": coarse_pr, "f1": 0.6}]


def test_cells_change_one_factor_and_the_first_and_last_train_every_head(study):
    cells = study.study_cells(recipe={"backbone.embedding_size": 256})
    assert cells[0].name == "base" and cells[0].overrides == {} and set(cells[0].heads) == set(study.ALL_HEADS)
    assert cells[-1].name == "recipe" and set(cells[-1].heads) == set(study.ALL_HEADS)
    for cell in cells[1:-1]:
        assert cell.heads == ("flat", "resatt")
        assert len(cell.overrides) + len(cell.head_overrides) + cell.lambda_grid >= 1
        assert set(cell.overrides) <= set(study.BASE_RECIPE)  # a factor of the recipe, changed from its base value
        assert all(study.BASE_RECIPE[k] != v for k, v in cell.overrides.items())
    assert [c.name for c in study.study_cells(recipe=None)][-1] != "recipe"


def test_run_changes_drop_base_values_and_keys_the_head_ignores(study):
    cell = study.Cell("x", "", {"backbone.embedding_size": 256, "train.learning_rate": 1e-3})
    assert study.run_changes(cell, "resatt") == {"backbone.embedding_size": 256}
    grid = study.Cell("g", "", lambda_grid=True)
    assert study.run_changes(grid, "resatt", 0.75) == {"loss.fine_weight": 0.75}
    assert study.run_changes(grid, "resatt", 0.8) == {}  # λ 0.8 is the base run
    assert study.run_changes(grid, "flat", 0.75) == {}  # flat trains the fine level only: λ does not matter
    restrict = study.Cell("r", "", head_overrides={"resatt": {"head.restrict_to_children": True}})
    assert study.run_changes(restrict, "flat") == {}
    assert study.slug({"b": 2, "a": True}) == "a=True+b=2" and study.slug({}) == "base"


def test_plan_shares_identical_runs_and_waits_for_the_lambda_grid(study):
    cells = [study.Cell("base", "", {}, study.ALL_HEADS), study.Cell("lambda_grid", "", lambda_grid=True),
             study.Cell("emb256", "", {"backbone.embedding_size": 256})]
    planned = study.plan(cells, seeds=3)
    assert len(planned) == 3 * 4 + 3 * 1 + 3 * 2  # the grid's resatt runs wait for its λ
    assert [(r.cell, r.head) for r in planned if r.cell == "lambda_grid"] == [("lambda_grid", "flat")] * 3
    unique = study.unique_runs(planned)
    assert len(unique) == len(planned) - 3  # the λ cell's flat runs are the base cell's
    planned = study.plan(cells, seeds=3, chosen_lambda={"resatt": 0.85})
    grid_resatt = [r for r in planned if r.cell == "lambda_grid" and r.head == "resatt"]
    assert [dict(r.changes) for r in grid_resatt] == [{"loss.fine_weight": 0.85}] * 3
    assert [r.seed for r in grid_resatt] == [0, 1, 2]
    same_as_base = study.plan(cells, seeds=1, chosen_lambda={"resatt": 0.8})
    assert len(study.unique_runs(same_as_base)) == 4 + 2  # λ 0.8 chosen: the grid cell is the base cell
    overrides = dict(item.split("=", 1) for item in grid_resatt[0].overrides())
    assert overrides["loss.fine_weight"] == "0.85" and overrides["backbone.embedding_size"] == "64"
    assert overrides["train.epochs"] == str(study.BUDGET["train.epochs"])


def test_paired_differences_pair_by_seed(study):
    scores = {("flat", 0): 0.60, ("flat", 1): 0.70, ("flat", 2): 0.65,
              ("resatt", 0): 0.64, ("resatt", 1): 0.68, ("resatt", 3): 0.99}  # seed 3 has no flat run
    diff = study.paired_differences(scores, "resatt")
    assert diff["seeds"] == [0, 1] and diff["n"] == 2 and diff["wins"] == 1
    assert diff["diffs"] == pytest.approx([0.04, -0.02])
    assert diff["mean"] == pytest.approx(0.01)
    assert diff["std"] == pytest.approx(math.sqrt(((0.03) ** 2 + (0.03) ** 2) / 1))
    one = study.paired_differences({("flat", 0): 0.5, ("gmp", 0): 0.6}, "gmp")
    assert one["n"] == 1 and one["std"] == 0.0 and one["wins"] == 1
    none = study.paired_differences({("flat", 0): 0.5}, "gmp")
    assert none["n"] == 0 and math.isnan(none["mean"])


def test_choose_lambda_takes_the_lowest_validation_fine_bce(study):
    assert study.choose_lambda({0.7: 0.30, 0.75: 0.28, 0.8: 0.29}) == 0.75
    assert study.choose_lambda({0.9: 0.2, 0.7: 0.2}) == 0.7
    with pytest.raises(ValueError):
        study.choose_lambda({})


def test_cell_rows_and_tables(study):
    cell = study.Cell("base", "", {}, ("flat", "gmp", "resatt"))
    results = {}
    for seed, (flat, gmp) in enumerate([(0.70, 0.75), (0.72, 0.71), (0.68, 0.74)]):
        results[("flat", seed)] = {"rows": rows(flat), "best_epoch": 20, "epochs": 25, "epoch_seconds": [10.0, 12.0]}
        results[("gmp", seed)] = {"rows": rows(gmp, 0.55), "best_epoch": 25, "epochs": 25, "epoch_seconds": [20.0]}
    out = study.cell_rows(cell, results)
    assert [r["head"] for r in out] == ["flat", "gmp"]  # no resatt results yet
    flat, gmp = out
    assert "coarse_pr_auc_diff" not in flat and flat["converged"] == 3 and flat["seconds_per_epoch"] == 11.0
    assert gmp["converged"] == 0 and gmp["best_epochs"] == [25, 25, 25]
    assert gmp["coarse_pr_auc_diff"]["wins"] == 2 and gmp["coarse_pr_auc_diff"]["mean"] == pytest.approx(0.1 / 3)
    assert gmp["fine_pr_auc_diff"]["mean"] == pytest.approx(0.05)
    text = study.markdown_tables([cell], {"base": out})
    assert "| base | gmp | 3 |" in text and "+3.3 ± " in text and "(2/3)" in text and "| 0/3 |" in text
    for seed in range(3):
        del results[("flat", seed)]["epoch_seconds"]  # runs scored elsewhere: no seconds measured
    text = study.markdown_tables([cell], {"base": study.cell_rows(cell, results)})
    assert "| base | flat | 0,1,2 | 20,20,20 | 25,25,25 | 3/3 | – |" in text


def test_curve_rows_pair_each_milestone(study):
    scores = {("flat", 0): {5: {"coarse_pr_auc": 0.5}, 10: {"coarse_pr_auc": 0.6}},
              ("resatt", 0): {5: {"coarse_pr_auc": 0.4}, 10: {"coarse_pr_auc": 0.65}},
              ("flat", 1): {5: {"coarse_pr_auc": 0.5}}, ("resatt", 1): {5: {"coarse_pr_auc": 0.45}}}
    out = study.curve_rows(scores, ["flat", "resatt"], [5, 10, 15])
    assert [r["epoch"] for r in out] == [5, 10, 15]
    assert out[0]["resatt"]["n"] == 2 and out[0]["resatt"]["wins"] == 0
    assert out[1]["resatt"]["n"] == 1 and out[1]["resatt"]["mean"] == pytest.approx(0.05)
    assert out[2]["resatt"]["n"] == 0


def test_curves_pair_cached_milestone_scores_and_leave_out_cells_without_pairs(study, tmp_path):
    class NoData:  # every milestone score is cached: nothing is loaded or scored
        def datasets(self, seed):
            return None, None, None

    s = study.Study(tmp_path, seeds=1)
    for cell, head, scores in (("base", "flat", {"5": 0.5, "10": 0.6}), ("base", "resatt", {"5": 0.4, "10": 0.7}),
                               ("emb256", "resatt", None)):  # emb256: its flat pair never finished
        changes = () if cell == "base" else (("backbone.embedding_size", 256),)
        folder = s.run_dir(study.Run(cell, head, 0, changes))
        (folder / "milestones").mkdir(parents=True)
        (folder / study.FINISHED).write_text(json.dumps({"rows": rows(0.7), "head": head, "seed": 0,
                                                         "epochs": 10, "best_epoch": 9}))
        cached = {k: {f"{level}_{name}": v for level in study.LEVELS for name in study.METRICS}
                  for k, v in (scores or {}).items()}
        (folder / "milestones" / "scores.json").write_text(json.dumps(cached))
    text = study.write_curves(s, NoData()).read_text()
    assert "**base, coarse PR-AUC**" in text and "**base, fine PR-AUC**" in text
    assert "| 5 | -10.0 ± 0.0 (0/1) |" in text and "| 10 | +10.0 ± 0.0 (1/1) |" in text
    assert "| 15 | – |" in text  # a milestone no pair reached
    assert "emb256" not in text  # no pair at any milestone: no table of dashes


def test_summary_reads_finished_runs_and_reports_the_state_of_the_others(study, tmp_path):
    s = study.Study(tmp_path, seeds=2)
    base = s.cells[0]
    for head, values in (("flat", (0.7, 0.72)), ("resatt", (0.74, 0.70))):
        for seed, value in enumerate(values):
            run = study.Run("base", head, seed, tuple(study.run_changes(base, head).items()))
            folder = s.run_dir(run)
            folder.mkdir(parents=True)
            (folder / study.FINISHED).write_text(json.dumps({"rows": rows(value), "head": head, "seed": seed,
                                                             "epochs": 30, "best_epoch": 24 if seed else 30}))
            (folder / "epoch_seconds.json").write_text(json.dumps([30.0, 32.0]))
    stopped = s.run_dir(study.Run("emb256", "flat", 0, (("backbone.embedding_size", 256),)))
    stopped.mkdir(parents=True)  # an interrupted run: three epochs, best so far the second
    (stopped / "history.csv").write_text("epoch,loss,val_loss\n0,1,0.9\n1,0.8,0.7\n2,0.7,0.75\n")
    (stopped / "best.json").write_text(json.dumps({"epoch": 2}))
    (stopped / "epoch_seconds.json").write_text(json.dumps([40.0, 44.0, 42.0]))
    text = s.write_summary().read_text()
    assert "| base | resatt | 2 |" in text and "+1.0 ± 4.2 (1/2)" in text
    assert "| base | flat | 0,1 | 30,24 | 30,30 | 1/2 | 31.0 |" in text
    assert "**Partial results**: 4 of " in text and "once its λ is chosen" in text
    assert "| base, lambda_grid | flat | 0 | finished | 30 | 30 | no | yes | 31.0 | 70.0 | 50.0 |" in text
    assert "| base, lambda_grid | flat | 1 | finished | 30 | 24 | yes | yes | 31.0 | 72.0 | 50.0 |" in text
    max_epochs = study.BUDGET["train.epochs"]
    assert f"| emb256 | flat | 0 | stopped | 3/{max_epochs} | 2 | – | – | 42.0 | – | – |" in text
    total = len(study.unique_runs(s.runs()))
    assert f"{total - 5} more run(s) not started." in text
    lines = (tmp_path / "results.csv").read_text().splitlines()
    # base flat and resatt; the λ cell shares base's flat runs (its resatt waits for the grid)
    assert [line.split(",")[:3] for line in lines[1:]] == [["base", "flat", "2"], ["base", "resatt", "2"],
                                                            ["lambda_grid", "flat", "2"]]


def test_export_keeps_scores_and_histories_without_models_and_a_copy_resumes_the_study(study, tmp_path, capsys):
    import shutil

    out, exported = tmp_path / "out", tmp_path / "results"
    s = study.Study(out, seeds=1)
    finished = {}
    for head, value in (("flat", 0.7), ("resatt", 0.74)):
        run = study.Run("base", head, 0, ())
        folder = s.run_dir(run)
        (folder / "milestones").mkdir(parents=True)
        (folder / study.FINISHED).write_text(json.dumps({"rows": rows(value), "head": head, "seed": 0,
                                                         "epochs": 30, "best_epoch": 24}))
        (folder / "epoch_seconds.json").write_text(json.dumps([30.0, 32.0]))
        (folder / "history.csv").write_text("epoch,loss,val_loss\n0,1,0.9\n")
        (folder / "milestones" / "scores.json").write_text(json.dumps({"5": {"coarse_pr_auc": 0.5}}))
        (folder / "best.keras").write_bytes(b"model")
        (folder / "milestones" / "best_at_05.keras").write_bytes(b"model")
        finished[head] = run
    unfinished = s.run_dir(study.Run("emb256", "flat", 0, (("backbone.embedding_size", 256),)))
    unfinished.mkdir(parents=True)
    (unfinished / "history.csv").write_text("epoch,loss,val_loss\n0,1,0.9\n")
    (out / "lambda_grid" / "resatt" / "lambda_0.90").mkdir(parents=True)
    (out / "lambda_grid" / "resatt" / "chosen.json").write_text(json.dumps({"fine_weight": 0.9, "given": True}))
    (out / "lambda_grid" / "resatt" / "lambda_0.90" / study.FINISHED).write_text(json.dumps(
        {"rows": rows(0.73), "head": "resatt", "seed": 0, "epochs": 30, "best_epoch": 20}))
    assert study.main(["export", "--out", str(out), "--to", str(exported), "--seeds", "1"]) == 0
    assert "exported 3 finished run(s)" in capsys.readouterr().out
    files = sorted(str(path.relative_to(exported)) for path in exported.rglob("*") if path.is_file())
    assert not any(name.endswith(".keras") for name in files)  # scores, histories and timings only
    assert "runs/flat/base/seed0/milestones/scores.json" in files and "runs/resatt/base/seed0/history.csv" in files
    assert not any("embedding_size" in name for name in files)  # unfinished runs are not exported
    assert "lambda_grid/resatt/chosen.json" in files and "lambda_grid/resatt/lambda_0.90/test_metrics.json" in files
    summary, exported_summary = s.write_summary().read_text(), (exported / "results.md").read_text()
    table = [line for line in summary.splitlines() if line.startswith("| base |")]
    assert len(table) >= 2 and all(line in exported_summary.splitlines() for line in table)
    assert "| emb256 | flat | 0 | " in summary and "| emb256 | flat | 0 | " not in exported_summary
    resumed = tmp_path / "resumed"
    shutil.copytree(exported, resumed)
    items = study.Study(resumed, seeds=1).work_items()
    assert ("run", finished["flat"]) not in items and ("run", finished["resatt"]) not in items
    assert items[0] == ("run", study.Run("emb256", "flat", 0, (("backbone.embedding_size", 256),)))
    grid_seed0 = study.Run("lambda_grid", "resatt", 0, (("loss.fine_weight", 0.9),))
    assert ("run", grid_seed0) not in items  # the exported grid trial is seed 0 of the λ cell


def test_run_state(study):
    assert study.run_state({"epochs": 3}, 3, 2, claimed=False) == "finished"
    assert study.run_state(None, 3, 2, claimed=True) == "training"
    assert study.run_state(None, 3, 2, claimed=False) == "stopped"
    assert study.run_state(None, 0, None, claimed=False) == "not started"
    at_cap = {"cells": ["base"], "head": "flat", "seed": 0, "state": "finished", "epochs": 40, "best_epoch": 36,
              "seconds_per_epoch": 30.0, "coarse_pr_auc": 0.9, "fine_pr_auc": 0.8}
    text = study.run_status_table([at_cap], 40)
    assert "| base | flat | 0 | finished | 40 | 36 | yes | no | 30.0 | 90.0 | 80.0 |" in text


def test_work_items_train_the_pairs_of_every_cell_first_and_skip_finished_runs(study, tmp_path):
    s = study.Study(tmp_path, seeds=3)
    items = s.work_items()
    names = [c.name for c in s.cells]
    assert items[0] == ("run", study.Run("base", "flat", 0, ()))
    assert items[1] == ("run", study.Run("base", "resatt", 0, ()))
    heads = [item.head for kind, item in items if kind == "run"]
    first_other = min(heads.index("gmp"), heads.index("lp"))
    assert set(heads[:first_other]) == set(study.PAIRED_HEADS)  # gmp and lp only after every cell's pairs
    assert set(heads[first_other:]) == {"gmp", "lp"}
    grid_at = items.index(("grid", "resatt"))
    before = {item.cell for kind, item in items[:grid_at]}
    assert before == set(names[:names.index("lambda_grid")])  # the grid comes at its cell's turn
    assert not any(kind == "run" and item.cell == "lambda_grid" for kind, item in items)  # flat: base's runs
    first = s.run_dir(items[0][1])
    first.mkdir(parents=True)
    (first / study.FINISHED).write_text(json.dumps({"epochs": 50, "best_epoch": 40}))
    assert s.work_items()[0] == ("run", study.Run("base", "resatt", 0, ()))
    (tmp_path / "lambda_grid" / "resatt").mkdir(parents=True)
    (tmp_path / "lambda_grid" / "resatt" / "chosen.json").write_text(json.dumps({"fine_weight": 0.75}))
    grid_runs = [item for kind, item in s.work_items() if kind == "run" and item.cell == "lambda_grid"]
    assert [(r.head, r.seed, dict(r.changes)) for r in grid_runs] == [("resatt", k, {"loss.fine_weight": 0.75})
                                                                      for k in range(3)]


def test_cells_option_trains_only_the_named_cells(study, tmp_path):
    s = study.Study(tmp_path, seeds=3, train_cells=["recipe"])
    items = s.work_items()
    assert {item.cell for kind, item in items} == {"recipe"}
    assert [(item.head, item.seed) for kind, item in items] == (
        [(head, seed) for seed in range(3) for head in study.PAIRED_HEADS]
        + [(head, seed) for seed in range(3) for head in ("gmp", "lp")])
    assert all(dict(item.changes) == study.RECIPE for kind, item in items)
    assert [c.name for c in s.cells][0] == "base"  # the summary still covers every cell
    with pytest.raises(ValueError, match="unknown cell.*bogus.*the cells are base"):
        study.Study(tmp_path, train_cells=["recipe", "bogus"])
    assert study.main(["run", "--data", str(tmp_path), "--out", str(tmp_path), "--cells", "bogus"]) == 2


def test_a_given_lambda_plans_the_lambda_cell_without_a_grid(study, tmp_path, capsys):
    s = study.Study(tmp_path, seeds=3, train_cells=["lambda_grid"])
    assert s.work_items() == [("grid", "resatt")] + [("run", study.Run("lambda_grid", "flat", k, ())) for k in range(3)]
    s.give_lambda("resatt", 0.9)
    runs = [item for kind, item in s.work_items()]
    assert [(r.head, r.seed, dict(r.changes)) for r in runs] == [
        (head, seed, {} if head == "flat" else {"loss.fine_weight": 0.9})
        for seed in range(3) for head in study.PAIRED_HEADS]  # flat: the base cell's runs
    assert "λ = 0.90 given with `run --lambda`" in s.lambda_text()
    s.give_lambda("resatt", 0.9)  # the same again is fine
    for head, value, message in (("resatt", 0.8, "already 0.90"), ("flat", 0.9, "no λ"), ("gmp", 1.5, "between")):
        with pytest.raises(ValueError, match=message):
            s.give_lambda(head, value)
    args = ["run", "--data", str(tmp_path), "--out", str(tmp_path)]
    assert study.main(args + ["--lambda", "resatt=0.7"]) == 2
    for bad in ("resatt=high", "resatt"):
        capsys.readouterr()
        assert study.main(args + ["--lambda", bad]) == 2
        assert "expected HEAD=λ, e.g. resatt=0.90" in capsys.readouterr().err


def test_attention_summary_tells_gmp_from_gap_and_uniform_maps(study):
    import numpy as np

    membership = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], float)  # two families of two
    fine = np.array([[0.9, 0.1, 0.2, 0.6], [0.3, 0.7, 0.8, 0.1]])
    gmp = np.zeros((2, 4, 2))
    for n, probs in enumerate(fine):
        for c in range(2):
            children = np.flatnonzero(membership[:, c])
            gmp[n, children[np.argmax(probs[children])], c] = 1.0
    out = study.attention_summary(gmp, fine, membership)
    assert out == pytest.approx({"child_mass": 1.0, "argmax_child": 1.0, "top_child": 1.0, "gmp_gap": 0.0})
    gap = np.broadcast_to(membership / 2, (2, 4, 2))
    out = study.attention_summary(gap, fine, membership)
    assert out["child_mass"] == pytest.approx(1.0) and out["top_child"] == pytest.approx(0.5)
    assert out["gmp_gap"] == pytest.approx(np.mean([0.4, 0.2, 0.2, 0.35]))
    uniform = np.full((2, 4, 2), 0.25)
    out = study.attention_summary(uniform, fine, membership)
    assert out["child_mass"] == pytest.approx(0.5) and out["top_child"] == pytest.approx(0.5)


def test_runs_whose_best_epoch_is_their_last_are_continued_until_they_converge(study, tmp_path):
    budget = study.BUDGET["train.epochs"]
    assert study.epochs_to_train(None) == budget
    assert study.epochs_to_train({"epochs": budget, "best_epoch": budget - 1}) is None  # converged
    assert study.epochs_to_train({"epochs": budget - 8, "best_epoch": budget - 18}) is None  # stopped early
    assert study.epochs_to_train({"epochs": budget, "best_epoch": budget}) == budget + study.EXTENSION
    assert study.epochs_to_train({"epochs": study.MAX_EPOCHS, "best_epoch": study.MAX_EPOCHS}) is None
    run = study.Run("base", "flat", 0, ())
    assert f"train.epochs={budget + 10}" in run.overrides(budget + 10) and "train.extendable=true" in run.overrides()
    s = study.Study(tmp_path, seeds=1)
    first = s.run_dir(run)
    first.mkdir(parents=True)
    (first / study.FINISHED).write_text(json.dumps({"epochs": budget, "best_epoch": budget}))
    assert s.work_items()[0] == ("run", run)  # not converged: still to do
    (first / study.FINISHED).write_text(json.dumps({"epochs": budget + 10, "best_epoch": budget + 3}))
    assert ("run", run) not in s.work_items()


def test_run_trains_each_work_item_in_a_child_process(study, tmp_path, monkeypatch):
    import sys

    s = study.Study(tmp_path, seeds=1)
    log = tmp_path / "children.txt"
    child = [sys.executable, "-c", f"open({str(log)!r}, 'a').write('x')"]
    monkeypatch.setattr(s, "work_items", lambda: ["item"] if (log.read_text() if log.exists() else "") != "xx" else [])
    assert s.work(child) == 0
    assert log.read_text() == "xx"  # one child per item, until none is left
    log.unlink()
    assert s.work([sys.executable, "-c", "import sys; sys.exit(5)"]) == 5  # a failing child stops the run
    idle = [sys.executable, "-c", f"open({str(log)!r}, 'a').write('x'); import sys; sys.exit({study.IDLE})"]
    assert s.work(idle, wait_seconds=0.0) == 0 and log.read_text() == "xx"  # all claimed elsewhere: wait, retry


def test_threads_reach_the_training_child_and_a_bad_count_is_one_line(study, tmp_path, capsys):
    """``run --threads N`` caps TensorFlow's and OpenMP's threads in each training child (set before it imports
    TensorFlow); without it the child inherits the environment unchanged."""
    import sys

    assert study.thread_environment(None) is None
    env = study.thread_environment(1, base={"PATH": "/bin", "OMP_NUM_THREADS": "8"})
    assert env == {"PATH": "/bin", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}
    s = study.Study(tmp_path, seeds=1)
    seen = tmp_path / "env.txt"
    child = [sys.executable, "-c", "import os; open(%r, 'w').write(','.join(os.environ.get(v, '-') for v in %r))"
             % (str(seen), study.THREAD_VARIABLES)]
    items = iter([["item"], []])
    s.work_items = lambda: next(items)
    assert s.work(child, env=study.thread_environment(2)) == 0
    assert seen.read_text() == "2,2,2"
    assert study.main(["run", "--data", str(tmp_path), "--out", str(tmp_path), "--threads", "0"]) == 2
    assert capsys.readouterr().err.strip() == "study.py: error: --threads: expected a number of threads >= 1, got 0"


def test_sigterm_stops_the_child_and_the_run(study, tmp_path):
    """Stopping ``study.py run`` (SIGTERM) stops the child that is training and returns 143."""
    import os
    import signal
    import sys
    import threading

    s = study.Study(tmp_path, seeds=1)
    items = [["item"], []]  # one item: were the signal lost, work() would return 0 after the child's 60 s
    s.work_items = lambda: items.pop(0) if items else []
    started = tmp_path / "started"
    child = [sys.executable, "-c", f"import time; open({str(started)!r}, 'w').close(); time.sleep(60)"]

    def terminate_when_started():
        while not started.exists():
            threading.Event().wait(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_when_started, daemon=True).start()
    assert s.work(child) == 128 + signal.SIGTERM  # at once: the child (asleep for 60 s) was stopped
