"""examples/finetune/finetune.py end to end: a backbone preset with weights from a file, a new head,
frozen then partly unfrozen training, and a .keras file that loads back."""

import keras
import numpy as np
import pytest
import soundfile as sf

from kaudio.models import Backbone
from tests.examples import load_example



@pytest.fixture(scope="module")
def finetune():
    return load_example("finetune", "finetune", "finetune_example")


def test_block_numbers_of_both_families(finetune):
    assert finetune.block_number("block3_conv1_conv") == 3 and finetune.block_number("conv_block4_conv2_bn") == 4
    assert finetune.block_number("audio_embedding_layer") is None and finetune.block_number("fc1") is None


def test_unfreeze_top_blocks_keeps_batch_norm_frozen(finetune):
    backbone = Backbone.from_preset("openl3_mel128_env", weights=None)
    unfrozen = finetune.unfreeze_top_blocks(backbone, 1)
    assert unfrozen == ["block4_conv1_conv", "audio_embedding_layer"]
    assert not backbone.get_layer("block4_conv1_bn").trainable and not backbone.get_layer("block3_conv2_conv").trainable


@pytest.mark.slow
def test_finetune_end_to_end(finetune, tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    rows = ["file,tags"]
    for i in range(8):  # two classes: a low and a high tone, 1 s at 16 kHz (resampled to 48 kHz)
        tone = 300.0 if i % 2 else 3000.0
        t = np.arange(16000) / 16000
        sf.write(data / f"clip{i}.wav", (0.3 * np.sin(2 * np.pi * tone * t) + 0.01 * rng.standard_normal(16000)).astype("float32"), 16000)
        rows.append(f"clip{i}.wav,{'low' if i % 2 else 'high'}")
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    weights = tmp_path / "pretrained.weights.h5"  # stands in for a released or converted weights file
    pretrained = Backbone.from_preset("openl3_mel128_env", weights=None)
    pretrained.save_weights(weights)

    out = tmp_path / "classifier.keras"
    assert finetune.main(["--data", str(data), "--preset", "openl3_mel128_env", "--weights", str(weights),
                          "--out", str(out), "--head-epochs", "1", "--finetune-epochs", "1", "--batch-size", "4"]) == 0
    model = keras.models.load_model(out)
    assert model.output.shape == (None, 2)
    loaded_backbone = model.get_layer("backbone")
    np.testing.assert_array_equal(loaded_backbone.get_layer("block1_conv1_conv").kernel.numpy(),
                                  pretrained.get_layer("block1_conv1_conv").kernel.numpy())  # frozen: unchanged
    assert not np.array_equal(loaded_backbone.get_layer("audio_embedding_layer").kernel.numpy(),
                              pretrained.get_layer("audio_embedding_layer").kernel.numpy())  # fine-tuned
    probabilities = np.asarray(model(np.zeros((1, 48000, 1), "float32")))
    np.testing.assert_allclose(probabilities.sum(), 1.0, rtol=1e-5)
