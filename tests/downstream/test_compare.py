"""kaudio.downstream.compare: Wilcoxon signed-rank test on paired folds, refusals, the too-few-folds note."""
import json

import numpy as np
import pytest
from scipy.stats import wilcoxon

from kaudio.downstream.compare import compare_reports
from kaudio.errors import InputError


def fake_report(accuracies, model="openl3_mel256_music", fingerprint="abc", folds=None, epochs=50):
    folds = folds or [str(i + 1) for i in range(len(accuracies))]
    return {"dataset": {"layout": "labels.csv", "clips": 100, "folds": folds, "fingerprint": fingerprint},
            "features": {"model": model, "dimension": 512, "weights": "random", "hop_size": 0.1},
            "protocol": {"epochs": epochs, "learning_rates": [1e-5, 1e-4, 1e-3]},
            "folds": [{"fold": f, "accuracy": a} for f, a in zip(folds, accuracies)],
            "accuracy": {"mean": float(np.mean(accuracies)), "std": 0.0, "folds": len(folds)}}


def test_wilcoxon_matches_scipy_on_ten_folds():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.6, 0.8, 10)
    b = a - rng.uniform(-0.01, 0.05, 10)
    result = compare_reports(fake_report(a), fake_report(b, model="logmel"))
    expected = wilcoxon(a, b)
    assert result.statistic == expected.statistic and result.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert result.means == pytest.approx((a.mean(), b.mean())) and result.stds[0] == pytest.approx(a.std(ddof=1))
    assert result.smallest_p == pytest.approx(2 / 2 ** 10) and result.notes == []
    text = result.text()
    assert "over 10 folds" in text and f"p = {expected.pvalue:.4g}" in text
    assert "| logmel 512-d, hop 0.1 s |" in result.markdown()


def test_folds_are_paired_by_name_not_by_position():
    a = fake_report([0.70, 0.75, 0.80, 0.72, 0.74, 0.77, 0.79], folds=list("abcdefg"))
    b = fake_report([0.66, 0.70, 0.74, 0.69, 0.70, 0.74, 0.73][::-1], folds=list("gfedcba"))
    result = compare_reports(a, b)
    assert result.folds == list("abcdefg")
    np.testing.assert_allclose(result.accuracies[1], [0.66, 0.70, 0.74, 0.69, 0.70, 0.74, 0.73])
    assert result.p_value == pytest.approx(wilcoxon(result.accuracies[0], result.accuracies[1]).pvalue)
    assert result.significant  # every fold better: exact two-sided p = 2/128


def test_five_folds_cannot_be_significant_and_it_says_so():
    a, b = [0.80, 0.81, 0.79, 0.83, 0.85], [0.70, 0.72, 0.71, 0.73, 0.74]
    result = compare_reports(fake_report(a), fake_report(b))
    assert result.p_value == pytest.approx(0.0625) and not result.significant
    assert any("too few folds" in n and "0.0625" in n for n in result.notes)


def test_identical_accuracies_and_differing_protocols_are_noted():
    result = compare_reports(fake_report([0.7, 0.8, 0.9]), fake_report([0.7, 0.8, 0.9], epochs=5))
    assert result.p_value is None and "not applicable" in result.text()
    assert any("same accuracy on every fold" in n for n in result.notes)
    assert any("different protocol settings (epochs)" in n for n in result.notes)


def test_reports_of_other_datasets_or_folds_are_refused(tmp_path):
    with pytest.raises(InputError, match=r"different datasets \(folds: \['1', '2', '3'\] vs \['1', '2'\]\)"):
        compare_reports(fake_report([0.7, 0.8, 0.9]), fake_report([0.7, 0.8], fingerprint="other"))
    with pytest.raises(InputError, match="other clips, labels or fold assignments"):
        compare_reports(fake_report([0.7, 0.8, 0.9]), fake_report([0.7, 0.8, 0.9], fingerprint="other"))
    partial = fake_report([0.7, 0.8, 0.9])
    partial["folds"] = partial["folds"][:2]
    with pytest.raises(InputError, match="different test folds"):
        compare_reports(fake_report([0.7, 0.8, 0.9]), partial)
    path = tmp_path / "a.json"
    path.write_text(json.dumps(fake_report([0.7, 0.8])))
    with pytest.raises(InputError, match="report not found"):
        compare_reports(path, tmp_path / "missing.json")
    same = compare_reports(path, path)
    assert same.names == (f"A: {path}", f"B: {path}")
