"""The video-level train / val / test split of an AVC set, saved as JSON and reused.

As in marl/l3embedding (``get_subset_split``; Cramer et al. 2019, §3.1: "80% of the data for
training, 10% for validation, and 10% for testing"), whole videos are split, so no picture or
sound of a validation or test video is ever trained on. The video keys are sorted, shuffled
with ``numpy.random.default_rng(seed)`` (default seed 20180118, the reference's) and cut into
``round(n · val)`` validation, ``round(n · test)`` test and the rest training videos
(a split that would hold a single video gets two: a video is paired with another of its split).

The split is written once (``split.json`` in a run or shards folder: ``{"train": [keys], "val":
[...], "test": [...], "seed": …, "fractions": […]}``) and read back by every later run, so
training, validation and shard preparation always agree. If the folder's usable videos are no
longer those of the file (videos added, removed or now unreadable), or another seed or fractions
are asked for, the file is refused with the difference named rather than silently re-split.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from kaudio.errors import InputError, KaudioError

SPLIT_FILE = "split.json"
SPLIT_NAMES = ("train", "val", "test")
#: marl/l3embedding's split seed.
SPLIT_SEED = 20180118


def split_videos(keys: Sequence[str], seed: int = SPLIT_SEED, val: float = 0.1, test: float = 0.1) -> dict:
    """``{"train": [...], "val": [...], "test": [...]}`` video keys (each list sorted).

    A val or test split that would hold one video gets two (a video is paired with another of
    its split); one that rounds to none stays empty.

    Raises:
        InputError: fractions outside [0, 1) or summing to 1 or more, or fewer than two training videos left.
    """
    for name, value in (("val", val), ("test", test)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise InputError(f"the {name} fraction must be a number in [0, 1), got {value!r}")
    if val + test >= 1:
        raise InputError(f"the val and test fractions ({val:g} + {test:g}) leave no training videos")
    ordered = sorted(keys)
    shuffled = [ordered[i] for i in np.random.default_rng(seed).permutation(len(ordered))]
    # a split of one video cannot make pairs: it gets a second one (small sets only)
    n_val, n_test = (max(int(round(len(ordered) * f)), 2) if round(len(ordered) * f) else 0 for f in (val, test))
    if len(ordered) - n_val - n_test < 2:
        raise InputError(f"{len(ordered)} usable videos are too few for {n_val} val, {n_test} test and at least 2 "
                         "training videos (a video is paired with another of its split); add videos or lower the "
                         "val/test fractions")
    split = {"train": sorted(shuffled[n_val + n_test:]), "val": sorted(shuffled[:n_val]),
             "test": sorted(shuffled[n_val:n_val + n_test])}
    return split


def load_or_make_split(path: "str | os.PathLike", keys: Sequence[str], seed: int = SPLIT_SEED,
                       val: float = 0.1, test: float = 0.1) -> dict:
    """The split saved at ``path``, checked against ``keys``; made and written (atomically) when missing.

    Raises:
        KaudioError: the saved split holds other videos than ``keys`` (both differences named, a
            few keys each) or was made with another seed or other fractions.
    """
    from kaudio.atomic import write_text_atomic

    path = Path(path)
    if not path.is_file():
        split = split_videos(keys, seed, val, test)
        write_text_atomic(path, json.dumps({**split, "seed": seed, "fractions": {"val": val, "test": test}},
                                           indent=1) + "\n")
        return split
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        split = {name: list(saved[name]) for name in SPLIT_NAMES}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise KaudioError(f"{path}: cannot read the video split ({type(err).__name__}: {err}); remove the file to "
                          "split again") from err
    problems = []
    if saved.get("seed") != seed:
        problems.append(f"it was made with split seed {saved.get('seed')}, not {seed}")
    if saved.get("fractions") != {"val": val, "test": test}:
        problems.append(f"it was made with fractions {saved.get('fractions')}, not {{'val': {val}, 'test': {test}}}")
    have = {key for name in SPLIT_NAMES for key in split[name]}
    wanted = set(keys)
    if have != wanted:
        gone, new = sorted(have - wanted), sorted(wanted - have)
        if gone:
            problems.append(f"{len(gone)} of its videos are not usable videos of the folder ({_few(gone)})")
        if new:
            problems.append(f"{len(new)} usable videos of the folder are not in it ({_few(new)})")
    if problems:
        raise KaudioError(f"{path}: the saved video split does not fit: " + "; ".join(problems)
                          + ". Use the videos (and options) it was made for, or another run/shards folder")
    return split


def _few(keys: Sequence[str]) -> str:
    return ", ".join(keys[:5]) + (f", … and {len(keys) - 5} more" if len(keys) > 5 else "")
