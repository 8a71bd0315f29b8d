"""kaudio.downstream.report: JSON + markdown written atomically, read back with checks."""
import json

import pytest

from kaudio.downstream.report import load_report, markdown_path, report_markdown, write_report
from kaudio.errors import InputError
from tests.downstream.test_compare import fake_report


def full_report():
    report = fake_report([0.8, 0.9])
    report["dataset"].update(root="/data/UrbanSound8K", classes=["a", "b"])
    report["features"].update(framing="uniform")
    report["folds"] = [dict(fold, test_clips=10, learning_rate=1e-4, weight_decay=1e-3, epochs=30, best_epoch=10,
                            val_accuracy=0.95) for fold in report["folds"]]
    report["accuracy"].update(std=0.0707)
    return report


def test_report_and_table_are_written_and_read_back(tmp_path):
    report = full_report()
    json_path, md_path = write_report(report, tmp_path / "r.json")
    assert md_path == markdown_path(json_path) == tmp_path / "r.md"
    assert load_report(json_path) == json.loads(json.dumps(report))
    table = md_path.read_text()
    assert table == report_markdown(report)
    assert "# Downstream evaluation: openl3_mel256_music on UrbanSound8K (labels.csv)" in table
    assert "**Clip accuracy: 85.00 ± 7.07 %** (mean ± sample std over 2 test folds)" in table
    assert "| 2 | 10 | 90.00 | 1e-4 | 1e-3 | 30 (10) | 95.00 |" in table
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.md"]  # no temporary files left


def test_bad_reports_are_named(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="bad.json: not a readable JSON report"):
        load_report(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"dataset": {}}))
    with pytest.raises(InputError, match="not a kaudio downstream report \\(no features, protocol, folds, accuracy\\)"):
        load_report(tmp_path / "other.json")
