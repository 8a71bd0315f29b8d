"""Synthetic videos whose picture and sound correspond, and a held-out labelled audio set.

Every video belongs to one of ``--families`` families. A family fixes, for the picture, a shape
(disc, square, horizontal bar, vertical bar, ring, cross), a hue and a motion (left–right,
up–down, circle, diagonal, pulsing size, still with blinking), and for the sound a timbre and a
pitch pattern (pure tone, harmonic tone, band-passed noise bursts, rising chirps, two-tone
trill, amplitude-modulated tone). Each video draws its own variation: hue ±0.04, size, speed,
phase and start position, background grey level and picture noise; base pitch ±12 %, rates,
loudness and background noise. An audio window and a frame correspond (AVC label *match*) when
they come from the same video; since a negative pairs two random videos, neither modality alone
tells a match from a mismatch — the model has to learn which sounds go with which pictures.

``--audio-out`` also writes a downstream set (``labels.csv`` with ``file,label,fold``) of
new sound clips of the same families, never part of a video: the held-out labelled set of the
``kaudio downstream`` evaluation.

Usage::

    python examples/avc_synthetic/make_videos.py --out data/avc_videos --audio-out data/avc_sounds
"""
from __future__ import annotations

import argparse
import colorsys
import csv
from pathlib import Path

import numpy as np

SHAPES = ("disc", "square", "hbar", "vbar", "ring", "cross")
MOTIONS = ("leftright", "updown", "circle", "diagonal", "pulse", "blink")
SOUNDS = ("tone", "harmonic", "bursts", "chirps", "trill", "am")
BASE_HZ = (330.0, 520.0, 1800.0, 700.0, 440.0, 260.0)
AUDIO_RATE = 48000
HEIGHT, WIDTH = 96, 128


def family_sound(family: int, seconds: float, rng: np.random.Generator, rate: int = AUDIO_RATE) -> np.ndarray:
    """The family's sound with this clip's random variation (float32 in [-1, 1])."""
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    f0 = BASE_HZ[family % len(BASE_HZ)] * rng.uniform(0.88, 1.12)
    kind = SOUNDS[family % len(SOUNDS)]
    if kind == "tone":
        x = np.sin(2 * np.pi * f0 * t + rng.uniform(0, 2 * np.pi))
    elif kind == "harmonic":
        x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 7))
    elif kind == "bursts":
        noise = rng.standard_normal(n)
        spectrum = np.fft.rfft(noise)
        freqs = np.fft.rfftfreq(n, 1 / rate)
        spectrum *= np.exp(-0.5 * ((freqs - f0) / (0.15 * f0)) ** 2)
        rate_hz = rng.uniform(3, 5)
        x = np.fft.irfft(spectrum, n) * (np.sin(2 * np.pi * rate_hz * t + rng.uniform(0, 6)) > 0.3)
    elif kind == "chirps":
        period = rng.uniform(0.25, 0.4)
        phase = (t % period) / period
        x = np.sin(2 * np.pi * np.cumsum(f0 * (1 + 2 * phase)) / rate) * np.hanning(64).max()
    elif kind == "trill":
        rate_hz = rng.uniform(6, 9)
        f = np.where(np.sin(2 * np.pi * rate_hz * t) > 0, f0, f0 * 1.5)
        x = np.sin(2 * np.pi * np.cumsum(f) / rate)
    else:  # amplitude-modulated tone
        x = np.sin(2 * np.pi * f0 * t) * (0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(2, 4) * t))
    x = x / (np.max(np.abs(x)) + 1e-9) * rng.uniform(0.3, 0.7)
    x = x + rng.uniform(0.005, 0.03) * rng.standard_normal(n)
    return np.clip(x, -1, 1).astype(np.float32)


