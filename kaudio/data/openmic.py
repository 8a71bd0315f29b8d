"""OpenMIC-2018 in its release layout → :class:`~kaudio.data.TaggingTable`.

The release (Humphrey, Durand & McFee, ISMIR 2018) unpacks to::

    openmic-2018/
        openmic-2018-aggregated-labels.csv   sample_key,instrument,relevance,num_responses
        class-map.json                       {"accordion": 0, ..., "voice": 19}
        audio/000/000046_3840.ogg            audio/{sample_key[:3]}/{sample_key}.ogg
        partitions/split01_train.csv         one sample_key per line, no header
        partitions/split01_test.csv

Each clip was annotated for a few of the 20 instruments only. Following the release's own
``openmic-2018.npz`` (``Y_true`` = relevance, ``Y_mask`` = annotated) and its baseline:

* an instrument is **known** for a clip iff the aggregated-labels file has a row for that
  (sample_key, instrument) pair; the others are masked out (mask 0);
* a known instrument is **positive** iff its relevance ≥ 0.5 (``threshold``); with
  ``soft_labels=True`` the target is the relevance itself.

Coarse targets follow by the max rule of the hierarchy, by default the bundled tone-based
``openmic_tone`` hierarchy (Zhong et al., Fig. 1), whose fine tags are the class-map names.
The table's rows are the partition's train keys then its test keys, each in file order; its
``split`` is ``train`` / ``test`` (:func:`~kaudio.data.split_indices` then carves the 15 %
validation set out of train).
"""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from kaudio.data.labels_csv import LabelsError, TaggingTable, _listing, resolve_data_hierarchy
from kaudio.errors import InputError
from kaudio.hierarchy import TagError

LABELS_CSV = "openmic-2018-aggregated-labels.csv"
CLASS_MAP = "class-map.json"
LABEL_COLUMNS = ("sample_key", "instrument", "relevance", "num_responses")
DEFAULT_HIERARCHY = "openmic_tone"


def find_openmic_root(root: "str | os.PathLike") -> Path:
    """``root`` itself, or ``root/openmic-2018`` when ``root`` is the folder the archive was unpacked in."""
    root = Path(root).expanduser()
    for candidate in (root, root / "openmic-2018"):
        if (candidate / LABELS_CSV).is_file():
            return candidate
    if not root.is_dir():
        raise InputError(f"{root}: OpenMIC-2018 folder not found")
    raise InputError(f"{root}: not an OpenMIC-2018 release folder (no {LABELS_CSV}); point to the unpacked "
                     "`openmic-2018/` folder holding the labels csv, class-map.json, audio/ and partitions/")


def audio_path(root: Path, sample_key: str) -> Path:
    """Where the release keeps a clip: ``audio/{key[:3]}/{key}.ogg``."""
    return root / "audio" / sample_key[:3] / f"{sample_key}.ogg"


def _read_partition(path: Path, problems: list[str]) -> list[tuple[int, str]]:
    if not path.is_file():
        problems.append(f"{path}: partition file not found")
        return []
    keys = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for line, text in enumerate(handle, 1):
            key = text.strip()
            if key:
                keys.append((line, key))
    if not keys:
        problems.append(f"{path}: the partition file lists no sample keys")
    return keys


