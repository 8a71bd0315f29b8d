"""Shared helpers of the training tests: a tiny test-only backbone, a tiny spec and a learnable toy dataset.

Toy task: each 0.25-s clip at 8 kHz holds 1–2 sine tones; the fine tags are the tones'
frequency bands (two "low" and two "high" bands), the coarse tags low/high follow by the max rule.
The tiny backbone averages the log-mel over time and applies a Dense layer, so the task is
learnable in a few epochs yet impossible without learning (chance BCE is ln 2 ≈ 0.69).
"""
import numpy as np

from kaudio.hierarchy import Hierarchy
from tests.helpers import register_tiny_backbone

TEST_BACKBONE = "kaudio_tests_time_mean_dense"
SR, SAMPLES = 8000, 2000
HIERARCHY = {"low": ["tone300", "tone700"], "high": ["tone1800", "tone3000"]}
FREQS = [300.0, 700.0, 1800.0, 3000.0]


register_tiny_backbone(TEST_BACKBONE, "time_mean", 16)


def tiny_spec(head="gmp", epochs=2, spec_augment=False, **train) -> dict:
    """A tiny trainable spec: 8 kHz, 0.25 s, 16 mels (time_freq), the test backbone, a hierarchical head."""
    head_section = {"type": head, "hierarchy": HIERARCHY}
    if head == "resatt":
        head_section["output_attention"] = True
    return {
        "name": "tiny_tagger", "description": "tiny hierarchical tagger for tests",
        "input": {"type": "audio", "sample_rate": SR, "samples": SAMPLES, "channels": 1},
        "frontend": {"type": "mel", "n_fft": 256, "hop_length": 128, "n_mels": 16, "padding": "same",
                     "layout": "time_freq", "f_max": 4000.0},
        "backbone": {"type": TEST_BACKBONE, "units": 16},
        "head": head_section,
        "loss": {"type": "hierarchical_bce", "fine_weight": 0.8},
        "train": {"type": "supervised", "epochs": epochs, "batch_size": 8, "learning_rate": 3e-3,
                  "warmup_epochs": 0, "keep_checkpoints": 1,
                  "spec_augment": {"enabled": spec_augment, "time_mask_param": 3, "freq_mask_param": 3,
                                   "n_time_masks": 1, "n_freq_masks": 1}, **train},
    }


def toy_arrays(n=48, seed=0, masked=True):
    """``(audio (n, SAMPLES, 1), targets dict)``: 1–2 tones per clip, fine tags = their bands.

    With ``masked`` every 5th clip has an unknown label (mask 0) on one fine tag; its coarse
    mask follows the max rule of :meth:`Hierarchy.coarse_from_fine`.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(SAMPLES) / SR
    audio = np.zeros((n, SAMPLES, 1), np.float32)
    fine = np.zeros((n, 4), np.float32)
    for i in range(n):
        tags = rng.choice(4, size=rng.integers(1, 3), replace=False)
        fine[i, tags] = 1
        for tag in tags:
            audio[i, :, 0] += 0.3 * np.sin(2 * np.pi * FREQS[tag] * t + rng.uniform(0, 2 * np.pi))
        audio[i, :, 0] += 0.01 * rng.standard_normal(SAMPLES)
    mask = np.ones_like(fine)
    if masked:
        mask[::5, 1] = 0
    hierarchy = Hierarchy.from_mapping(HIERARCHY)
    coarse, coarse_mask = hierarchy.coarse_from_fine(fine, mask)
    targets = {"fine": fine, "coarse": np.asarray(coarse, np.float32), "fine_mask": mask,
               "coarse_mask": np.asarray(coarse_mask, np.float32)}
    return audio, targets


def toy_dataset(n=48, seed=0, batch_size=8, masked=True):
    import tensorflow as tf

    audio, targets = toy_arrays(n, seed, masked)
    return tf.data.Dataset.from_tensor_slices((audio, targets)).batch(batch_size)


def write_toy_folder(directory, n=24, seed=0, splits=True):
    """A ``labels.csv`` dataset folder of the toy task (16-bit WAVs at 8 kHz); returns the folder.

    With ``splits`` the rows are split 14 train / 5 val / 5 test (for n = 24) in a ``split`` column.
    """
    from pathlib import Path

    import soundfile

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    audio, targets = toy_arrays(n, seed, masked=False)
    names = [n for group in HIERARCHY.values() for n in group]
    lines = ["file,tags" + (",split" if splits else "")]
    for i in range(n):
        soundfile.write(directory / f"clip{i:03d}.wav", audio[i, :, 0], SR, subtype="PCM_16")
        tags = ";".join(names[j] for j in range(4) if targets["fine"][i, j])
        split = "train" if i < n * 0.6 else ("val" if i < n * 0.8 else "test")
        lines.append(f"clip{i:03d}.wav,{tags}" + (f",{split}" if splits else ""))
    (directory / "labels.csv").write_text("\n".join(lines) + "\n")
    return directory


def flat_spec(head_type="tagger", classes=None, **train) -> dict:
    """:func:`tiny_spec` with a flat head (``tagger`` multi-label or ``classifier`` single-label)."""
    spec = tiny_spec(**train)
    spec["head"] = {"type": head_type, "classes": classes} if classes else {"type": head_type, "num_classes": 4}
    del spec["loss"]  # the trainer adds the head's loss
    return spec


def write_flat_folder(directory, n=24, seed=0, single=False):
    """A ``labels.csv`` folder of the tone task with flat tags; ``single``: exactly one tone per clip."""
    from pathlib import Path

    import soundfile

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(SAMPLES) / SR
    names = [n for group in HIERARCHY.values() for n in group]
    lines = ["file,tags,split"]
    for i in range(n):
        tags = [i % 4] if single else sorted(rng.choice(4, size=rng.integers(1, 3), replace=False))
        audio = sum(0.3 * np.sin(2 * np.pi * FREQS[tag] * t + rng.uniform(0, 2 * np.pi)) for tag in tags)
        audio = audio + 0.01 * rng.standard_normal(SAMPLES)
        soundfile.write(directory / f"clip{i:03d}.wav", audio.astype(np.float32), SR, subtype="PCM_16")
        split = "train" if i < n * 0.6 else ("val" if i < n * 0.8 else "test")
        lines.append(f"clip{i:03d}.wav,{';'.join(names[j] for j in tags)},{split}")
    (directory / "labels.csv").write_text("\n".join(lines) + "\n")
    return directory


def write_tiny_spec(path, **kwargs):
    """Write :func:`tiny_spec` as YAML and return the path."""
    import yaml

    path.write_text(yaml.safe_dump(tiny_spec(**kwargs), sort_keys=False))
    return path


def save_teacher(folder, spec: dict, weights: bool = True) -> dict:
    """Write a teacher spec to ``folder/teacher.yaml`` and, with ``weights``, the model built from it with
    seeded random weights (large enough that its probabilities differ from 0.5) to ``folder/teacher.keras``;
    returns the spec's ``teacher:`` section."""
    import yaml

    import kaudio

    (folder / "teacher.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    if weights:
        teacher = kaudio.build(spec)
        rng = np.random.default_rng(5)
        for variable in teacher.trainable_weights:
            variable.assign(rng.standard_normal(variable.shape).astype("float32") * 0.5)
        teacher.save(folder / "teacher.keras")
    return {"spec": str(folder / "teacher.yaml"), "weights": str(folder / "teacher.keras") if weights else None}