class Picture:
    """The family's moving shape with this video's random variation."""

    def __init__(self, family: int, rng: np.random.Generator):
        self.shape = SHAPES[family % len(SHAPES)]
        self.motion = MOTIONS[family % len(MOTIONS)]
        hue = (family / len(SHAPES) + rng.uniform(-0.04, 0.04)) % 1.0
        self.colour = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.7, 1.0), rng.uniform(0.8, 1.0))) * 255
        self.background = rng.uniform(20, 90)
        self.size = rng.uniform(12, 20)
        self.speed = rng.uniform(0.3, 0.6)
        self.phase = rng.uniform(0, 2 * np.pi)
        self.noise = rng.uniform(3, 10)
        self.rng = rng
        self.yy, self.xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)

    def centre(self, time: float) -> tuple[float, float, float]:
        a = 2 * np.pi * self.speed * time + self.phase
        cy, cx, size = HEIGHT / 2, WIDTH / 2, self.size
        if self.motion == "leftright":
            cx += 0.35 * WIDTH * np.sin(a)
        elif self.motion == "updown":
            cy += 0.3 * HEIGHT * np.sin(a)
        elif self.motion == "circle":
            cy, cx = cy + 0.25 * HEIGHT * np.sin(a), cx + 0.3 * WIDTH * np.cos(a)
        elif self.motion == "diagonal":
            cy, cx = cy + 0.25 * HEIGHT * np.sin(a), cx + 0.3 * WIDTH * np.sin(a)
        elif self.motion == "pulse":
            size *= 1 + 0.5 * np.sin(2 * a)
        return cy, cx, size

    def frame(self, time: float) -> np.ndarray:
        cy, cx, size = self.centre(time)
        dy, dx = self.yy - cy, self.xx - cx
        if self.shape == "disc":
            mask = dy ** 2 + dx ** 2 < size ** 2
        elif self.shape == "square":
            mask = (np.abs(dy) < size) & (np.abs(dx) < size)
        elif self.shape == "hbar":
            mask = (np.abs(dy) < 0.4 * size) & (np.abs(dx) < 2 * size)
        elif self.shape == "vbar":
            mask = (np.abs(dx) < 0.4 * size) & (np.abs(dy) < 2 * size)
        elif self.shape == "ring":
            r = np.sqrt(dy ** 2 + dx ** 2)
            mask = (r < size) & (r > 0.6 * size)
        else:
            mask = ((np.abs(dy) < 0.3 * size) & (np.abs(dx) < 1.3 * size)) | \
                   ((np.abs(dx) < 0.3 * size) & (np.abs(dy) < 1.3 * size))
        if self.motion == "blink" and np.sin(2 * np.pi * 1.5 * self.speed * time + self.phase) < -0.3:
            mask = np.zeros_like(mask)
        picture = np.full((HEIGHT, WIDTH, 3), self.background, np.float32)
        picture[mask] = self.colour
        picture += self.noise * self.rng.standard_normal(picture.shape).astype(np.float32)
        return np.clip(picture, 0, 255).astype(np.uint8)


def write_video(path: Path, family: int, seconds: float, fps: int, rng: np.random.Generator) -> None:
    import av

    picture = Picture(family, rng)
    sound = family_sound(family, seconds, rng)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps, options={"crf": "23", "preset": "veryfast"})
        video.height, video.width, video.pix_fmt = HEIGHT, WIDTH, "yuv420p"
        audio = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        for i in range(int(round(seconds * fps))):
            frame = av.VideoFrame.from_ndarray(picture.frame(i / fps), format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        step = audio.codec_context.frame_size or 1024
        for start in range(0, len(sound), step):
            chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(sound[None, start:start + step]), format="fltp",
                                               layout="mono")
            chunk.sample_rate, chunk.pts = AUDIO_RATE, start
            for packet in audio.encode(chunk):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)


def write_sounds(folder: Path, families: int, clips: int, folds: int, seconds: float, seed: int,
                 noise: float = 0.0) -> None:
    """``clips`` sound clips per family (new draws, in no video), ``labels.csv`` with folds ``1..folds``;
    ``noise``: the standard deviation of white noise added to every clip (a harder task)."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 2])
    rows = []
    for family in range(families):
        for i in range(clips):
            name = f"family{family}_{i:03d}.wav"
            sound = family_sound(family, seconds, rng)
            if noise > 0:
                sound = np.clip(sound + noise * rng.standard_normal(len(sound)), -1, 1)
            sf.write(folder / name, sound, AUDIO_RATE, subtype="PCM_16")
            rows.append((name, f"family{family}", str(i % folds + 1)))
    with open(folder / "labels.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("file", "label", "fold"), *rows])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="videos folder")
    parser.add_argument("--families", type=int, default=6, choices=range(2, 7))
    parser.add_argument("--videos-per-family", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--audio-out", type=Path, help="also write the held-out labelled sound set here")
    parser.add_argument("--clips-per-family", type=int, default=20)
    parser.add_argument("--sound-noise", type=float, default=0.0,
                        help="std of white noise added to the labelled sounds (which peak at 0.3-0.7)")
    parser.add_argument("--folds", type=int, default=10, help="folds of the labelled set (10: Wilcoxon p can reach 0.002)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([args.seed, 1])
    for family in range(args.families):
        for i in range(args.videos_per_family):
            path = args.out / f"family{family}_{i:03d}.mp4"
            if not path.is_file():
                write_video(path, family, args.seconds, args.fps, rng)
    print(f"{args.families * args.videos_per_family} videos in {args.out}")
    if args.audio_out is not None:
        write_sounds(args.audio_out, args.families, args.clips_per_family, args.folds, 2.0, args.seed,
                     args.sound_noise)
        print(f"{args.families * args.clips_per_family} labelled clips in {args.audio_out} ({args.folds} folds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
