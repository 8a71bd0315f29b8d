"""Compare two downstream reports: the Wilcoxon signed-rank test on their per-fold accuracies.

Cramer et al. ("Look, Listen and Learn More", ICASSP 2019, §3.3) test design choices with the
Wilcoxon signed-rank test (Wilcoxon, Biometrics Bulletin 1945) at p < 0.05, pairing results of
the same test fold (``marl/l3embedding`` ``generate_plots_and_sig_tests.py``). This module pairs
the folds of two reports and calls ``scipy.stats.wilcoxon`` (two-sided; zero differences dropped,
``zero_method="wilcox"``; exact distribution for small samples).

Two reports are compared only when they were made on the same dataset (same clips, classes and
folds: the dataset fingerprint) — otherwise the pairs would mean nothing. With n folds whose
accuracies differ, the smallest two-sided p-value the test can give is 2 / 2ⁿ: 0.0625 for five
folds (ESC-50), so p < 0.05 is out of reach below six differing folds, and the comparison says so
(the paper reached more pairs by averaging over the other design choices).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from kaudio.errors import InputError

ALPHA = 0.05


@dataclass
class Comparison:
    """The result of :func:`compare_reports`.

    Attributes:
        names: a label per report (its path or features).
        means, stds: mean and sample std of each report's fold accuracies.
        folds: the paired folds, in order.
        accuracies: ``(2, folds)`` per-fold accuracies.
        statistic, p_value: ``scipy.stats.wilcoxon``'s (``None`` when every fold is equal).
        smallest_p: the smallest p-value possible with this many non-zero differences.
        notes: what limits the result (too few folds, equal accuracies, differing protocol settings).
    """

    names: tuple[str, str]
    means: tuple[float, float]
    stds: tuple[float, float]
    folds: list[str]
    accuracies: np.ndarray
    statistic: float | None
    p_value: float | None
    smallest_p: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA

    def text(self) -> str:
        """Plain lines: both means, the test, the notes."""
        lines = [f"{name}: {100 * m:.2f} ± {100 * s:.2f} % clip accuracy over {len(self.folds)} folds"
                 for name, m, s in zip(self.names, self.means, self.stds)]
        difference = 100 * (self.means[0] - self.means[1])
        if self.p_value is None:
            lines.append(f"difference {difference:+.2f} points; Wilcoxon signed-rank test: not applicable")
        else:
            verdict = "significant" if self.significant else "not significant"
            lines.append(f"difference {difference:+.2f} points; Wilcoxon signed-rank test over {len(self.folds)} "
                         f"folds: W = {self.statistic:g}, p = {self.p_value:.4g} ({verdict} at p < {ALPHA:g})")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def markdown(self) -> str:
        """Both reports as one table (:func:`kaudio.metrics.to_markdown`; Runs = test folds)."""
        from kaudio.metrics import summarize_runs, to_markdown

        runs = {name: [[{"level": "clip", "accuracy": float(a)}] for a in row]
                for name, row in zip(self.names, self.accuracies)}
        return to_markdown(summarize_runs(runs), digits=2)


def _fold_accuracies(report: dict, where: str) -> dict[str, float]:
    try:
        return {str(f["fold"]): float(f["accuracy"]) for f in report["folds"]}
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"{where}: the report's folds lack a fold name or an accuracy ({err})") from err


def compare_reports(a, b, names: tuple[str, str] | None = None) -> Comparison:
    """Pair the folds of two reports (dicts, or paths of report files) and test the difference.

    Raises:
        InputError: the reports are of different datasets or folds (the difference named), or
            unreadable.
    """
    from scipy.stats import wilcoxon

    from kaudio.downstream.report import describe_features, load_report

    reports, labels = [], []
    for i, report in enumerate((a, b)):
        if isinstance(report, (str, os.PathLike)):
            labels.append(str(report))
            report = load_report(report)
        else:
            labels.append(describe_features(report["features"]))
        reports.append(report)
    names = names or (labels[0], labels[1])
    if labels[0] == labels[1] and names == (labels[0], labels[1]):
        names = (f"A: {labels[0]}", f"B: {labels[1]}")
    first, second = (r["dataset"] for r in reports)
    if first.get("fingerprint") != second.get("fingerprint"):
        differences = [f"{key}: {first.get(key)!r} vs {second.get(key)!r}" for key in ("layout", "clips", "folds")
                       if first.get(key) != second.get(key)]
        what = "; ".join(differences) or "same size and folds, but other clips, labels or fold assignments"
        raise InputError(f"the reports are on different datasets ({what}); a paired test needs the same clips in the "
                         "same folds")
    folds_a, folds_b = _fold_accuracies(reports[0], names[0]), _fold_accuracies(reports[1], names[1])
    if set(folds_a) != set(folds_b):
        raise InputError(f"the reports have different test folds ({', '.join(sorted(folds_a))} vs "
                         f"{', '.join(sorted(folds_b))}); compare reports of complete runs on the same folds")
    folds = [f for f in first["folds"] if f in folds_a] or sorted(folds_a)
    accuracies = np.array([[folds_a[f] for f in folds], [folds_b[f] for f in folds]], np.float64)
    means = tuple(float(row.mean()) for row in accuracies)
    stds = tuple(float(row.std(ddof=1)) if len(folds) > 1 else 0.0 for row in accuracies)
    nonzero = int(np.count_nonzero(accuracies[0] != accuracies[1]))
    notes = []
    statistic = p_value = smallest = None
    if nonzero == 0:
        notes.append("the two reports have the same accuracy on every fold: there is no difference to test")
    else:
        smallest = 2.0 ** (1 - nonzero)
        result = wilcoxon(accuracies[0], accuracies[1], zero_method="wilcox", alternative="two-sided")
        statistic, p_value = float(result.statistic), float(result.pvalue)
        if smallest >= ALPHA:
            notes.append(f"too few folds for a meaningful p-value: with {nonzero} differing fold(s) the smallest "
                         f"possible two-sided p is {smallest:g} (≥ {ALPHA:g}), so no difference can be significant; "
                         "at least 6 differing folds are needed")
    protocol_a, protocol_b = (r["protocol"] for r in reports)
    changed = [key for key in sorted(set(protocol_a) | set(protocol_b)) if protocol_a.get(key) != protocol_b.get(key)]
    if changed:
        notes.append(f"the reports used different protocol settings ({', '.join(changed)})")
    return Comparison(names, means, stds, folds, accuracies, statistic, p_value, smallest, notes)
