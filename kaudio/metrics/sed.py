"""Sound event detection metrics: clip-level average precision and ROC-AUC, segment- and event-based F1 / ER.

Clip level (weak labels; Deshmukh et al., 2APAE, Table IV)
    ``micro_ap``: scikit-learn's ``average_precision_score(y_true, y_score, average="micro")`` —
    one precision–recall curve over every (clip, class) entry; the paper's "micro-P".
    ``macro_ap``: the mean over classes of their average precision (the paper's "macro-P");
    ``roc_auc``: the mean over classes of their ROC-AUC. A class whose clips are all positive or all
    negative cannot be scored and is left out of the macro means (counted as ``skipped_*``), as in
    :mod:`kaudio.metrics.tagging`.

Frame level (strong labels; Mesaros, Heittola & Virtanen 2016, "Metrics for polyphonic sound
event detection", Applied Sciences 6(6):162, as implemented by sed_eval and used by DCASE)
    A model's frame activity ``(T, K)`` becomes events: frame ``t`` covers
    ``[t·hop, (t+1)·hop)`` seconds (``frame_hop_s``; 2APAE: hop 1024 at 32 kHz = 0.032 s, 311
    frames per 10 s), a class is active where its score is ``>= threshold`` (one value or one per
    class), optionally smoothed by a median filter of ``median_filter`` frames (odd), and every run
    of active frames is an event.

    *Segment-based* (``segment_s`` = 1 s): a clip of ``d`` seconds has ``⌈d / segment_s⌉``
    segments; a class is active in a segment when an event of it overlaps the segment (reference
    and estimate alike: segments ``⌊onset/s⌋`` to ``⌈offset/s⌉ - 1``). In each segment, with
    ``N_ref`` / ``N_sys`` active classes in the reference / estimate and ``TP`` in both:
    ``S = min(N_ref, N_sys) - TP``, ``D = max(0, N_ref - N_sys)``, ``I = max(0, N_sys - N_ref)``.
    Summed over all segments of all clips: ``ER = (S + D + I) / N_ref`` and the micro F1
    ``2·TP / (N_ref + N_sys)`` (= 2PR/(P+R) with P = TP/N_sys, R = TP/N_ref).

    *Event-based*: an estimated event is correct when it has the reference event's class, its
    onset is within ``t_collar`` (200 ms) of the reference onset and — unless
    ``evaluate_offset=False`` (onset only) — its offset within ``max(t_collar,
    percentage_of_length · reference length)`` (20 %, the DCASE setting) of the reference offset.
    ``TP`` is the largest one-to-one matching of correct pairs per clip (sed_eval's "optimal"
    matching). Leftover pairs meeting the time conditions with another class are substitutions
    ``S`` (paired greedily in time order); ``D = N_ref - TP - S``, ``I = N_sys - TP - S``;
    ``F1 = 2·TP / (N_ref + N_sys)``, ``ER = (S + D + I) / N_ref``.

    An estimate without any active class scores F1 0 (sed_eval's ``zero_score`` handling); with no
    reference event at all F1 and ER are NaN. sed_eval (0.2.1) needs ``pkg_resources`` through
    dcase_util, so it is not a dependency; the tests check these definitions against hand-counted
    cases and, where it is installed, against sed_eval itself.

Rows
    :func:`sed_rows` returns rows ``{"level", "micro_ap", "macro_ap", "roc_auc", "segment_f1",
    "segment_er", "event_f1", ...}`` — one for all clips and one per value of a ``labels.csv``
    column (``snr`` by default, level ``"<snr> dB"``) — which :func:`kaudio.metrics.summarize_runs`
    and :func:`kaudio.metrics.to_markdown` turn into a Table-IV-style table. Scores come as arrays
    or as the output dict of a SED head (``{"clip": (n, K), "frames": (n, T, K), ...}``); frame
    metrics asked of a model without a ``frames`` output are an error that says so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from kaudio.errors import InputError
from kaudio.metrics.tagging import per_class_thresholds

#: Seconds per frame of the 2APAE front end (hop 1024 at 32 kHz).
DEFAULT_FRAME_HOP_S = 1024 / 32000
SEGMENT_S = 1.0
T_COLLAR_S = 0.2
PERCENTAGE_OF_LENGTH = 0.2
CLIP_METRICS = ("micro_ap", "macro_ap", "roc_auc")
FRAME_METRICS = ("segment_f1", "segment_er", "event_f1")
SED_METRICS = CLIP_METRICS + FRAME_METRICS


def _event_type():
    from kaudio.data.events import Event

    return Event


# ----------------------------------------------------------------------------------------------
# Clip level


def clip_metrics(y_true, y_score, mask=None) -> dict:
    """``{"micro_ap", "macro_ap", "roc_auc", "skipped_macro_ap", "skipped_roc_auc"}`` of clip scores
    ``(n, K)`` against 0/1 labels (known entries only when a ``mask`` is given)."""
    from sklearn.metrics import average_precision_score

    from kaudio.metrics.tagging import _arrays, pr_auc, roc_auc

    labels, scores, known = _arrays(y_true, y_score, mask)
    flat_labels, flat_scores = labels[known], scores[known]
    micro = float(average_precision_score(flat_labels, flat_scores)) \
        if flat_labels.size and 0 < flat_labels.sum() < flat_labels.size else float("nan")
    macro, auc = pr_auc(labels, scores, mask), roc_auc(labels, scores, mask)
    return {"micro_ap": micro, "macro_ap": macro.value, "roc_auc": auc.value,
            "skipped_macro_ap": len(macro.skipped), "skipped_roc_auc": len(auc.skipped)}


# ----------------------------------------------------------------------------------------------
# Frame activity → events


def _median_filter(active: np.ndarray, width: int) -> np.ndarray:
    """Median (majority) filter of a 0/1 ``(T, K)`` array over time; edges repeat the end frames."""
    if width == 1:
        return active
    half = width // 2
    padded = np.pad(active.astype(np.int32), ((half, half), (0, 0)), mode="edge")
    sums = np.cumsum(np.pad(padded, ((1, 0), (0, 0))), axis=0)
    return (sums[width:] - sums[:-width]) > half


def activity_to_events(activity, classes: Sequence[str], frame_hop_s: float = DEFAULT_FRAME_HOP_S,
                       threshold=0.5, median_filter: int = 1, duration: float | None = None) -> list:
    """Events ``[Event(onset, offset, class)]`` of one clip's frame scores ``(T, K)``.

    Frame ``t`` covers ``[t·frame_hop_s, (t+1)·frame_hop_s)``; a class is active where its score
    is ``>= threshold`` (after a median filter of ``median_filter`` frames, odd); each run of
    active frames is one event (its offset cut at ``duration`` when given).
    """
    Event = _event_type()
    activity = np.asarray(activity, dtype=np.float64)
    if activity.ndim != 2 or activity.shape[1] != len(classes):
        raise InputError(f"frame activity must be (frames, {len(classes)} classes), got shape {activity.shape}")
    if not np.isfinite(activity).all():
        raise InputError("frame activity must be finite (NaN or inf found)")
    if not (isinstance(median_filter, (int, np.integer)) and median_filter >= 1 and median_filter % 2 == 1):
        raise InputError(f"median_filter must be an odd number of frames >= 1, got {median_filter!r}")
    if not (frame_hop_s > 0 and math.isfinite(frame_hop_s)):
        raise InputError(f"frame_hop_s must be a positive number of seconds, got {frame_hop_s!r}")
    active = _median_filter(activity >= per_class_thresholds(threshold, len(classes), "class"), int(median_filter))
    edges = np.diff(np.pad(active.astype(np.int8), ((1, 1), (0, 0))), axis=0)
    events = []
    for k, label in enumerate(classes):
        starts, ends = np.flatnonzero(edges[:, k] == 1), np.flatnonzero(edges[:, k] == -1)
        for start, end in zip(starts, ends):
            offset = end * frame_hop_s if duration is None else min(end * frame_hop_s, duration)
            if start * frame_hop_s < offset:
                events.append(Event(float(start * frame_hop_s), float(offset), label))
    return sorted(events)


class _DetectionScores:
    """Precision, recall, F1 and error rate from the counts ``tp``, ``n_ref``, ``n_sys``,
    ``substitutions``, ``deletions`` and ``insertions`` (Mesaros et al. 2016, "Metrics for polyphonic sound
    event detection", §2–3)."""

    @property
    def precision(self) -> float:
        return self.tp / self.n_sys if self.n_sys else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / self.n_ref if self.n_ref else float("nan")

    @property
    def f1(self) -> float:
        return _f1(self.tp, self.n_ref, self.n_sys)

    @property
    def error_rate(self) -> float:
        errors = self.substitutions + self.deletions + self.insertions
        return errors / self.n_ref if self.n_ref else float("nan")


# ----------------------------------------------------------------------------------------------
# Segment-based


@dataclass(frozen=True)
class SegmentScores(_DetectionScores):
    """Counts of segment-based evaluation (summed over segments and clips) and the scores from them."""

    tp: int
    fp: int
    fn: int
    n_ref: int
    n_sys: int
    substitutions: int
    deletions: int
    insertions: int
    segments: int


def _f1(tp: int, n_ref: int, n_sys: int) -> float:
    if n_ref == 0:
        return float("nan")
    return 2.0 * tp / (n_ref + n_sys)


def event_roll(events, classes: Sequence[str], segments: int, segment_s: float = SEGMENT_S) -> np.ndarray:
    """``(segments, K)`` bool: class ``k`` active in segment ``j`` when one of its events overlaps it."""
    index = {c: k for k, c in enumerate(classes)}
    roll = np.zeros((segments, len(classes)), bool)
    for onset, offset, label in events:
        if label not in index:
            raise InputError(f"event class {label!r} is not in the class list ({', '.join(classes)})")
        roll[int(math.floor(onset / segment_s)): int(math.ceil(offset / segment_s)), index[label]] = True
    return roll


def _durations(durations, files) -> dict:
    if isinstance(durations, Mapping):
        missing = [f for f in files if f not in durations]
        if missing:
            raise InputError(f"no duration for {len(missing)} clip(s): {', '.join(map(str, missing[:5]))}")
        return {f: float(durations[f]) for f in files}
    return {f: float(durations) for f in files}


def _check_files(reference: Mapping, estimated: Mapping) -> list:
    extra = [f for f in estimated if f not in reference]
    if extra:
        raise InputError(f"estimated events for {len(extra)} clip(s) without reference: "
                         f"{', '.join(map(str, extra[:5]))}")
    return list(reference)


def segment_based(reference: Mapping[str, Sequence], estimated: Mapping[str, Sequence], classes: Sequence[str],
                  durations, segment_s: float = SEGMENT_S) -> SegmentScores:
    """Segment-based counts over all clips of ``reference`` (``{file: [(onset, offset, class)]}``);
    a clip missing from ``estimated`` has no estimated event. ``durations``: seconds, one number or
    ``{file: seconds}``. See the module doc for the definitions."""
    if not (segment_s > 0):
        raise InputError(f"segment_s must be a positive number of seconds, got {segment_s!r}")
    files = _check_files(reference, estimated)
    seconds = _durations(durations, files)
    totals = np.zeros(8, np.int64)
    n_segments = 0
    for name in files:
        segments = int(math.ceil(seconds[name] / segment_s))
        ref = event_roll(reference[name], classes, segments, segment_s)
        sys = event_roll(estimated.get(name, ()), classes, segments, segment_s)
        tp = (ref & sys).sum(axis=1)
        n_ref, n_sys = ref.sum(axis=1), sys.sum(axis=1)
        totals += [tp.sum(), (sys & ~ref).sum(), (ref & ~sys).sum(), n_ref.sum(), n_sys.sum(),
                   (np.minimum(n_ref, n_sys) - tp).sum(), np.maximum(0, n_ref - n_sys).sum(),
                   np.maximum(0, n_sys - n_ref).sum()]
        n_segments += segments
    return SegmentScores(*(int(v) for v in totals), segments=n_segments)


# ----------------------------------------------------------------------------------------------
# Event-based


@dataclass(frozen=True)
class EventScores(_DetectionScores):
    """Counts of event-based evaluation (summed over clips) and the scores from them."""

    tp: int
    substitutions: int
    n_ref: int
    n_sys: int

    @property
    def deletions(self) -> int:
        return self.n_ref - self.tp - self.substitutions

    @property
    def insertions(self) -> int:
        return self.n_sys - self.tp - self.substitutions


def _times_match(ref, est, t_collar: float, percentage_of_length: float, evaluate_offset: bool) -> bool:
    if abs(ref[0] - est[0]) > t_collar:
        return False
    return not evaluate_offset or abs(ref[1] - est[1]) <= max(t_collar, percentage_of_length * (ref[1] - ref[0]))


def _match_clip(ref: list, est: list, t_collar: float, percentage_of_length: float,
                evaluate_offset: bool) -> tuple[int, int]:
    """``(TP, substitutions)`` of one clip."""
    from scipy.optimize import linear_sum_assignment

    if not ref or not est:
        return 0, 0
    times = np.array([[_times_match(r, e, t_collar, percentage_of_length, evaluate_offset) for e in est] for r in ref])
    same = np.array([[r[2] == e[2] for e in est] for r in ref])
    hits = times & same
    rows, cols = linear_sum_assignment(hits, maximize=True)
    matched = [(r, c) for r, c in zip(rows, cols) if hits[r, c]]
    ref_used = {r for r, _ in matched}
    est_used = {c for _, c in matched}
    substitutions = 0
    for r in range(len(ref)):
        if r in ref_used:
            continue
        for c in range(len(est)):
            if c not in est_used and times[r, c]:
                est_used.add(c)
                substitutions += 1
                break
    return len(matched), substitutions


def event_based(reference: Mapping[str, Sequence], estimated: Mapping[str, Sequence], t_collar: float = T_COLLAR_S,
                percentage_of_length: float = PERCENTAGE_OF_LENGTH, evaluate_offset: bool = True) -> EventScores:
    """Event-based counts over all clips of ``reference`` (``{file: [(onset, offset, class)]}``); a
    clip missing from ``estimated`` has no estimated event. See the module doc for the definitions."""
    if not (t_collar > 0) or not (0 <= percentage_of_length <= 1):
        raise InputError(f"t_collar must be > 0 s and percentage_of_length in [0, 1], got {t_collar!r}, "
                         f"{percentage_of_length!r}")
    files = _check_files(reference, estimated)
    tp = subs = n_ref = n_sys = 0
    for name in files:
        ref, est = sorted(reference[name]), sorted(estimated.get(name, ()))
        hits, substituted = _match_clip(ref, est, t_collar, percentage_of_length, evaluate_offset)
        tp, subs, n_ref, n_sys = tp + hits, subs + substituted, n_ref + len(ref), n_sys + len(est)
    return EventScores(tp, subs, n_ref, n_sys)


# ----------------------------------------------------------------------------------------------
# One table row per group of clips


#: Output names of kaudio's SED heads: clip probabilities ``(K,)`` and frame probabilities ``(T, K)``.
CLIP_OUTPUT, FRAMES_OUTPUT = "clip", "frames"


class _NoFrames:
    """Model outputs without a frame-level one (their names, for the error)."""

    def __init__(self, names):
        self.names = list(names)


def _unpack(clip_scores, frame_scores):
    """``(clip, frames)`` from a model's output dict ``{"clip", "frames", ...}`` or as given."""
    if not isinstance(clip_scores, Mapping):
        return clip_scores, frame_scores
    if frame_scores is not None:
        raise InputError("give the model's output dict alone, or clip and frame scores apart, not both")
    names = list(clip_scores)
    if CLIP_OUTPUT not in clip_scores:
        raise InputError(f"the model outputs ({', '.join(map(str, names))}) have no {CLIP_OUTPUT!r} output; pass the "
                         "clip scores (clips, classes) and frame scores (clips, frames, classes) apart")
    frames = clip_scores.get(FRAMES_OUTPUT)
    return clip_scores[CLIP_OUTPUT], _NoFrames(names) if frames is None else frames


def _frame_arrays(frame_scores, n: int, classes: int) -> list[np.ndarray]:
    """Frame scores as ``n`` arrays ``(T, K)``, with a clear error for clip-level outputs."""
    hint = ("the segment and event metrics need frame-level activity (clips, frames, classes); a model without "
            "frame outputs (a clip-level tagger head) can only be scored with the clip metrics: pass "
            "metrics=CLIP_METRICS")
    if isinstance(frame_scores, _NoFrames):
        names = ", ".join(map(str, frame_scores.names))
        raise InputError(f"the model has no {FRAMES_OUTPUT!r} output (outputs: {names}): {hint}")
    if frame_scores is None:
        raise InputError(f"no frame scores given: {hint}")
    if isinstance(frame_scores, Mapping):
        shapes = ", ".join(f"{k} {tuple(np.shape(v))}" for k, v in frame_scores.items())
        raise InputError(f"frame scores must be one array (clips, frames, classes), not a dict of model outputs "
                         f"({shapes}); pass the frame-level output itself")
    if isinstance(frame_scores, np.ndarray) or not isinstance(frame_scores, (list, tuple)):
        array = np.asarray(frame_scores)
        if array.ndim == 2:
            raise InputError(f"frame scores have shape {array.shape}: clip-level scores (clips, classes), one value "
                             f"per clip and class — {hint}")
        if array.ndim != 3:
            raise InputError(f"frame scores must be (clips, frames, classes), got shape {array.shape}")
        arrays = list(array)
    else:
        arrays = [np.asarray(a) for a in frame_scores]
    if len(arrays) != n:
        raise InputError(f"frame scores for {len(arrays)} clips, but {n} clips are scored")
    for i, a in enumerate(arrays):
        if a.ndim != 2 or a.shape[1] != classes:
            raise InputError(f"frame scores of clip {i} have shape {a.shape}; expected (frames, {classes} classes)"
                             + (f" — {hint}" if a.ndim < 2 else ""))
    return arrays


def _clip_array(clip_scores, n: int, classes: int) -> np.ndarray:
    if clip_scores is None:
        raise InputError("the clip metrics (micro_ap, macro_ap, roc_auc) need clip scores (clips, classes); pass "
                         "clip_scores, or metrics=FRAME_METRICS for the frame-level metrics only")
    array = np.asarray(clip_scores, dtype=np.float64)
    if array.shape != (n, classes):
        raise InputError(f"clip scores have shape {array.shape}, expected ({n} clips, {classes} classes)")
    return array


def sed_scores(events, clip_scores=None, frame_scores=None, files: Sequence[str] | None = None, *,
               metrics: Sequence[str] = SED_METRICS, frame_hop_s: float = DEFAULT_FRAME_HOP_S, threshold=0.5,
               median_filter: int = 1, segment_s: float = SEGMENT_S, t_collar: float = T_COLLAR_S,
               percentage_of_length: float = PERCENTAGE_OF_LENGTH, evaluate_offset: bool = True) -> dict:
    """The metrics of one set of clips, as one row without its ``level``.

    Args:
        events: the reference, an :class:`~kaudio.data.events.EventTable` (:func:`kaudio.data.load_events`).
        clip_scores: ``(n, K)`` clip probabilities, rows in the order of ``files``, columns in
            ``events.classes`` order (for the clip metrics) — or the output dict of a SED head
            ``{"clip": (n, K), "frames": (n, T, K), ...}`` (then no ``frame_scores``).
        frame_scores: ``(n, T, K)`` frame probabilities, or ``n`` arrays ``(T_i, K)`` (for the
            segment- and event-based metrics).
        files: the clips scored, in the rows' order (default: all of ``events.files``).
        metrics: which of :data:`SED_METRICS` to compute.
        frame_hop_s, threshold, median_filter: turning frame scores into events
            (:func:`activity_to_events`).
        segment_s, t_collar, percentage_of_length, evaluate_offset: see :func:`segment_based`
            and :func:`event_based` (``evaluate_offset=False``: onset-only event F1).

    Returns:
        ``{metric: value, ..., "clips": n}`` plus ``skipped_macro_ap`` / ``skipped_roc_auc`` with the
        clip metrics and ``event_er`` / ``segment_precision`` / ``segment_recall`` with the frame ones.
    """
    clip_scores, frame_scores = _unpack(clip_scores, frame_scores)
    unknown = [m for m in metrics if m not in SED_METRICS]
    if unknown:
        raise InputError(f"unknown SED metric(s) {', '.join(map(repr, unknown))}; choose from {', '.join(SED_METRICS)}")
    files = list(events.files if files is None else files)
    missing = [f for f in files if f not in events.events]
    if missing:
        raise InputError(f"{len(missing)} clip(s) not in the reference events: {', '.join(map(str, missing[:5]))}")
    classes = events.classes
    row: dict = {}
    if any(m in CLIP_METRICS for m in metrics):
        scores = clip_metrics(events.weak_labels(files), _clip_array(clip_scores, len(files), len(classes)))
        row.update({m: scores[m] for m in CLIP_METRICS if m in metrics})
        row.update({f"skipped_{m}": scores[f"skipped_{m}"] for m in ("macro_ap", "roc_auc") if m in metrics})
    if any(m in FRAME_METRICS for m in metrics):
        arrays = _frame_arrays(frame_scores, len(files), len(classes))
        estimated = {f: activity_to_events(a, classes, frame_hop_s, threshold, median_filter, events.durations[f])
                     for f, a in zip(files, arrays)}
        reference = {f: events.events[f] for f in files}
        if "segment_f1" in metrics or "segment_er" in metrics:
            segments = segment_based(reference, estimated, classes, events.durations, segment_s)
            row.update({m: v for m, v in (("segment_f1", segments.f1), ("segment_er", segments.error_rate))
                        if m in metrics})
            row.update(segment_precision=segments.precision, segment_recall=segments.recall)
        if "event_f1" in metrics:
            scored = event_based(reference, estimated, t_collar, percentage_of_length, evaluate_offset)
            row.update(event_f1=scored.f1, event_er=scored.error_rate)
    row["clips"] = len(files)
    return row


def _group_order(values: list[str]) -> list[str]:
    unique = list(dict.fromkeys(values))
    try:
        return sorted(unique, key=lambda v: -float(v))  # Table IV: 20, 10, 0 dB
    except ValueError:
        return sorted(unique)


def sed_rows(events, clip_scores=None, frame_scores=None, files: Sequence[str] | None = None, *,
             group_by: str | None = "snr", level: str = "all", **options) -> list[dict]:
    """Rows ``{"level", <metric>: value, ...}`` for :func:`kaudio.metrics.summarize_runs`: one for all
    clips (``level``) and one per value of the ``labels.csv`` column ``group_by`` (``snr`` by
    default — level ``"20 dB"`` …, highest first; other columns give ``"<column> <value>"``;
    ``None``: no breakdown). ``options`` are those of :func:`sed_scores`."""
    clip_scores, frame_scores = _unpack(clip_scores, frame_scores)
    files = list(events.files if files is None else files)
    rows = [{"level": level, **sed_scores(events, clip_scores, frame_scores, files, **options)}]
    if group_by is None:
        return rows
    if any(group_by not in events.columns.get(f, {}) for f in files):
        raise InputError(f"labels.csv of {events.root} has no {group_by!r} column to group the clips by "
                         "(pass group_by=None for no breakdown)")
    groups = [events.columns[f][group_by] for f in files]
    clip_array = None if clip_scores is None else np.asarray(clip_scores)
    frames = None if frame_scores is None or isinstance(frame_scores, (Mapping, _NoFrames)) else \
        (list(frame_scores) if isinstance(frame_scores, (list, tuple)) else np.asarray(frame_scores))
    for value in _group_order(groups):
        picked = [i for i, g in enumerate(groups) if g == value]
        name = f"{value} dB" if group_by == "snr" else f"{group_by} {value}"
        group_frames = frame_scores if frames is None else \
            ([frames[i] for i in picked] if isinstance(frames, list) else frames[picked])
        rows.append({"level": name, **sed_scores(events, None if clip_array is None else clip_array[picked],
                                                 group_frames, [files[i] for i in picked], **options)})
    return rows
