"""Strong labels of a dataset folder: ``events.csv`` beside ``labels.csv``.

``DIR/events.csv`` (UTF-8, a header row, comma-separated) has one row per sound event:

* ``file``: the clip, as named in ``DIR/labels.csv``;
* ``onset``, ``offset``: seconds from the start of the clip, ``0 <= onset < offset <= duration``;
* ``class``: the event's class — one of the clip's tags in ``labels.csv``.

It is what ``kaudio mix`` writes, and the reference of the segment- and event-based metrics of
:mod:`kaudio.metrics.sed` (the DCASE convention of sed_eval, Mesaros et al. 2016). The weak
labels must agree with the strong ones: every tag of a clip has at least one event and every event's
class is a tag of its clip. Clips of ``labels.csv`` without events are clips where nothing happens.

Every problem is reported at once with its csv line, as one
:class:`~kaudio.data.labels_csv.LabelsError`.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from kaudio.data.labels_csv import (LABELS_FILE, LabelsError, _file_key, _lines, _listing, _read_csv, _row_cells,
                                    _split_tags)
from kaudio.errors import InputError

EVENTS_FILE = "events.csv"
EVENT_COLUMNS = ("file", "onset", "offset", "class")
#: Seconds an offset may pass the clip's end (rounding of written times).
DURATION_TOLERANCE_S = 1e-4


class Event(NamedTuple):
    """One sound event: ``(onset, offset, label)``, times in seconds."""

    onset: float
    offset: float
    label: str


@dataclass
class EventTable:
    """The strong labels of a folder, per clip.

    Attributes:
        files: the clips of ``labels.csv`` (keys as written there), in its order.
        events: ``{file: [Event, ...]}`` for every file (sorted by onset; empty when nothing happens).
        classes: the class list (column order of :meth:`weak_labels`).
        durations: ``{file: seconds}``.
        columns: ``{file: {column: cell}}``, the whole ``labels.csv`` row of each file (``snr``,
            ``fold``, ``split`` …), for grouping results.
        root: the folder.
    """

    files: list[str]
    events: dict[str, list[Event]]
    classes: tuple[str, ...]
    durations: dict[str, float]
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    root: Path | None = None

    def __len__(self) -> int:
        return len(self.files)

    def weak_labels(self, files: Sequence[str] | None = None) -> np.ndarray:
        """``(n, K)`` 0/1 clip labels (a class is present when the clip has an event of it)."""
        files = self.files if files is None else list(files)
        index = {c: k for k, c in enumerate(self.classes)}
        out = np.zeros((len(files), len(self.classes)), np.float32)
        for row, name in enumerate(files):
            for event in self.events[name]:
                out[row, index[event.label]] = 1.0
        return out

    def column(self, name: str, files: Sequence[str] | None = None) -> list[str]:
        """The ``labels.csv`` cells of column ``name`` for ``files`` (all files by default)."""
        files = self.files if files is None else list(files)
        missing = [f for f in files if name not in self.columns.get(f, {})]
        if missing:
            raise InputError(f"labels.csv has no {name!r} column" + (f" value for {_listing(missing)}" if
                                                                    len(missing) < len(files) else ""))
        return [self.columns[f][name] for f in files]


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _audio_duration(path: Path) -> float | None:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError, OSError):
        return None
    return info.frames / info.samplerate if info.samplerate else None


def load_events(directory: "str | os.PathLike", classes: Sequence[str] | None = None,
                durations: "float | Mapping[str, float] | None" = None) -> EventTable:
    """Read and validate ``DIR/events.csv`` against ``DIR/labels.csv``.

    Args:
        directory: the folder (``labels.csv``, ``events.csv``, the audio).
        classes: the class list (e.g. the model's); ``None``: the tags used in ``labels.csv``, sorted.
        durations: clip lengths in seconds — one number for every clip, ``{file: seconds}``, or
            ``None`` to read them from the audio files' headers.

    Returns:
        an :class:`EventTable`.

    Raises:
        LabelsError: listing every problem with its csv line: missing columns, rows with the wrong
            number of fields, empty cells, times that are not numbers, negative times, an onset not
            before its offset, an event past the clip's end, a class not in the class list, a file
            not in ``labels.csv``, an event whose class is not a tag of its clip in ``labels.csv``,
            a tag of ``labels.csv`` without any event, an audio file that is missing or unreadable
            (when durations come from the audio).
    """
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise InputError(f"{root}: dataset folder not found" + (" (it is a file)" if root.exists() else ""))
    labels_path, events_path = root / LABELS_FILE, root / EVENTS_FILE
    for path, columns in ((labels_path, "file,tags[,...]"), (events_path, ",".join(EVENT_COLUMNS))):
        if not path.is_file():
            raise InputError(f"{root}: no {path.name} (columns {columns})")
    problems: list[str] = []

    # labels.csv: the files and their tags (its full check is load_tagging_folder's)
    read = _read_csv(labels_path, problems)
    if read is None:
        raise LabelsError(problems, str(root))
    header, rows = read
    missing = [c for c in ("file", "tags") if c not in header]
    if missing:
        raise LabelsError([f"{labels_path}: no {' or '.join(map(repr, missing))} column (header: {', '.join(header)})"],
                          str(root))
    files: list[str] = []
    tags: dict[str, list[str]] = {}
    cells: dict[str, dict[str, str]] = {}
    for line, raw in rows:
        row = _row_cells(labels_path, line, header, raw, problems)
        if row is None or not row["file"]:
            continue
        key = _file_key(row["file"])
        if key in tags:
            problems.append(f"{labels_path}:{line}: duplicate row: file {row['file']!r} is listed before")
            continue
        files.append(key)
        tags[key] = _split_tags(row["tags"])
        cells[key] = row
    class_list = tuple(classes) if classes is not None else tuple(sorted({t for ts in tags.values() for t in ts}))
    known_classes = set(class_list)
    if classes is not None:
        unknown = sorted({t for ts in tags.values() for t in ts} - known_classes)
        if unknown:
            problems.append(f"{labels_path}: tag{'s' if len(unknown) > 1 else ''} not in the class list: "
                            f"{_listing(unknown)} (classes: {_listing(list(class_list))})")

    # durations
    clip_seconds: dict[str, float] = {}
    if durations is None:
        unreadable = []
        for key in files:
            seconds = _audio_duration(root / key)
            if seconds is None:
                unreadable.append(key)
            else:
                clip_seconds[key] = seconds
        if unreadable:
            problems.append(f"{len(unreadable)} audio file(s) of {labels_path} missing or unreadable, so events cannot "
                            f"be checked against their duration: {_listing(unreadable)}")
    elif isinstance(durations, Mapping):
        clip_seconds = {_file_key(str(k)): float(v) for k, v in durations.items()}
        lacking = [f for f in files if f not in clip_seconds]
        if lacking:
            raise InputError(f"durations has no value for {len(lacking)} file(s): {_listing(lacking)}")
    else:
        clip_seconds = {key: float(durations) for key in files}

    # events.csv
    read = _read_csv(events_path, problems)
    if read is None:
        raise LabelsError(problems, str(root))
    header, rows = read
    missing = [c for c in EVENT_COLUMNS if c not in header]
    if missing:
        problems.append(f"{events_path}: no {', '.join(map(repr, missing))} column{'s' if len(missing) > 1 else ''} "
                        f"(header: {', '.join(header) or 'empty'}; expected {','.join(EVENT_COLUMNS)})")
        raise LabelsError(problems, str(root))
    events: dict[str, list[Event]] = {key: [] for key in files}
    not_in_labels: dict[str, list[int]] = {}
    not_a_class: dict[str, list[int]] = {}
    for line, raw in rows:
        row = _row_cells(events_path, line, header, raw, problems)
        if row is None:
            continue
        where = f"{events_path}:{line}"
        empty = [c for c in EVENT_COLUMNS if not row[c]]
        if empty:
            problems.append(f"{where}: empty {', '.join(map(repr, empty))} cell{'s' if len(empty) > 1 else ''}")
            continue
        key, label = _file_key(row["file"]), row["class"]
        onset, offset = _number(row["onset"]), _number(row["offset"])
        bad = [f"{c} {row[c]!r}" for c, v in (("onset", onset), ("offset", offset)) if v is None]
        if bad:
            problems.append(f"{where}: {' and '.join(bad)} {'is' if len(bad) == 1 else 'are'} not a number of seconds")
            continue
        if onset < 0 or offset < 0:
            problems.append(f"{where}: negative time (onset {onset:g}, offset {offset:g}); times are seconds from the "
                            "start of the clip")
            continue
        if onset >= offset:
            problems.append(f"{where}: the onset {onset:g} s is not before the offset {offset:g} s")
            continue
        if key not in events:
            not_in_labels.setdefault(row["file"], []).append(line)
            continue
        duration = clip_seconds.get(key)
        if duration is not None and offset > duration + DURATION_TOLERANCE_S:
            problems.append(f"{where}: the event ends at {offset:g} s, after the end of {row['file']} "
                            f"({duration:g} s)")
        if label not in known_classes:
            not_a_class.setdefault(label, []).append(line)
            continue
        if label not in tags[key]:
            problems.append(f"{where}: class {label!r} is not a tag of {row['file']} in {LABELS_FILE} "
                            f"(its tags: {';'.join(tags[key]) or 'none'})")
            continue
        events[key].append(Event(onset, offset, label))
    if not_in_labels:
        where = "; ".join(f"{f!r} on {_lines(ls)}" for f, ls in list(not_in_labels.items())[:10])
        problems.append(f"{events_path}: {len(not_in_labels)} file(s) not in {LABELS_FILE}: {where}")
    if not_a_class:
        from kaudio.spec.schema import did_you_mean

        where = "; ".join(f"{c!r} on {_lines(ls)}{did_you_mean(c, class_list)}" for c, ls in not_a_class.items())
        problems.append(f"{events_path}: class{'es' if len(not_a_class) > 1 else ''} not in the class list "
                        f"({_listing(list(class_list))}): {where}")
    without_events = [f"{key} ({tag})" for key in files for tag in tags[key]
                      if tag in known_classes and not any(e.label == tag for e in events[key])]
    if without_events:
        problems.append(f"{events_path}: {len(without_events)} tag(s) of {LABELS_FILE} without any event (the weak "
                        f"and strong labels disagree): {_listing(without_events)}")
    if problems:
        raise LabelsError(problems, str(root))
    for key in events:
        events[key].sort()
    return EventTable(files, events, class_list, {k: clip_seconds[k] for k in files}, cells, root)
