"""Datasets of the downstream protocol: single-label clips with predefined cross-validation folds.

Three layouts are read, tried in this order in the folder ``DATASET``:

``labels.csv`` (kaudio's own)
    ``DATASET/labels.csv`` (UTF-8, a header row) with the columns ``file`` (the audio file,
    relative to ``DATASET``), ``label`` (the clip's one class) and ``fold`` (its fold: a number or
    a name). Other columns are ignored. For example::

        file,label,fold
        audio/dog_01.wav,dog_bark,1
        audio/siren_07.wav,siren,2

UrbanSound8K (Salamon et al., ACM MM 2014; the released archive as it unpacks)
    ``DATASET/metadata/UrbanSound8K.csv`` (``slice_file_name, fsID, start, end, salience, fold,
    classID, class``), audio under ``DATASET/audio/fold<k>/<slice_file_name>``; ten folds.

ESC-50 (Piczak, ACM MM 2015; https://github.com/karolpiczak/ESC-50)
    ``DATASET/meta/esc50.csv`` (``filename, fold, target, category, esc10, src_file, take``),
    audio under ``DATASET/audio/<filename>``; five folds.

The class of a clip is the ``label`` / ``class`` / ``category`` column (names, not numeric ids,
so reports read naturally). Every problem of a dataset is reported at once
(:class:`~kaudio.data.LabelsError`): missing columns, empty cells, duplicate files, missing audio
files (listed), a dataset with a single fold (the protocol tests every fold once and trains on
the others, so it needs two at least), and classes with a single clip.

A class with one clip is refused, not warned about: in the fold where that clip is tested the
classifier has never seen its class (it is wrong by construction), and in every other fold the
clip cannot be on both sides of the class-stratified validation split. A one-clip class is most
often a typo in a label; merge or drop it. A class whose clips all sit in one fold is only warned
about (:class:`~kaudio.errors.KaudioWarning`): real datasets may be built that way, and the
report shows its effect on that fold.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from kaudio.data.labels_csv import LabelsError, _listing, _read_csv, _row_cells
from kaudio.errors import InputError, KaudioWarning

LABELS_FILE = "labels.csv"
URBANSOUND8K_FILE = Path("metadata") / "UrbanSound8K.csv"
ESC50_FILE = Path("meta") / "esc50.csv"


@dataclass(frozen=True)
class Layout:
    """Where a layout keeps its table and which columns mean what."""

    name: str
    table: Path  # relative to the dataset folder
    file_column: str
    label_column: str
    fold_column: str

    def audio_key(self, file_cell: str, fold: str) -> str:
        """The audio file of a row, relative to the dataset folder (``/`` separators)."""
        name = file_cell.replace("\\", "/")
        if self.name == "UrbanSound8K":
            return f"audio/fold{fold}/{name}"
        if self.name == "ESC-50":
            return f"audio/{name}"
        return Path(name).as_posix()


LAYOUTS = (Layout("labels.csv", Path(LABELS_FILE), "file", "label", "fold"),
           Layout("UrbanSound8K", URBANSOUND8K_FILE, "slice_file_name", "class", "fold"),
           Layout("ESC-50", ESC50_FILE, "filename", "category", "fold"))


@dataclass(frozen=True)
class DownstreamDataset:
    """Clips, their classes and their folds, row-aligned.

    Attributes:
        root: the dataset folder.
        layout: ``"labels.csv"``, ``"UrbanSound8K"`` or ``"ESC-50"``.
        keys: each clip's audio file relative to ``root`` (``/`` separators).
        labels: each clip's class name.
        folds: each clip's fold name.
        classes: the sorted class names (the classifier's output order).
        fold_names: the folds in order (numeric order when every fold is a number).
    """

    root: Path
    layout: str
    keys: tuple[str, ...]
    labels: tuple[str, ...]
    folds: tuple[str, ...]
    classes: tuple[str, ...]
    fold_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def files(self) -> list[Path]:
        return [self.root / key for key in self.keys]

    @property
    def label_indices(self) -> np.ndarray:
        """``(clips,)`` int: the index of each clip's class in :attr:`classes`."""
        index = {name: i for i, name in enumerate(self.classes)}
        return np.array([index[label] for label in self.labels], dtype=np.int64)

    def in_fold(self, fold: str) -> np.ndarray:
        """``(clips,)`` bool: the clips of ``fold``."""
        return np.array([f == fold for f in self.folds], dtype=bool)

    def fingerprint(self) -> str:
        """sha256 of the sorted (file, class, fold) rows: equal for the same clips, labels and folds
        wherever the folder lies (reports are compared on it)."""
        digest = hashlib.sha256()
        for row in sorted(zip(self.keys, self.labels, self.folds)):
            digest.update(("\t".join(row) + "\n").encode("utf-8"))
        return digest.hexdigest()

    def describe(self) -> dict:
        """The report's ``dataset`` entry."""
        counts = Counter(self.folds)
        return {"root": str(self.root), "layout": self.layout, "clips": len(self), "classes": list(self.classes),
                "folds": list(self.fold_names), "clips_per_fold": {f: counts[f] for f in self.fold_names},
                "fingerprint": self.fingerprint()}


def load_downstream_dataset(directory: "str | os.PathLike") -> DownstreamDataset:
    """Read a dataset folder in any of the three layouts (see the module documentation).

    Raises:
        InputError: the folder does not exist, or holds none of the layouts' tables (the message
            names the files looked for).
        LabelsError: every problem of the table and its audio files, at once.
    """
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise InputError(f"{root}: dataset folder not found" + (" (it is a file)" if root.exists() else ""))
    layout = next((layout for layout in LAYOUTS if (root / layout.table).is_file()), None)
    if layout is None:
        looked_for = ", ".join(str(root / layout.table) for layout in LAYOUTS)
        raise InputError(f"{root}: not a downstream dataset: none of {looked_for} exists (a labels.csv with "
                         "columns file,label,fold, or the UrbanSound8K / ESC-50 folder as released)")
    return _read_layout(root, layout)


def _read_layout(root: Path, layout: Layout) -> DownstreamDataset:
    table = root / layout.table
    problems: list[str] = []
    read = _read_csv(table, problems)
    if read is None:
        raise LabelsError(problems, str(table))
    header, rows = read
    columns = (layout.file_column, layout.label_column, layout.fold_column)
    missing = [name for name in columns if name not in header]
    if missing:
        hint = " (kaudio's tagging folders have `tags`; the downstream protocol needs one class per clip: a " \
               "`label` column)" if "tags" in header and layout.label_column == "label" else ""
        raise LabelsError([f"{table}: no column {', '.join(map(repr, missing))}; expected "
                           f"{','.join(columns)} (header: {', '.join(header) or 'empty'}){hint}"], str(root))
    keys, labels, folds, seen = [], [], [], {}
    missing_audio, empty = [], []
    for line, cells in rows:
        row = _row_cells(table, line, header, cells, problems)
        if row is None:
            continue
        values = [row[name] for name in columns]
        if not all(values):
            empty.append(f"line {line} ({', '.join(n for n, v in zip(columns, values) if not v)})")
            continue
        file_cell, label, fold = values
        key = layout.audio_key(file_cell, fold)
        if key in seen:
            problems.append(f"{table}:{line}: duplicate row: {file_cell!r} is also on line {seen[key]}")
            continue
        seen[key] = line
        if not (root / key).is_file():
            missing_audio.append(key)
        keys.append(key)
        labels.append(label)
        folds.append(fold)
    if empty:
        problems.append(f"{table}: empty cells on {_listing(empty)}")
    if not keys and not problems:
        problems.append(f"{table}: no data rows below the header")
    if missing_audio:
        problems.append(f"{len(missing_audio)} audio file{'s' if len(missing_audio) > 1 else ''} named in {table} "
                        f"not found under {root}: {_listing(missing_audio)}")
    fold_names = _sorted_folds(set(folds))
    if keys and len(fold_names) < 2:
        problems.append(f"{table}: every clip is in fold {fold_names[0]!r}; the protocol tests each fold once with a "
                        "classifier trained on the others, so it needs at least two folds")
    counts = Counter(labels)
    single = sorted(label for label, n in counts.items() if n == 1)
    if single:
        problems.append(f"{table}: {len(single)} class{'es' if len(single) > 1 else ''} with a single clip "
                        f"({_listing(single)}): such a class can never be both trained and tested; merge it with "
                        "another class or drop its row")
    if problems:
        raise LabelsError(problems, str(root))
    _warn_about_single_fold_classes(labels, folds)
    return DownstreamDataset(root=root, layout=layout.name, keys=tuple(keys), labels=tuple(labels),
                             folds=tuple(folds), classes=tuple(sorted(counts)), fold_names=tuple(fold_names))


def _sorted_folds(folds: set[str]) -> list[str]:
    """Numeric order when every fold name is an integer (``2`` before ``10``), else text order."""
    try:
        return sorted(folds, key=int)
    except ValueError:
        return sorted(folds)


def _warn_about_single_fold_classes(labels: Sequence[str], folds: Sequence[str]) -> None:
    folds_of: dict[str, set[str]] = {}
    for label, fold in zip(labels, folds):
        folds_of.setdefault(label, set()).add(fold)
    lonely = sorted(f"{label!r} (fold {next(iter(f))})" for label, f in folds_of.items() if len(f) == 1)
    if lonely:
        warnings.warn(f"{len(lonely)} class(es) have every clip in one fold: {_listing(lonely)}; when that fold is "
                      "tested, the classifier has not seen the class", KaudioWarning, stacklevel=4)
