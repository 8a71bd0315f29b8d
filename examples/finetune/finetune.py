"""Fine-tune a pretrained kaudio backbone in your own Keras script (the keras-hub way).

A new classification head goes on top of a backbone preset with its pretrained weights; the
head is trained with the backbone frozen, then the top blocks are unfrozen and trained with a
smaller learning rate (the usual two-phase transfer-learning recipe of the Keras guide "Transfer
learning & fine-tuning"), and the result is saved as one ``.keras`` file::

    python examples/finetune/finetune.py --data DIR --out my_classifier.keras
    python examples/finetune/finetune.py --data DIR --preset cnn14_16k --weights cnn14_16k.keras \
        --unfreeze-blocks 2 --out my_classifier.keras

``DIR`` is a dataset folder with ``labels.csv`` (``file,tags[,split]``, exactly one tag per clip;
see the README's "Dataset folders"). ``--weights`` is ``pretrained`` (the released weights: OpenL3
presets are downloaded once), a weights file (an OpenL3 ``.h5``, a ``.weights.h5`` or a ``.keras``
model from ``kaudio convert panns`` / ``kaudio build`` / a run's ``best.keras``), or ``none``.
Load the saved model with ``import kaudio, keras; keras.models.load_model(PATH)``.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import keras

import kaudio  # noqa: F401  (registers kaudio's layers for saving and loading)
from kaudio.data import load_tagging_folder, make_dataset, split_indices
from kaudio.data.labels_csv import tag_names_in
from kaudio.hierarchy import ClassList
from kaudio.models import Backbone
from kaudio.models.presets import get_preset


def build_classifier(preset_name: str, weights, n_classes: int) -> tuple[keras.Model, keras.Model]:
    """``(model, backbone)``: the preset's front end → its pretrained backbone → a new softmax head."""
    preset = get_preset(preset_name)
    backbone = Backbone.from_preset(preset_name, weights=weights)
    inputs = keras.Input((preset.input["samples"], preset.input["channels"]), name="audio")
    features = backbone(preset.frontend()(inputs))
    if len(features.shape) == 4:  # a feature map (L3): one vector per clip
        features = keras.layers.GlobalMaxPooling2D(name="pool")(features)
    features = keras.layers.Dropout(0.2, name="dropout")(features)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="classifier")(features)
    return keras.Model(inputs, outputs, name=f"{preset_name}_classifier"), backbone


def block_number(layer_name: str) -> int | None:
    """The block a backbone layer belongs to (``block3_conv1_conv`` and ``conv_block3_...`` → 3)."""
    match = re.match(r"(?:conv_)?block(\d+)_", layer_name)
    return int(match.group(1)) if match else None


def unfreeze_top_blocks(backbone: keras.Model, n_blocks: int) -> list[str]:
    """Make the last ``n_blocks`` convolution blocks and every layer after them (the embedding conv,
    ``fc1``) trainable; batch normalisation stays frozen, as the Keras guide advises. Returns the
    names of the unfrozen layers with weights."""
    numbers = sorted({n for n in map(block_number, (layer.name for layer in backbone.layers)) if n is not None})
    first = numbers[-n_blocks] if 0 < n_blocks <= len(numbers) else (numbers[0] if n_blocks else None)
    start = next((i for i, layer in enumerate(backbone.layers) if block_number(layer.name) == first), None)
    backbone.trainable = True
    unfrozen = []
    for i, layer in enumerate(backbone.layers):
        layer.trainable = start is not None and i >= start and not isinstance(layer, keras.layers.BatchNormalization)
        if layer.trainable and layer.weights:
            unfrozen.append(layer.name)
    return unfrozen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="dataset folder with labels.csv (one tag per clip)")
    parser.add_argument("--preset", default="openl3_mel256_music", help="backbone preset (default: %(default)s)")
    parser.add_argument("--weights", default="pretrained", help="'pretrained', a weights file, or 'none'")
    parser.add_argument("--out", required=True, help="the fine-tuned model (.keras)")
    parser.add_argument("--head-epochs", type=int, default=5)
    parser.add_argument("--finetune-epochs", type=int, default=5)
    parser.add_argument("--unfreeze-blocks", type=int, default=1, help="top backbone blocks trained in phase 2")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="phase 1; phase 2 uses a tenth of it")
    args = parser.parse_args(argv)
    weights = None if args.weights.lower() == "none" else args.weights

    classes = ClassList(tag_names_in(args.data))
    table = load_tagging_folder(args.data, classes)
    splits = split_indices(table, val_fraction=0.2, seed=0)
    preset = get_preset(args.preset)
    rate, samples = preset.input["sample_rate"], preset.input["samples"]

    def dataset(split, shuffle=False):
        ds = make_dataset(table, splits[split], rate, samples, batch_size=args.batch_size, shuffle=shuffle)
        return ds.map(lambda audio, targets: (audio, targets["labels"]))  # one-hot labels for Keras' loss

    model, backbone = build_classifier(args.preset, weights, len(classes.names))

    # Phase 1: the new head only (the pretrained backbone frozen, its batch norm in inference mode).
    backbone.trainable = False
    model.compile(keras.optimizers.Adam(args.learning_rate), "categorical_crossentropy", metrics=["accuracy"])
    model.fit(dataset("train", shuffle=True), validation_data=dataset("val"), epochs=args.head_epochs, verbose=2)

    # Phase 2: the top blocks too, with a smaller learning rate.
    unfrozen = unfreeze_top_blocks(backbone, args.unfreeze_blocks)
    print(f"fine-tuning {len(unfrozen)} backbone layers: {', '.join(unfrozen)}")
    model.compile(keras.optimizers.Adam(args.learning_rate / 10), "categorical_crossentropy", metrics=["accuracy"])
    model.fit(dataset("train", shuffle=True), validation_data=dataset("val"), epochs=args.finetune_epochs, verbose=2)

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    inference = keras.Model(model.input, model.output, name=model.name)  # same layers, no optimizer state
    inference.save(args.out)
    print(f"saved {args.out} (classes: {', '.join(classes.names)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