def load_openmic(root: "str | os.PathLike", hierarchy: Any = None, split: str = "split01", threshold: float = 0.5,
                 soft_labels: bool = False, check_audio: bool = True) -> TaggingTable:
    """Read the OpenMIC-2018 release into a table (rows: partition train keys, then test keys).

    Args:
        root: the unpacked ``openmic-2018/`` folder (or the folder containing it).
        hierarchy: defaults to the bundled ``openmic_tone``; any hierarchy (object, mapping, file,
            bundled name) whose fine tags are the 20 class-map names.
        split: the partition prefix (``partitions/{split}_train.csv`` / ``_test.csv``).
        threshold: relevance at or above which a known instrument is positive.
        soft_labels: use the relevance in [0, 1] as the target instead of 0/1.
        check_audio: report clips whose ``.ogg`` file is missing.

    Raises:
        LabelsError: every inconsistency at once (bad columns or values, instruments missing from
            the class map, duplicate pairs, keys without labels, keys in both partitions, missing audio).
    """
    root = find_openmic_root(root).resolve()
    hierarchy = resolve_data_hierarchy(DEFAULT_HIERARCHY if hierarchy is None else hierarchy, root)
    problems: list[str] = []

    class_map_path = root / CLASS_MAP
    try:
        class_map = json.loads(class_map_path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InputError(f"{class_map_path}: not found (the release's instrument → index map)") from err
    except (OSError, ValueError) as err:
        raise InputError(f"{class_map_path}: cannot read it as JSON ({err})") from err
    if not isinstance(class_map, dict) or not all(isinstance(k, str) for k in class_map):
        raise InputError(f"{class_map_path}: expected an object {{instrument: index}}")
    instruments = list(class_map)
    try:
        hierarchy.check_tags(instruments)
    except TagError as err:
        problems.append(f"{class_map_path}: class-map instruments missing from the hierarchy: {err}")
    not_in_map = [t for t in hierarchy.fine_names if t not in class_map]
    if not_in_map:
        problems.append(f"the hierarchy has fine tags that are not OpenMIC instruments ({CLASS_MAP}): "
                        f"{_listing(not_in_map)}")
    if problems:
        raise LabelsError(problems, str(root))

    partitions = {}
    for name in ("train", "test"):
        partitions[name] = _read_partition(root / "partitions" / f"{split}_{name}.csv", problems)
    row_of: dict[str, int] = {}
    keys: list[str] = []
    splits: list[str] = []
    where: dict[str, str] = {}
    for name, entries in partitions.items():
        path = f"partitions/{split}_{name}.csv"
        for line, key in entries:
            if key in row_of:
                problems.append(f"{root / path}:{line}: sample key {key!r} is also listed in {where[key]}")
                continue
            where[key] = f"{path}:{line}"
            row_of[key] = len(keys)
            keys.append(key)
            splits.append(name)

    n, column = len(keys), {t: i for i, t in enumerate(hierarchy.fine_names)}
    fine = np.zeros((n, hierarchy.n_fine), np.float32)
    mask = np.zeros((n, hierarchy.n_fine), np.float32)
    labels_path = root / LABELS_CSV
    seen: dict[tuple[str, str], int] = {}
    not_partitioned: list[str] = []
    unknown_instruments: dict[str, list[int]] = {}
    bad_relevance: list[str] = []
    with open(labels_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in LABEL_COLUMNS[:3] if c not in (reader.fieldnames or [])]
        if missing:
            raise LabelsError([f"{labels_path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                               f"(header: {', '.join(reader.fieldnames or [])}; expected {','.join(LABEL_COLUMNS)})"],
                              str(root))
        for record in reader:
            line = reader.line_num
            key, instrument = (record["sample_key"] or "").strip(), (record["instrument"] or "").strip()
            if (key, instrument) in seen:
                problems.append(f"{labels_path}:{line}: ({key}, {instrument}) is also on line {seen[key, instrument]}")
                continue
            seen[key, instrument] = line
            if instrument not in column:
                unknown_instruments.setdefault(instrument, []).append(line)
                continue
            try:
                relevance = float(record["relevance"])
            except (TypeError, ValueError):
                relevance = math.nan
            if not 0.0 <= relevance <= 1.0:
                bad_relevance.append(f"line {line}: {record['relevance']!r}")
                continue
            if key not in row_of:
                not_partitioned.append(key)
                continue
            r, c = row_of[key], column[instrument]
            mask[r, c] = 1.0
            fine[r, c] = relevance if soft_labels else float(relevance >= threshold)
    if unknown_instruments:
        listed = [f"{t!r} (line {ls[0]}{f' and {len(ls) - 1} more' if len(ls) > 1 else ''})"
                  for t, ls in unknown_instruments.items()]
        problems.append(f"{labels_path}: instruments not in the class map / hierarchy: {_listing(listed)}")
    if bad_relevance:
        problems.append(f"{labels_path}: relevance must be a number in [0, 1]: {_listing(bad_relevance)}")
    if not_partitioned:
        unique = list(dict.fromkeys(not_partitioned))
        problems.append(f"{labels_path}: {len(unique)} sample key{'s' if len(unique) > 1 else ''} in no "
                        f"{split} partition: {_listing(unique)}")
    unlabelled = [keys[r] for r in np.flatnonzero(mask.sum(axis=1) == 0)]
    if unlabelled:
        problems.append(f"{len(unlabelled)} partition key{'s' if len(unlabelled) > 1 else ''} without any label in "
                        f"{LABELS_CSV}: {_listing(unlabelled)}")
    files = [audio_path(root, key) for key in keys]
    if check_audio:
        absent = [str(f.relative_to(root)) for f in files if not f.is_file()]
        if absent:
            problems.append(f"{len(absent)} audio file{'s' if len(absent) > 1 else ''} not found under {root}: "
                            f"{_listing(absent)}")
    if problems:
        raise LabelsError(problems, str(root))
    return TaggingTable.from_fine(files, fine, mask, hierarchy, splits, root, keys)
