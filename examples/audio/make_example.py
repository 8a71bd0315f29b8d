"""Regenerate examples/audio/example.flac: 6 s of synthetic music (48 kHz mono), made here so the
repository ships its own example (no third-party recordings).

    python examples/audio/make_example.py
"""
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 48000


def note(freq, seconds, harmonics=6):
    t = np.arange(int(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * freq * k * t) / k ** 1.5 for k in range(1, harmonics + 1))
    return tone * np.exp(-3.0 * t) * np.minimum(t * 200, 1.0)


def hit(seconds=0.25, seed=0):
    t = np.arange(int(seconds * SR)) / SR
    return np.random.default_rng(seed).standard_normal(len(t)) * np.exp(-25.0 * t)


def main():
    out = np.zeros(6 * SR)
    melody = [262, 294, 330, 349, 392, 440, 494, 523, 494, 440, 392, 330]
    for i, freq in enumerate(melody):
        start = int(i * 0.5 * SR)
        piece = note(freq, 0.9)[: len(out) - start]
        out[start: start + len(piece)] += 0.25 * piece
    for i in range(12):
        start = int(i * 0.5 * SR)
        piece = hit(seed=i)[: len(out) - start]
        out[start: start + len(piece)] += 0.15 * piece
    out /= np.abs(out).max() * 1.1
    path = Path(__file__).with_name("example.flac")
    sf.write(path, out.astype(np.float32), SR, subtype="PCM_16")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
