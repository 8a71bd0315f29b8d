"""kaudio.metrics.sed: clip AP / ROC-AUC and the segment- and event-based metrics of Mesaros et al. (2016).

Each expected value below is counted by hand in the comments; where sed_eval is installed the
definitions are also compared with it on random event lists.
"""
import math

import numpy as np
import pytest

from kaudio.data import Event, EventTable
from kaudio.errors import InputError
from kaudio.metrics import (CLIP_METRICS, activity_to_events, clip_metrics, event_based, sed_rows, sed_scores,
                            segment_based, summarize_runs, to_markdown)


def test_clip_metrics_by_hand():
    y_true = [[1, 0], [0, 1]]
    y_score = [[0.9, 0.85], [0.6, 0.8]]
    scores = clip_metrics(y_true, y_score)
    # micro: all entries ranked .9 (pos), .85 (neg), .8 (pos), .6 (neg): AP = .5·1 + .5·2/3
    assert scores["micro_ap"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    # class 0: its positive ranks first → AP 1, AUC 1; class 1: the negative (.85) beats the positive (.8)
    # → AP = 1/2, AUC 0
    assert scores["macro_ap"] == pytest.approx(0.75) and scores["roc_auc"] == pytest.approx(0.5)
    # a class with positives only is left out of the macro means and counted
    scores = clip_metrics([[1, 1], [0, 1]], [[0.9, 0.2], [0.3, 0.4]])
    assert scores["macro_ap"] == 1.0 and scores["skipped_macro_ap"] == 1 and scores["skipped_roc_auc"] == 1


def test_activity_to_events_threshold_and_median_filter():
    column = np.array([0, 1, 0, 0, 1, 1, 1, 0, 1], float)
    activity = np.stack([column, 0.4 * np.ones(9)], axis=1)
    hop = 0.5
    events = activity_to_events(activity, ["a", "b"], hop, threshold=0.5)
    assert events == [Event(0.5, 1.0, "a"), Event(2.0, 3.5, "a"), Event(4.0, 4.5, "a")]
    # a 3-frame majority filter (edges repeated) keeps frames 4..8: one event
    assert activity_to_events(activity, ["a", "b"], hop, 0.5, median_filter=3) == [Event(2.0, 4.5, "a")]
    # per-class thresholds; an offset is cut at the clip's end
    assert activity_to_events(activity, ["a", "b"], hop, [2.0, 0.3], duration=4.2) == [Event(0.0, 4.2, "b")]
    with pytest.raises(InputError, match="odd number of frames"):
        activity_to_events(activity, ["a", "b"], hop, median_filter=2)
    with pytest.raises(InputError, match=r"one threshold per class \(2\), got shape \(3,\)"):
        activity_to_events(activity, ["a", "b"], hop, [0.5, 0.5, 0.5])


def test_segment_based_by_hand():
    reference = {"x": [Event(0.5, 1.5, "a"), Event(2.2, 2.8, "b")]}
    estimated = {"x": [Event(0.6, 0.9, "a"), Event(1.1, 1.4, "b"), Event(3.1, 3.5, "b")]}
    scores = segment_based(reference, estimated, ["a", "b"], durations=4.0)
    # segment 0: ref {a} sys {a} → TP; 1: ref {a} sys {b} → S; 2: ref {b} sys {} → D; 3: ref {} sys {b} → I
    assert (scores.tp, scores.n_ref, scores.n_sys) == (1, 3, 3)
    assert (scores.substitutions, scores.deletions, scores.insertions) == (1, 1, 1)
    assert (scores.fp, scores.fn, scores.segments) == (2, 2, 4)
    assert scores.error_rate == pytest.approx(1.0) and scores.f1 == pytest.approx(1 / 3)
    # no output at all: F1 0, ER = D / N = 1; a clip missing from the estimate counts as no output
    empty = segment_based(reference, {}, ["a", "b"], durations=4.0)
    assert empty.f1 == 0.0 and empty.error_rate == 1.0
    # a 2.5-s clip has 3 segments; an event across a segment boundary is active in both:
    # ref 'a' 0.9–1.1 s → segments 0, 1 (two deletions); estimate 'a' 2.1–2.4 s → segment 2 (an insertion)
    short = segment_based({"y": [Event(0.9, 1.1, "a")]}, {"y": [Event(2.1, 2.4, "a")]}, ["a", "b"], {"y": 2.5})
    assert (short.segments, short.n_ref, short.tp) == (3, 2, 0)
    assert (short.substitutions, short.deletions, short.insertions) == (0, 2, 1)
    assert short.error_rate == pytest.approx(1.5) and short.f1 == 0.0


def test_event_based_by_hand():
    reference = {"x": [Event(1.0, 3.0, "a"), Event(5.0, 5.5, "b"), Event(7.0, 8.0, "c")]}
    estimated = {"x": [Event(1.15, 3.35, "a"),   # onset Δ .15, offset Δ .35 <= max(.2, 20 % of 2 s) → correct
                       Event(5.1, 5.8, "b"),     # onset ok, offset Δ .3 > max(.2, 20 % of .5 s) → wrong offset
                       Event(7.05, 8.1, "a"),    # times of the 'c' event, other class → substitution
                       Event(9.0, 9.5, "c")]}    # nothing there → insertion
    scores = event_based(reference, estimated)
    assert (scores.tp, scores.substitutions, scores.deletions, scores.insertions) == (1, 1, 1, 2)
    assert scores.f1 == pytest.approx(2 / 7) and scores.error_rate == pytest.approx(4 / 3)
    onset_only = event_based(reference, estimated, evaluate_offset=False)
    assert (onset_only.tp, onset_only.substitutions, onset_only.deletions, onset_only.insertions) == (2, 1, 0, 1)
    assert onset_only.f1 == pytest.approx(4 / 7) and onset_only.error_rate == pytest.approx(2 / 3)
    # one estimate can match one reference only
    doubled = event_based({"x": [Event(1.0, 2.0, "a")] * 2}, {"x": [Event(1.0, 2.0, "a")]})
    assert (doubled.tp, doubled.deletions) == (1, 1)
    # the largest matching, whatever the order: estimate 0 fits both references, estimate 1 only the first
    reference = {"x": [Event(1.0, 2.0, "a"), Event(1.15, 2.15, "a")]}
    estimated = {"x": [Event(1.1, 2.1, "a"), Event(0.85, 1.85, "a")]}
    assert event_based(reference, estimated).tp == 2


def table(snrs=("20", "0", "20", "0")):
    files = [f"c{i}.wav" for i in range(len(snrs))]
    events = {"c0.wav": [Event(0.0, 1.0, "a")], "c1.wav": [Event(2.0, 3.0, "b")],
              "c2.wav": [Event(1.0, 2.0, "a"), Event(2.0, 3.0, "b")], "c3.wav": []}
    return EventTable(files, {f: events[f] for f in files}, ("a", "b"), {f: 4.0 for f in files},
                      {f: {"file": f, "snr": s} for f, s in zip(files, snrs)})


def perfect_frames(events, hop=0.25, frames=16):
    """Frame scores that are 1 exactly on the reference events."""
    out = np.zeros((len(events.files), frames, len(events.classes)))
    for i, name in enumerate(events.files):
        for onset, offset, label in events.events[name]:
            out[i, int(onset / hop):int(offset / hop), events.classes.index(label)] = 1.0
    return out


def test_rows_per_snr_and_the_table():
    events = table()
    clip = np.array([[0.9, 0.1], [0.2, 0.7], [0.8, 0.6], [0.3, 0.4]])
    frames = perfect_frames(events)
    rows = sed_rows(events, clip, frames, frame_hop_s=0.25)
    assert [r["level"] for r in rows] == ["all", "20 dB", "0 dB"]
    assert [r["clips"] for r in rows] == [4, 2, 2]
    for row in rows:
        assert row["segment_f1"] == 1.0 and row["segment_er"] == 0.0 and row["event_f1"] == 1.0
    assert rows[0]["micro_ap"] == 1.0 and rows[0]["roc_auc"] == 1.0
    # the 0 dB group (c1, c3): class 'a' has no positive there → left out of its macro AP
    assert rows[2]["skipped_macro_ap"] == 1 and rows[2]["macro_ap"] == 1.0
    # a worse run: the frames of c0 are missed
    worse = frames.copy()
    worse[0] = 0
    worse_rows = sed_rows(events, clip, worse, frame_hop_s=0.25)
    assert worse_rows[1]["event_f1"] == pytest.approx(2 * 2 / (3 + 2))  # 20 dB: 3 reference events, 2 found
    assert worse_rows[2]["event_f1"] == 1.0
    markdown = to_markdown(summarize_runs({"GAP": [worse_rows], "2APAE": [rows, rows]}), digits=1)
    lines = markdown.splitlines()
    assert lines[0] == "| Method | Clips | Runs | Micro-AP | Macro-AP | ROC-AUC | Segment F1 | Segment ER | Event F1 |"
    assert lines[2].startswith("| GAP | all | 1 |") and lines[3].startswith("| GAP | 20 dB | 1 |")
    assert "| 2APAE | all | 2 | 100.0 ± 0.0 | 100.0 ± 0.0 | 100.0 ± 0.0 | 100.0 ± 0.0 | 0.00 ± 0.00 | 100.0 ± 0.0 |" in lines


def test_frame_metrics_need_frame_outputs():
    events = table()
    clip = np.full((4, 2), 0.5)
    with pytest.raises(InputError, match=r"shape \(4, 2\): clip-level scores .* need frame-level activity"):
        sed_scores(events, clip, clip)
    with pytest.raises(InputError, match="no frame scores given"):
        sed_scores(events, clip)
    with pytest.raises(InputError, match="not a dict of model outputs"):
        sed_scores(events, clip, {"clipwise": clip})
    # the output dict of a SED head, with and without its frames
    outputs = {"clip": clip, "frames": perfect_frames(events), "time_attention": clip}
    assert sed_scores(events, outputs, frame_hop_s=0.25)["event_f1"] == 1.0
    with pytest.raises(InputError, match=r"the model has no 'frames' output \(outputs: clip\): .*metrics=CLIP_METRICS"):
        sed_rows(events, {"clip": clip})
    # clip metrics alone work without frames
    assert set(sed_scores(events, clip, metrics=CLIP_METRICS)) >= set(CLIP_METRICS)
    with pytest.raises(InputError, match="no 'fold' column"):
        sed_rows(events, clip, perfect_frames(events), group_by="fold", frame_hop_s=0.25)
    assert len(sed_rows(events, clip, perfect_frames(events), group_by=None, frame_hop_s=0.25)) == 1


def test_agrees_with_sed_eval_where_installed():
    sed_eval = pytest.importorskip("sed_eval")
    dcase_util = pytest.importorskip("dcase_util")
    rng = np.random.default_rng(3)
    classes = ["a", "b", "c"]
    for _ in range(50):
        reference, estimated = {}, {}
        for name in ("f1", "f2"):
            reference[name] = sorted(Event(on, min(on + float(rng.uniform(0.1, 2)), 10.0), str(rng.choice(classes)))
                                     for on in rng.uniform(0, 9, rng.integers(1, 4)).round(3))
            estimated[name] = activity_to_events((rng.uniform(size=(311, 3)) > 0.97).astype(float), classes, 0.032,
                                                 median_filter=int(rng.choice([1, 3])), duration=10.0)
        segments = sed_eval.sound_event.SegmentBasedMetrics(classes, time_resolution=1.0)
        events = sed_eval.sound_event.EventBasedMetrics(classes, t_collar=0.2, percentage_of_length=0.2)
        for name in reference:
            as_list = [dcase_util.containers.MetaDataContainer(
                [{"file": name, "event_onset": e.onset, "event_offset": e.offset, "event_label": e.label} for e in x])
                for x in (reference[name], estimated[name])]
            segments.evaluate(*as_list, evaluated_length_seconds=10.0)
            events.evaluate(*as_list)
        ours_segments = segment_based(reference, estimated, classes, 10.0)
        ours_events = event_based(reference, estimated)
        theirs_segments, theirs_events = segments.results_overall_metrics(), events.results_overall_metrics()
        assert ours_segments.f1 == pytest.approx(theirs_segments["f_measure"]["f_measure"])
        assert ours_segments.error_rate == pytest.approx(theirs_segments["error_rate"]["error_rate"])
        if ours_events.n_sys:
            assert ours_events.f1 == pytest.approx(theirs_events["f_measure"]["f_measure"])
        assert math.isclose(ours_events.error_rate, theirs_events["error_rate"]["error_rate"], rel_tol=1e-9)
