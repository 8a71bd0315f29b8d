"""Synthesise the event sounds and background scenes of the weak-SED example (no downloads).

Eight event classes, each with 12 recordings whose pitch, duration and envelope vary, and eight
10-s background scenes; everything is generated with numpy from a seed, so any machine makes the
same files. ``kaudio mix`` then mixes them into weakly labelled clips::

    python make_sounds.py --out sounds            # sounds/events/<class>/*.wav, sounds/backgrounds/*.wav
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000


def envelope(n: int, rng) -> np.ndarray:
    attack = max(1, int(n * rng.uniform(0.02, 0.15)))
    env = np.ones(n)
    env[:attack] = np.linspace(0, 1, attack)
    return env * np.exp(-np.linspace(0, rng.uniform(0.5, 3.0), n))


def harmonic(freq: float, t: np.ndarray, partials: int = 4) -> np.ndarray:
    return sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, partials + 1))


def band_noise(n: int, low: float, high: float, rng) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    spectrum[(freqs < low) | (freqs > high)] = 0
    return np.fft.irfft(spectrum, n)


def event(name: str, rng) -> np.ndarray:
    """One recording of class ``name``."""
    n = int(SR * rng.uniform(0.3, 1.0))
    t = np.arange(n) / SR
    jitter = rng.uniform(0.9, 1.1)
    if name == "tone_low":
        x = harmonic(250 * jitter, t)
    elif name == "tone_high":
        x = harmonic(1800 * jitter, t, partials=2)
    elif name == "chirp_up":
        x = np.sin(2 * np.pi * (400 * jitter * t + 0.5 * 3000 * t ** 2 / t[-1]))
    elif name == "chirp_down":
        f0, f1 = 3500 * jitter, 500
        x = np.sin(2 * np.pi * (f0 * t + 0.5 * (f1 - f0) * t ** 2 / t[-1]))
    elif name == "noise_low":
        x = band_noise(n, 100, 600 * jitter, rng)
    elif name == "noise_high":
        x = band_noise(n, 4000 * jitter, 7500, rng)
    elif name == "clicks":
        x = np.zeros(n)
        x[:: int(SR / (25 * jitter))] = 1.0
        x = np.convolve(x, np.hanning(32), mode="same")
    elif name == "am_tone":
        x = np.sin(2 * np.pi * 1000 * jitter * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 8 * t))
    else:
        raise ValueError(name)
    x = x * envelope(n, rng)
    return (0.5 * x / (np.abs(x).max() + 1e-9)).astype(np.float32)


CLASSES = ("tone_low", "tone_high", "chirp_up", "chirp_down", "noise_low", "noise_high", "clicks", "am_tone")


def background(kind: int, rng, seconds: float = 10.0) -> np.ndarray:
    n = int(SR * seconds)
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n, 1 / SR)
    slope = (0.5, 1.0, 0.8, 1.2)[kind % 4]  # pink-to-brown noise colours
    spectrum /= np.maximum(freqs, 20.0) ** (slope / 2)
    x = np.fft.irfft(spectrum, n)
    if kind >= 4:  # a hum and a slow "crowd" modulation on top
        t = np.arange(n) / SR
        x = x / np.abs(x).max() + 0.2 * harmonic(50 * (1 + kind % 2), t, partials=6)
        x *= 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t)
    return (0.3 * x / (np.abs(x).max() + 1e-9)).astype(np.float32)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--per-class", type=int, default=12)
    parser.add_argument("--backgrounds", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = Path(args.out)
    for c, name in enumerate(CLASSES):
        folder = out / "events" / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(args.per_class):
            sf.write(folder / f"{name}_{i:02d}.wav", event(name, np.random.default_rng([args.seed, c, i])), SR)
    (out / "backgrounds").mkdir(parents=True, exist_ok=True)
    for i in range(args.backgrounds):
        sf.write(out / "backgrounds" / f"scene_{i:02d}.wav", background(i, np.random.default_rng([args.seed, 99, i])), SR)
    print(f"wrote {len(CLASSES)} classes × {args.per_class} events and {args.backgrounds} backgrounds to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
