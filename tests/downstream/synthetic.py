"""A tiny synthetic downstream dataset: class-specific tones in noise, several folds."""
from pathlib import Path

import numpy as np
import soundfile as sf

CLASSES = ("low", "mid", "high")
RATE = 16000


def tone_clip(class_index: int, seconds: float, rng, rate: int = RATE) -> np.ndarray:
    """A tone at 400·2^class Hz (±2 %) plus white noise."""
    t = np.arange(int(seconds * rate)) / rate
    frequency = 400 * 2 ** class_index * (1 + 0.02 * rng.standard_normal())
    return (0.3 * np.sin(2 * np.pi * frequency * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def make_tone_dataset(root: Path, folds=(1, 2, 3), clips_per_class: int = 4, seconds: float = 1.5,
                      short_seconds: float | None = None, seed: int = 0) -> Path:
    """``root/labels.csv`` (file,label,fold) and ``root/audio/*.wav``: every class has
    ``clips_per_class`` clips in every fold; with ``short_seconds`` the first clip of each is that long."""
    rng = np.random.default_rng(seed)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    rows = ["file,label,fold"]
    for fold in folds:
        for c, name in enumerate(CLASSES):
            for i in range(clips_per_class):
                length = short_seconds if (short_seconds and i == 0) else seconds
                key = f"audio/{name}_{fold}_{i}.wav"
                sf.write(root / key, tone_clip(c, length, rng), RATE)
                rows.append(f"{key},{name},{fold}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root
