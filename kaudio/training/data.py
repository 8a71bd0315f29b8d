"""Datasets of a supervised training spec from a ``labels.csv`` folder or an OpenMIC-2018 release
(used by ``kaudio train`` / ``evaluate``).

The labels follow the spec's head: a hierarchical head reads its hierarchy's fine tags (coarse
targets by the max rule), a ``tagger`` or ``classifier`` its ``classes`` (a single-label folder must
give every clip exactly one known positive class).

The split a run was trained on is saved as ``split.json`` in its run directory (clip keys per
split), and ``kaudio evaluate`` reuses it, so thresholds are never tuned on training clips, whatever
``train.seed`` a ``--seeds`` or λ-grid sub-run has.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from kaudio.errors import KaudioError


@dataclass
class SpecData:
    """A dataset folder read for a spec: the table, its split and a dataset factory.

    ``dataset(split, seed)`` gives the batched ``tf.data`` dataset of ``split`` ("train", "val",
    "test"): the training split is shuffled with a random window when ``train.crop`` is
    ``random``; the others keep their order and take each clip's first ``input.samples`` samples.
    """

    spec: object
    table: object
    splits: dict

    @classmethod
    def load(cls, spec, directory: "str | os.PathLike", split_file: "str | os.PathLike | None" = None,
             all_test: bool = False) -> "SpecData":
        """Read ``directory`` for ``spec`` and split it.

        ``directory`` is a folder with ``labels.csv`` or an OpenMIC-2018 release (the folder holding
        ``openmic-2018-aggregated-labels.csv``, or the one it was unpacked in). With ``split_file``
        (a ``split.json`` written by :meth:`save_split`) the clips keep the split of that run;
        otherwise the ``split`` column / iterative stratification decides (``train.val_fraction``,
        ``train.seed``). With ``all_test`` every clip is a test clip (an out-of-domain test folder).
        """
        from kaudio.data import load_openmic, load_tagging_folder, split_indices
        from kaudio.data.openmic import LABELS_CSV as OPENMIC_LABELS

        labels = label_set(spec)
        root = Path(directory).expanduser()
        is_openmic = not (root / "labels.csv").is_file() and any(
            (candidate / OPENMIC_LABELS).is_file() for candidate in (root, root / "openmic-2018"))
        table = load_openmic(root.resolve(), labels) if is_openmic else load_tagging_folder(root, labels)
        if _is_single_label(spec):
            _check_single_label(table, root)
        if all_test:
            import numpy as np

            empty = np.zeros(0, dtype=np.int64)
            splits = {"train": empty, "val": empty, "test": np.arange(len(table), dtype=np.int64)}
        elif split_file is not None:
            splits = _read_split(Path(split_file), table)
        else:
            train = spec.train or {"val_fraction": 0.15, "seed": 0}
            splits = split_indices(table, val_fraction=train["val_fraction"], seed=train["seed"])
        if len(splits["train"]) == 0 and split_file is None and not all_test:
            raise KaudioError(f"{directory}: no training clips (every row of labels.csv is in val or test)")
        return cls(spec, table, splits)

    def save_split(self, path: "str | os.PathLike") -> Path:
        """Write the clip keys of each split to ``path`` (``split.json``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = {name: [self.table.keys[i] for i in indices] for name, indices in self.splits.items()}
        path.write_text(json.dumps(keys, indent=0))
        return path

    def dataset(self, split: str, seed: int = 0):
        import tensorflow as tf

        from kaudio.data import make_dataset

        tf.random.set_seed(seed)  # tf.data's seeded shuffles also depend on the global seed: fix it too
        indices = self.splits[split]
        if len(indices) == 0:
            raise KaudioError(f"the data has no {split!r} clips; add rows with split={split} to labels.csv"
                              + (" or use --split val" if split == "test" else ""))
        train = self.spec.train or {}
        shuffle = split == "train" and train.get("crop", "random") == "random"
        return make_dataset(self.table, indices, self.spec.input["sample_rate"], self.spec.input["samples"],
                            batch_size=train.get("batch_size", 16), shuffle=shuffle, seed=seed,
                            cache=train.get("cache"))


def label_set(spec):
    """The labels a spec's head predicts: its :class:`~kaudio.hierarchy.Hierarchy`, or a
    :class:`~kaudio.hierarchy.ClassList` of its ``classes``."""
    from kaudio.hierarchy import ClassList, Hierarchy

    head = spec.head or {}
    if "hierarchy" in head:
        return Hierarchy.from_mapping(head["hierarchy"])
    if head.get("classes"):
        return ClassList(head["classes"], source=f"{spec.name}: head.classes")
    raise KaudioError(f"the spec {spec.name!r} names no labels: give head.classes (a tagger or classifier) or a "
                      "hierarchical head with a hierarchy")


def with_data_classes(spec, directory: "str | os.PathLike", announce=print):
    """``spec`` with ``head.classes`` (and ``num_classes``) taken from the data folder's tags when a
    tagger/classifier spec names no classes; other specs are returned unchanged."""
    from kaudio.data.labels_csv import tag_names_in
    from kaudio.spec.validate import load_spec

    head = spec.head or {}
    if "classes" not in head or head["classes"]:
        return spec
    classes = tag_names_in(directory)
    announce(f"kaudio: head.classes from the data's labels.csv: {len(classes)} classes ({', '.join(classes[:10])}"
             f"{', …' if len(classes) > 10 else ''}); the spec had num_classes {head['num_classes']}")
    return load_spec(spec, {"head.classes": classes, "head.num_classes": len(classes)})


def _is_single_label(spec) -> bool:
    from kaudio import registry

    head = spec.head or {}
    return getattr(registry.lookup("head", head.get("type", "")), "target_kind", None) == "singlelabel"


def _check_single_label(table, root: Path) -> None:
    """Every clip of a single-label folder has exactly one known positive class."""
    import numpy as np

    from kaudio.data.labels_csv import LabelsError

    positives = ((table.fine >= 0.5) & (table.fine_mask > 0)).sum(axis=1)
    bad = [f"{table.keys[i]} ({int(n)} classes)" for i in np.flatnonzero(positives != 1) for n in [positives[i]]]
    if bad:
        shown = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise LabelsError([f"a classifier head (softmax) needs exactly one class per clip; {len(bad)} clips have "
                           f"another number: {shown}. Use a tagger head for multi-label data"], str(root))


def find_split_file(run_dir: "str | os.PathLike") -> Path | None:
    """The ``split.json`` of a run: in ``run_dir`` or above it (``--seeds`` / λ-grid sub-runs)."""
    run_dir = Path(run_dir).resolve()
    for folder in (run_dir, run_dir.parent, run_dir.parent.parent):
        if (folder / "split.json").is_file():
            return folder / "split.json"
    return None


def _read_split(path: Path, table) -> dict:
    import numpy as np

    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise KaudioError(f"{path}: cannot read the run's split ({err})") from err
    index = {key: i for i, key in enumerate(table.keys)}
    splits, missing = {}, []
    for name in ("train", "val", "test"):
        keys = saved.get(name, []) if isinstance(saved, dict) else []
        missing += [key for key in keys if key not in index]
        splits[name] = np.array(sorted(index[key] for key in keys if key in index), dtype=np.int64)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise KaudioError(f"{path}: {len(missing)} clips of the training run's split are not in this data ({shown}); "
                          "evaluate with the data folder the run was trained on")
    return splits


def reraise_data_errors(error: BaseException):
    """Turn a TensorFlow error raised by a failing audio file into its kaudio :class:`InputError`."""
    from kaudio.data import data_error

    found = data_error(error)
    if found is not None:
        raise found from error
    raise error
