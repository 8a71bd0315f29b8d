"""A tagging dataset folder: audio files plus ``labels.csv``.

Layout of a folder ``DIR``::

    DIR/labels.csv         one row per clip (required)
    DIR/mask.csv           optional per-tag mask (see below)
    DIR/hierarchy.yaml     optional; used only when no hierarchy is passed
    DIR/<audio files>      anywhere below DIR, named in labels.csv

``labels.csv`` (UTF-8, a header row, comma-separated) has the columns

* ``file`` (required): the audio file, relative to ``DIR`` (``/`` as separator; absolute paths
  are accepted too);
* ``tags`` (required): the clip's positive *fine* tags joined by ``;`` (``piano;violin``); an
  empty cell means no tag is present;
* ``known`` (optional): the fine tags whose label is known, joined by ``;`` — the OpenMIC
  convention where only some instruments were annotated per clip. An empty cell, or no ``known``
  column, means every tag is known. A positive tag must be known;
* ``split`` (optional): ``train``, ``val`` or ``test`` (case-insensitive); an empty cell leaves the row to
  :func:`kaudio.data.split_indices` (training pool, possibly moved to validation).

Other columns are ignored (metadata such as a duration may stay in the file), except names that
look like a misspelt known column (``tag``, ``files``), which are reported.

The mask can also come as a separate ``mask.csv``: a ``file`` column and one ``0``/``1`` column
per fine tag of the hierarchy (1 = known), one row per file of ``labels.csv``. Use either the
``known`` column or ``mask.csv``, not both: when both exist the folder is rejected, since the
two could disagree silently.

Fine targets are 0/1 with a mask (1 = known); coarse targets and masks follow from them by
:meth:`~kaudio.hierarchy.Hierarchy.coarse_from_fine` (the max rule: a coarse tag is positive
when a child is, known when a child is a known positive or all children are known).

Every problem in the folder is reported at once (with the csv line of each), as one
:class:`LabelsError`.
"""
from __future__ import annotations

import csv
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from kaudio.errors import InputError, KaudioError
from kaudio.hierarchy import TAG_SEPARATOR, ClassList, Hierarchy, TagError
from kaudio.spec.schema import did_you_mean

LABELS_FILE = "labels.csv"
MASK_FILE = "mask.csv"
HIERARCHY_FILE = "hierarchy.yaml"
SPLITS = ("train", "val", "test")
COLUMNS = ("file", "tags", "known", "split")

#: At most this many offenders of one kind are listed by name; the rest are counted.
MAX_LISTED = 10


class LabelsError(InputError):
    """A dataset folder (labels.csv / mask.csv) has problems; holds every problem found.

    Attributes:
        problems: one message per problem, each starting with its file and line when known.
        source: the folder or file that was read.
    """

    def __init__(self, problems: Sequence[str], source: str):
        self.problems = list(problems)
        self.source = source
        n = len(self.problems)
        super().__init__(f"invalid dataset {source}: {n} problem{'s' if n != 1 else ''}\n"
                         + "\n".join(f"  - {p}" for p in self.problems))


def _listing(items: Sequence[str], limit: int = MAX_LISTED) -> str:
    """``a, b, c`` or ``a, b, … and 7 more``."""
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f", … and {len(items) - limit} more" if len(items) > limit else "")


def _lines(lines: Sequence[int]) -> str:
    lines = sorted(set(lines))
    return ("line " if len(lines) == 1 else "lines ") + _listing([str(n) for n in lines], 5)


def _split_tags(cell: str | None) -> list[str]:
    """``"a; b;"`` → ``["a", "b"]`` (spaces around names and empty items are dropped)."""
    if not cell:
        return []
    return [t.strip() for t in cell.split(TAG_SEPARATOR) if t.strip()]


