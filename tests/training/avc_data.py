"""A tiny AVC setting shared by the AVC trainer, CLI and export tests: a two-tower spec on 32x32 frames and
1-s windows at 8 kHz (2,570 parameters), and a folder of six synthetic videos (one tone and one colour each)."""
from pathlib import Path

import numpy as np

from tests.data.avc.synthetic import write_video


def tiny_avc_spec(**train) -> dict:
    """The tiny two-tower AVC spec with ``train: {type: avc, ...}`` (small epochs, batches and sets)."""
    settings = {"type": "avc", "epochs": 2, "batch_size": 4, "steps_per_epoch": 3, "val_samples": 8,
                "learning_rate": 1e-3, "cycle_length": 3, "shuffle_buffer": 8, "val_fraction": 0.34,
                "test_fraction": 0.0, **train}
    l3 = {"filters": [4, 8], "embedding_bn_relu": True}
    return {
        "name": "tiny_avc", "description": "a tiny AVC network for tests",
        "towers": {
            "vision": {"input": {"type": "image", "height": 32, "width": 32, "channels": 3},
                       "backbone": {"type": "l3_image", **l3}, "pooling": {"type": "global_pool", "mode": "max"}},
            "audio": {"input": {"type": "audio", "sample_rate": 8000, "duration": 1.0, "channels": 1},
                      "frontend": {"type": "mel", "preset": "openl3", "n_mels": 16, "precision": "float64"},
                      "backbone": {"type": "l3_audio", **l3}, "pooling": {"type": "global_pool", "mode": "max"}},
        },
        "fusion": {"type": "concat_mlp", "order": ["vision", "audio"], "hidden": [8], "hidden_activation": "relu",
                   "num_classes": 2, "activation": "softmax", "l2_regularization": 1e-5,
                   "kernel_initializer": "he_normal"},
        "train": settings,
    }


def write_avc_videos(folder: Path, count: int = 6) -> Path:
    """``count`` 2-s videos at 10 fps with 8-kHz tones (``v<i>.mp4``, video ids 0..count-1)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        write_video(folder / f"v{i}.mp4", i, seconds=2.0, fps=10, audio_rate=8000)
    return folder


def write_avc_run(folder: Path, spec):
    """A run folder (``spec.yaml``, ``best.keras``) of ``spec`` (a validated Spec) with random weights and
    non-trivial batch-norm statistics; returns the model."""
    import keras
    import yaml

    from kaudio.models.kaudio_model import KaudioModel

    folder.mkdir(parents=True, exist_ok=True)
    model = KaudioModel(spec)
    rng = np.random.default_rng(0)
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, variance.shape)])
    model.save(folder / "best.keras")
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False))
    return model


def tiny_keras_embedding(folder: Path, name: str = "tiny.keras") -> Path:
    """The audio embedding of a tiny AVC run (8-kHz, 1-s windows → 8-d) exported as ``folder/name``."""
    from kaudio.spec import load_spec
    from kaudio.training.avc_export import export_keras_embedding

    write_avc_run(folder / "run", load_spec(tiny_avc_spec()))
    return export_keras_embedding(folder / "run", folder / name)
