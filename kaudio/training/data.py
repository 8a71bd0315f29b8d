"""Datasets of a training spec from a ``labels.csv`` folder (used by ``kaudio train`` / ``evaluate``)."""
from __future__ import annotations

import os
from dataclasses import dataclass

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
    def load(cls, spec, directory: "str | os.PathLike") -> "SpecData":
        from kaudio.data import load_tagging_folder, split_indices
        from kaudio.hierarchy import Hierarchy

        if not spec.head or "hierarchy" not in spec.head:
            raise KaudioError(f"the spec {spec.name!r} has no hierarchical head (head.type flat, levelwise, topdown, "
                              "gmp, gap, lp or resatt with a hierarchy)")
        table = load_tagging_folder(directory, Hierarchy.from_mapping(spec.head["hierarchy"]))
        train = spec.train or {"val_fraction": 0.15, "seed": 0}
        splits = split_indices(table, val_fraction=train["val_fraction"], seed=train["seed"])
        if len(splits["train"]) == 0:
            raise KaudioError(f"{directory}: no training clips (every row of labels.csv is in val or test)")
        return cls(spec, table, splits)

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


def reraise_data_errors(error: BaseException):
    """Turn a TensorFlow error raised by a failing audio file into its kaudio :class:`InputError`."""
    from kaudio.data import data_error

    found = data_error(error)
    if found is not None:
        raise found from None
    raise error