@dataclass
class TaggingTable:
    """Labels of a tagging dataset, row-aligned with :attr:`files`.

    Attributes:
        files: absolute audio paths, one per row.
        fine, fine_mask: ``(n, N_fine)`` float32 targets and masks (1 = known) in the column
            order of ``hierarchy.fine_names``.
        coarse, coarse_mask: ``(n, N_coarse)`` float32, derived by the max rule.
        split: per-row ``"train"``/``"val"``/``"test"``/``""`` (unassigned), or ``None`` when the
            data has no split column.
        hierarchy: the :class:`~kaudio.hierarchy.Hierarchy` giving the column order.
        root: the dataset folder.
    """

    files: list[Path]
    fine: np.ndarray
    fine_mask: np.ndarray
    coarse: np.ndarray
    coarse_mask: np.ndarray
    split: list[str] | None
    hierarchy: Hierarchy
    root: Path | None = None
    keys: list[str] = field(default_factory=list)

    def __post_init__(self):
        n = len(self.files)
        for name, width in (("fine", self.hierarchy.n_fine), ("fine_mask", self.hierarchy.n_fine),
                            ("coarse", self.hierarchy.n_coarse), ("coarse_mask", self.hierarchy.n_coarse)):
            array = np.asarray(getattr(self, name), dtype=np.float32)
            if array.shape != (n, width):
                raise InputError(f"TaggingTable.{name} has shape {array.shape}, expected ({n}, {width})")
            setattr(self, name, array)
        if self.split is not None and len(self.split) != n:
            raise InputError(f"TaggingTable.split has {len(self.split)} entries for {n} files")
        if not self.keys:
            self.keys = [str(f) for f in self.files]

    @classmethod
    def from_fine(cls, files: Sequence["str | os.PathLike"], fine, fine_mask, hierarchy: Hierarchy,
                  split: Sequence[str] | None = None, root=None, keys: Sequence[str] | None = None) -> "TaggingTable":
        """Build a table from fine targets/masks; coarse ones are derived by the max rule."""
        fine, fine_mask = np.asarray(fine, dtype=np.float32), np.asarray(fine_mask, dtype=np.float32)
        for name, array in (("fine", fine), ("fine_mask", fine_mask)):
            if array.shape != (len(files), hierarchy.n_fine):
                raise InputError(f"{name} has shape {array.shape}, expected ({len(files)}, {hierarchy.n_fine}) "
                                 "(one row per file, one column per fine tag)")
        coarse, coarse_mask = hierarchy.coarse_from_fine(fine, fine_mask)
        return cls([Path(f) for f in files], fine, fine_mask, coarse, coarse_mask,
                   None if split is None else list(split), hierarchy, None if root is None else Path(root),
                   list(keys) if keys is not None else [])

    def __len__(self) -> int:
        return len(self.files)

    def _indices(self, indices) -> np.ndarray:
        idx = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise InputError(f"row indices must lie in [0, {len(self)}), got {idx.min()}..{idx.max()}")
        return idx

    @property
    def is_flat(self) -> bool:
        """Whether the labels are a flat :class:`~kaudio.hierarchy.ClassList` (no coarse level)."""
        return isinstance(self.hierarchy, ClassList)

    def targets(self, indices=None) -> dict[str, np.ndarray]:
        """The target arrays of the given rows (all rows for ``None``), float32 — the targets dict of
        :mod:`kaudio.losses`: ``fine``, ``coarse``, ``fine_mask``, ``coarse_mask`` for a hierarchy,
        ``labels`` and ``labels_mask`` for flat classes."""
        idx = self._indices(indices)
        if self.is_flat:
            return {"labels": self.fine[idx], "labels_mask": self.fine_mask[idx]}
        return {"fine": self.fine[idx], "coarse": self.coarse[idx],
                "fine_mask": self.fine_mask[idx], "coarse_mask": self.coarse_mask[idx]}

    def subset(self, indices) -> "TaggingTable":
        """A new table with the given rows, in the given order."""
        idx = self._indices(indices)
        return TaggingTable([self.files[i] for i in idx], self.fine[idx], self.fine_mask[idx], self.coarse[idx],
                            self.coarse_mask[idx], None if self.split is None else [self.split[i] for i in idx],
                            self.hierarchy, self.root, [self.keys[i] for i in idx])

    def tag_counts(self, indices=None) -> dict[str, dict[str, tuple[int, int]]]:
        """``{"fine": {tag: (positives, known)}, "coarse": {...}}`` over the given rows."""
        idx = self._indices(indices)
        out = {}
        for level, names in (("fine", self.hierarchy.fine_names), ("coarse", self.hierarchy.coarse_names)):
            y = getattr(self, level)[idx]
            m = getattr(self, f"{level}_mask")[idx]
            positives = ((y >= 0.5) & (m > 0)).sum(axis=0)
            known = (m > 0).sum(axis=0)
            out[level] = {name: (int(p), int(k)) for name, p, k in zip(names, positives, known)}
        return out

    def summary(self, indices=None) -> str:
        """A readable table of positives / known per tag (coarse tags with their fine tags below)."""
        idx = self._indices(indices)
        counts = self.tag_counts(idx)
        split = ""
        if self.split is not None:
            names = [self.split[i] or "unassigned" for i in idx]
            split = " (" + ", ".join(f"{s}: {names.count(s)}" for s in (*SPLITS, "unassigned") if s in names) + ")"
        if self.is_flat:
            lines = [f"{len(idx)} clips{split}, {self.hierarchy.n_fine} classes", f"{'class':<28}{'positive':>10}{'known':>10}"]
            lines += [f"{name:<28}{p:>10}{k:>10}" for name, (p, k) in counts["fine"].items()]
            return "\n".join(lines)
        lines = [f"{len(idx)} clips{split}, {self.hierarchy.n_fine} fine / {self.hierarchy.n_coarse} coarse tags",
                 f"{'tag':<28}{'positive':>10}{'known':>10}"]
        for coarse in self.hierarchy.coarse_names:
            p, k = counts["coarse"][coarse]
            lines.append(f"{coarse:<28}{p:>10}{k:>10}")
            for fine in self.hierarchy.children(coarse):
                p, k = counts["fine"][fine]
                lines.append(f"  {fine:<26}{p:>10}{k:>10}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        where = f", from {self.root}" if self.root else ""
        return f"TaggingTable({len(self)} clips, {self.hierarchy!r}{where})"


# ----------------------------------------------------------------------------------------------
# Reading a folder


def resolve_data_hierarchy(hierarchy: Any, root: Path) -> Hierarchy:
    """``hierarchy`` as a :class:`Hierarchy`: a Hierarchy, a mapping, a YAML path (relative to
    ``root``) or a bundled name; ``None`` uses ``root/hierarchy.yaml``."""
    from kaudio.hierarchy.spec_field import bundled_hierarchy_names, find_hierarchy_file

    if isinstance(hierarchy, Hierarchy):
        return hierarchy
    if isinstance(hierarchy, Mapping):
        return Hierarchy.from_mapping(hierarchy)
    if hierarchy is None:
        path = root / HIERARCHY_FILE
        if not path.is_file():
            raise KaudioError(f"no hierarchy given and {path} does not exist; pass the spec's hierarchy or add "
                              f"a {HIERARCHY_FILE} (`coarse: [fine, ...]`) to the dataset folder")
        return Hierarchy.load(path)
    if isinstance(hierarchy, (str, os.PathLike)):
        path = find_hierarchy_file(str(hierarchy), root)
        if path is None:
            raise KaudioError(f"hierarchy {str(hierarchy)!r} is neither a file (relative to {root}) nor a bundled "
                              f"hierarchy ({', '.join(bundled_hierarchy_names()) or 'none'})")
        return Hierarchy.load(path)
    raise KaudioError(f"hierarchy must be a Hierarchy, a mapping or a path, got {type(hierarchy).__name__}")


def _read_labels_csv(root: Path) -> tuple[Path, list[str], list[tuple[int, list[str]]], list[str]]:
    """``(path, header, rows, problems)`` of ``root/labels.csv``; raises for a missing folder or file and
    for an unreadable csv (``problems`` are those that still let the rows be read)."""
    if not root.is_dir():
        raise InputError(f"{root}: dataset folder not found" + (" (it is a file)" if root.exists() else ""))
    labels_path = root / LABELS_FILE
    if not labels_path.is_file():
        csvs = sorted(p.name for p in root.glob("*.csv"))
        hint = f"; csv files there: {', '.join(csvs)}" if csvs else ""
        raise InputError(f"{root}: no {LABELS_FILE} (columns file,tags[,known][,split]){hint}")
    problems: list[str] = []
    read = _read_csv(labels_path, problems)
    if read is None:
        raise LabelsError(problems, str(labels_path))
    return labels_path, read[0], read[1], problems


def _read_csv(path: Path, problems: list[str]) -> tuple[list[str], list[tuple[int, list[str]]]] | None:
    """Header and ``(line, cells)`` rows of a csv file, or ``None`` (problem recorded)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            rows = []
            header = None
            for cells in reader:
                if not cells or all(not c.strip() for c in cells):
                    continue  # blank line
                if header is None:
                    header = [c.strip() for c in cells]
                    header_line = reader.line_num
                    continue
                rows.append((reader.line_num, cells))
    except UnicodeDecodeError as err:
        problems.append(f"{path}: not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8 csv")
        return None
    except csv.Error as err:
        problems.append(f"{path}: malformed csv ({err})")
        return None
    except OSError as err:
        problems.append(f"{path}: cannot read ({err.strerror or err})")
        return None
    if header is None:
        problems.append(f"{path}: the file is empty; expected a header row `file,tags[,known][,split]`")
        return None
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in seen and name:
            problems.append(f"{path}:{header_line}: column {name!r} appears twice "
                            f"(columns {seen[name] + 1} and {i + 1})")
        seen.setdefault(name, i)
    return header, rows


def _row_cells(path: Path, line: int, header: list[str], cells: list[str],
               problems: list[str]) -> dict[str, str] | None:
    if len(cells) != len(header):
        problems.append(f"{path}:{line}: {len(cells)} fields, the header has {len(header)} "
                        "(a tag list with commas must be quoted; tags are separated by ';')")
        return None
    return {name: cell.strip() for name, cell in zip(header, cells)}


def _file_key(name: str) -> str:
    return Path(name.replace("\\", "/")).as_posix()


def _read_mask_csv(path: Path, hierarchy: Hierarchy, line_of: dict[str, int], problems: list[str]
                   ) -> dict[str, np.ndarray]:
    """``{file key: (N_fine,) mask}`` from mask.csv; problems appended."""
    read = _read_csv(path, problems)
    if read is None:
        return {}
    header, rows = read
    if "file" not in header:
        problems.append(f"{path}: no `file` column; mask.csv needs `file` and one 0/1 column per fine tag "
                        f"(header: {', '.join(header)})")
        return {}
    tag_columns = [h for h in header if h != "file"]
    try:
        hierarchy.check_tags(tag_columns)
    except TagError as err:
        problems.append(f"{path}: mask columns: {err}")
    missing = [t for t in hierarchy.fine_names if t not in header]
    if missing:
        problems.append(f"{path}: no column for fine tag{'s' if len(missing) > 1 else ''} {_listing(missing)}; "
                        "mask.csv needs one 0/1 column per fine tag")
    masks: dict[str, np.ndarray] = {}
    first: dict[str, int] = {}
    bad_values: list[str] = []
    for line, cells in rows:
        row = _row_cells(path, line, header, cells, problems)
        if row is None:
            continue
        key = _file_key(row["file"])
        if not row["file"]:
            problems.append(f"{path}:{line}: empty `file` cell")
            continue
        if key in first:
            problems.append(f"{path}:{line}: file {row['file']!r} is listed twice (lines {first[key]} and {line})")
            continue
        first[key] = line
        mask = np.ones(hierarchy.n_fine, np.float32)
        for tag in hierarchy.fine_names:
            if tag not in row:
                continue
            value = row[tag]
            if value not in ("0", "1"):
                bad_values.append(f"line {line} column {tag!r}: {value!r}")
                continue
            mask[hierarchy.fine_names.index(tag)] = float(value)
        masks[key] = mask
    if bad_values:
        problems.append(f"{path}: mask values must be 0 (unknown) or 1 (known): {_listing(bad_values)}")
    not_in_labels = [k for k in masks if k not in line_of]
    if not_in_labels:
        problems.append(f"{path}: {len(not_in_labels)} file{'s' if len(not_in_labels) > 1 else ''} not in "
                        f"{LABELS_FILE}: {_listing(not_in_labels)}")
    if rows and line_of:
        no_mask = [k for k in line_of if k not in masks]
        if no_mask:
            problems.append(f"{path}: no mask row for {len(no_mask)} file{'s' if len(no_mask) > 1 else ''} of "
                            f"{LABELS_FILE}: {_listing(no_mask)}")
    return masks


def load_tagging_folder(directory: "str | os.PathLike", hierarchy: Any = None) -> TaggingTable:
    """Read and validate a dataset folder (``labels.csv`` + audio, optional ``mask.csv``).

    Args:
        directory: the folder ``DIR``.
        hierarchy: a :class:`~kaudio.hierarchy.Hierarchy`, a ``{coarse: [fine]}`` mapping, a
            hierarchy YAML path (relative to ``DIR``) or bundled name; ``None`` reads
            ``DIR/hierarchy.yaml``. The data's tags must be fine tags of it; its order is the
            column order of the table.

    Returns:
        a :class:`TaggingTable` with rows in ``labels.csv`` order.

    Raises:
        LabelsError: listing every problem: missing/duplicate columns, rows with the wrong
            number of fields, empty or duplicate ``file`` cells, missing audio files, tags not in
            the hierarchy (coarse tags used as fine ones are named as such), positive tags
            missing from ``known``, bad ``split`` values, mask.csv problems.
    """
    root = Path(directory).expanduser()
    labels_path, header, rows, problems = _read_labels_csv(root)
    hierarchy = resolve_data_hierarchy(hierarchy, root)
    for name in ("file", "tags"):
        if name not in header:
            close = difflib.get_close_matches(name, [h.lower() for h in header], n=1, cutoff=0.6)
            rename = f"; rename column {header[[h.lower() for h in header].index(close[0])]!r} to {name!r}?" \
                if close else ""
            problems.append(f"{labels_path}: no `{name}` column{rename} "
                            f"(header: {', '.join(header) or 'empty'}; expected file,tags[,known][,split])")
    for name in header:
        if name not in COLUMNS:
            close = difflib.get_close_matches(name.lower(), COLUMNS, n=1, cutoff=0.6)
            if close and close[0] not in header and close[0] in ("known", "split"):
                problems.append(f"{labels_path}: column {name!r} is not a labels.csv column; "
                                f"did you mean {close[0]!r}? "
                                f"(columns: {', '.join(COLUMNS)})")
    if "file" not in header or "tags" not in header:
        raise LabelsError(problems, str(labels_path))
    if not rows:
        problems.append(f"{labels_path}: no data rows below the header")
    has_known, has_split = "known" in header, "split" in header
    mask_path = root / MASK_FILE
    if has_known and mask_path.is_file():
        problems.append(f"{root}: both a `known` column in {LABELS_FILE} and a {MASK_FILE}; give the mask one way "
                        f"only (delete {MASK_FILE} or the `known` column)")

    files: list[Path] = []
    keys: list[str] = []
    line_of: dict[str, int] = {}
    positives: list[list[str]] = []
    known_lists: list[list[str] | None] = []
    splits: list[str] = []
    lines: list[int] = []
    missing_audio: list[str] = []
    unknown_tags: dict[str, list[int]] = {}
    bad_splits: list[str] = []
    for line, cells in rows:
        row = _row_cells(labels_path, line, header, cells, problems)
        if row is None:
            continue
        name = row["file"]
        if not name:
            problems.append(f"{labels_path}:{line}: empty `file` cell")
            continue
        key = _file_key(name)
        if key in line_of:
            problems.append(f"{labels_path}:{line}: duplicate row: file {name!r} is also on line {line_of[key]}")
            continue
        line_of[key] = line
        path = root / key
        if not path.is_file():
            missing_audio.append(f"{name} (line {line})")
        tags = _split_tags(row["tags"])
        known = _split_tags(row.get("known")) or None
        for tag in tags + (known or []):
            if tag not in hierarchy.fine_names:
                unknown_tags.setdefault(tag, []).append(line)
        if known is not None:
            unknown_positive = [t for t in tags if t not in known]
            if unknown_positive:
                problems.append(f"{labels_path}:{line}: positive tag{'s' if len(unknown_positive) > 1 else ''} "
                                f"{', '.join(map(repr, unknown_positive))} not listed in `known`; a present tag is "
                                "known — add it to `known`")
        split = row.get("split", "").lower() if has_split else ""
        if split and split not in SPLITS:
            bad_splits.append(f"line {line}: {row['split']!r}{did_you_mean(split, SPLITS)}")
        files.append(path)
        keys.append(key)
        positives.append(tags)
        known_lists.append(known)
        splits.append(split)
        lines.append(line)
    if missing_audio:
        problems.append(f"{len(missing_audio)} audio file{'s' if len(missing_audio) > 1 else ''} named in "
                        f"{labels_path} not found under {root}: {_listing(missing_audio)}")
    if unknown_tags:
        try:
            hierarchy.check_tags(unknown_tags)
        except TagError as err:
            where = "; ".join(f"{t!r} on {_lines(ls)}" for t, ls in unknown_tags.items())
            problems.append(f"{labels_path}: {err} [{where}]")
    if bad_splits:
        problems.append(f"{labels_path}: `split` must be one of {', '.join(SPLITS)} or empty: {_listing(bad_splits)}")
    masks = _read_mask_csv(mask_path, hierarchy, line_of, problems) if mask_path.is_file() and not has_known else {}
    if problems:
        raise LabelsError(problems, str(root))

    n, index = len(files), {t: i for i, t in enumerate(hierarchy.fine_names)}
    fine = np.zeros((n, hierarchy.n_fine), np.float32)
    fine_mask = np.ones((n, hierarchy.n_fine), np.float32)
    for r, (tags, known, key) in enumerate(zip(positives, known_lists, keys)):
        fine[r, [index[t] for t in tags]] = 1.0
        if known is not None:
            fine_mask[r] = 0.0
            fine_mask[r, [index[t] for t in known]] = 1.0
        elif masks:
            fine_mask[r] = masks[key]
    if masks:
        unknown_positive = np.argwhere((fine > 0) & (fine_mask == 0))
        if len(unknown_positive):
            offenders = [f"{LABELS_FILE} line {lines[r]}: {hierarchy.fine_names[c]!r}" for r, c in unknown_positive]
            raise LabelsError([f"{mask_path}: {len(offenders)} positive tag{'s' if len(offenders) > 1 else ''} "
                               f"masked as unknown (a present tag is known; set its mask to 1): {_listing(offenders)}"],
                              str(root))
    table = TaggingTable.from_fine(files, fine, fine_mask, hierarchy, splits if has_split else None, root, keys)
    return table


def tag_names_in(directory: "str | os.PathLike") -> list[str]:
    """The tag names ``DIR/labels.csv`` uses (its ``tags`` and ``known`` cells), sorted: the classes of
    a flat tagger or classifier whose spec lists none.

    Raises:
        LabelsError / InputError: the folder or its ``labels.csv`` cannot be read (the full check
            comes with :func:`load_tagging_folder`).
    """
    labels_path, header, rows, problems = _read_labels_csv(Path(directory).expanduser())
    names: set[str] = set()
    for line, cells in rows:
        row = _row_cells(labels_path, line, header, cells, problems)
        if row is not None:
            names.update(_split_tags(row.get("tags")) + _split_tags(row.get("known")))
    if problems:
        raise LabelsError(problems, str(labels_path))
    if not names:
        raise InputError(f"{labels_path}: no tags in any row, so there are no classes to learn")
    return sorted(names)


def tags_of(table: TaggingTable, row: int) -> list[str]:
    """The positive fine tags of one row (for messages and tests)."""
    names = table.hierarchy.fine_names
    return [t for t, y, m in zip(names, table.fine[row], table.fine_mask[row]) if y >= 0.5 and m > 0]
