"""Audio-visual correspondence pairs: which audio window and which frame, from which videos.

The protocol is L3-Net's (Arandjelović & Zisserman, "Look, Listen and Learn", ICCV 2017, §3) as
trained in the marl/l3embedding repository (``l3embedding/data/avc/sample.py``; Cramer et al.,
"Look, Listen and Learn More", ICASSP 2019, §3.1): a 1-s audio window and one video frame either
come from the same video (a *match*, label ``[0, 1]``) or from two different videos (a
*mismatch*, label ``[1, 0]``; the one-hot order of the model's 2-way softmax, ``[mismatch,
match]``).

Streams
    Every video ``v`` of a split has one fixed partner ``p != v``, drawn once from the seed.
    A *stream activation* ``(v, p)`` opens both videos and yields ``samples_per_activation``
    samples drawn from them (pescador's streamers, as the reference's ``data_generator``);
    :mod:`kaudio.data.avc.pipeline` keeps ``cycle_length`` activations open at once.

Negatives (``negatives``)
    ``fixed_partner`` (the reference): two independent fair coins choose which of ``v`` and
    ``p`` gives the audio and which gives the frame; the label is *match* iff both chose the
    same video — positives with probability 1/2, batches not balanced, and a negative always
    pairs ``v`` with its partner, never with itself at another time. ``balanced``: positives and
    negatives come from two separate streams that alternate, so every batch of even size holds
    exactly half of each; a negative's coin only chooses which of the two gives the audio.

Timing (``frame``)
    The audio window starts uniformly at a sample ``s`` in ``[0, L - n)`` of the video's span
    with picture and sound (``L`` samples at the output rate, ``n`` per window; ``s = 0`` when
    ``L = n``). ``window`` (default, the intended protocol): the frame is drawn uniformly from
    the frames whose timestamps fall inside the window (for a mismatch, inside a window drawn
    the same way in the frame's own video); the nominal frame times ``video_start + i / fps``
    are the candidates and the frame displayed at the chosen time (plus half a frame) is taken.
    ``last``: every sample uses the video's **last frame**. This reproduces the data the
    published L3/OpenL3 models were trained on: from 2018-01-29 to 2022-04-24 marl/l3embedding
    passed the window start in samples where seconds were expected, the frame index overflowed
    and the last frame was always used, so the paper-era positives do not overlap the audio in
    time (the openl3 README says positives "do not necessarily overlap in time") and the AVC
    accuracies of Cramer et al.'s Table 1 come from such data.

Pictures and sound
    The frame is resized so its short side is ``resize_short_side`` (256) and cropped to
    ``image_size`` (224) squared: a uniform random crop when augmenting, the centre otherwise.
    Audio is mono (channels averaged) at ``sample_rate`` (48 kHz), quantised to int16 as the
    reference stored it.

Augmentation (training only; marl/l3embedding ``sample_one_frame`` / ``sample_one_second``)
    In this order: random crop, horizontal flip with p 0.5, then saturation (HSV S × U[0.5, 1.5))
    and brightness (+U[−32/255, 32/255]) in random order, each applied with p 0.5 and clipped to
    [0, 1] (applied in the graph by :func:`kaudio.data.avc.augment.colour_jitter` from the
    parameters drawn here); audio gain ``1 + U(−0.1, min(0.1, h))`` where ``h`` is the headroom
    before clipping (``1 / max|x| − 1``), so gains lie in [0.9, 1.1] and never clip.

Determinism
    Every random choice of an activation is drawn from
    ``numpy.random.default_rng([seed, stream, kind, v, p, round])``; partners from
    ``default_rng([seed, 1])`` and the order of videos in each round from
    ``default_rng([seed, stream, kind, 2, round])``. An activation's samples therefore depend
    only on the seed, the stream index, the videos and the settings — not on threads or timing.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Iterator, Sequence

import numpy as np

from kaudio.data.avc.videos import VideoInfo
from kaudio.errors import InputError, KaudioWarning

FRAME_MODES = ("window", "last")
NEGATIVE_MODES = ("fixed_partner", "balanced")
#: Stream kinds: both labels from two coins, or only positives / only negatives (``balanced``).
COINS, POSITIVE, NEGATIVE = 0, 1, 2
SATURATION_RANGE = (0.5, 1.5)
BRIGHTNESS_MAX = 32.0 / 255.0
GAIN_MAX_CHANGE = 0.1


@dataclass(frozen=True)
class AVCSettings:
    """How AVC pairs are made; everything here changes the samples (recorded with shards).

    Attributes:
        frame: ``window`` (the frame lies inside the audio window) or ``last`` (the video's last
            frame: the paper-era data, see the module docstring).
        negatives: ``fixed_partner`` (two coins per sample) or ``balanced`` (half per batch).
        image_size: side of the square crop (the vision tower's input, 224).
        resize_short_side: the frame's short side before cropping (256).
        sample_rate: audio rate (Hz) of the audio tower's input (48000).
        audio_samples: samples per audio window (48000: 1 s).
        cycle_length: stream activations open at once (the reference's 20 active streamers).
        samples_per_activation: samples drawn from one activation before the next video is opened.
        shuffle_buffer: samples in the training shuffle buffer (0: none); each holds a uint8 frame
            and an int16 window (~250 KB at the default sizes).
        deterministic: keep the interleaved order fixed (``False`` lets a slow video be overtaken:
            faster, the same samples in another order).
    """

    frame: str = "window"
    negatives: str = "fixed_partner"
    image_size: int = 224
    resize_short_side: int = 256
    sample_rate: int = 48000
    audio_samples: int = 48000
    cycle_length: int = 20
    samples_per_activation: int = 16
    shuffle_buffer: int = 256
    deterministic: bool = True

    def check(self) -> "AVCSettings":
        """Raise an :class:`InputError` listing every bad value; return ``self``."""
        problems = []
        if self.frame not in FRAME_MODES:
            problems.append(f"frame must be one of {', '.join(FRAME_MODES)}, got {self.frame!r}")
        if self.negatives not in NEGATIVE_MODES:
            problems.append(f"negatives must be one of {', '.join(NEGATIVE_MODES)}, got {self.negatives!r}")
        for name in ("image_size", "resize_short_side", "sample_rate", "audio_samples", "cycle_length",
                     "samples_per_activation"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.shuffle_buffer, bool) or not isinstance(self.shuffle_buffer, int) or self.shuffle_buffer < 0:
            problems.append(f"shuffle_buffer must be an integer >= 0, got {self.shuffle_buffer!r}")
        if not problems and self.resize_short_side < self.image_size:
            problems.append(f"resize_short_side ({self.resize_short_side}) is smaller than the crop "
                            f"(image_size {self.image_size})")
        if problems:
            raise InputError("bad AVC settings: " + "; ".join(problems))
        return self

    @property
    def window_seconds(self) -> float:
        return self.audio_samples / self.sample_rate

    def record(self) -> dict:
        """The settings as plain data (JSON)."""
        return asdict(self)

    @classmethod
    def for_spec(cls, spec, vision: str = "vision", audio: str = "audio", **options) -> "AVCSettings":
        """Settings whose sizes are the inputs of a two-tower spec (e.g. ``l3_avc_m256``): the
        ``vision`` tower's square image and the ``audio`` tower's rate and window; the short
        side keeps the reference's 256/224 ratio. ``options`` set the other fields.

        Raises:
            InputError: the spec has no such towers, a non-square image, or more than one audio channel.
        """
        towers = getattr(spec, "towers", None) or {}
        missing = [name for name in (vision, audio) if name not in towers]
        if missing:
            raise InputError(f"the spec {getattr(spec, 'name', spec)!r} has no tower(s) {', '.join(missing)} "
                             f"(towers: {', '.join(towers) or 'none'}); AVC needs a {vision!r} image tower and an "
                             f"{audio!r} audio tower")
        image, sound = towers[vision]["input"], towers[audio]["input"]
        if image.get("height") != image.get("width") or image.get("channels", 3) != 3:
            raise InputError(f"the {vision!r} tower's input must be a square RGB image, got "
                             f"{image.get('height')}x{image.get('width')}x{image.get('channels')}")
        if sound.get("channels", 1) != 1:
            raise InputError(f"the {audio!r} tower's input must be mono (channels: 1), got {sound.get('channels')}")
        size = int(image["height"])
        options.setdefault("resize_short_side", int(round(size * 256 / 224)))
        return cls(image_size=size, sample_rate=int(sound["sample_rate"]), audio_samples=int(sound["samples"]),
                   **options).check()


@dataclass(frozen=True)
class PairPlan:
    """The random choices of one sample (drawn before anything is decoded).

    Attributes:
        audio_video, frame_video: indices (in the split's video list) of the videos giving the
            audio window and the frame.
        audio_start: first sample of the window, at the output rate, counted from the start of
            the audio video's span (:attr:`VideoInfo.start`).
        frame_target: the time (seconds, container timeline) whose displayed frame is used; ``inf``
            for the last frame.
        match: the label (same video).
        crop: ``(u_y, u_x)`` in [0, 1): the crop's position as a fraction of the free room
            (``None``: centre crop).
        flip: mirror the frame horizontally.
        colour: ``[saturation first, use saturation, factor, use brightness, delta]`` (zeros: none).
        gain_draw: U[0, 1) draw of the audio gain (``None``: no gain).
    """

    audio_video: int
    audio_start: int
    frame_video: int
    frame_target: float
    match: bool
    crop: tuple[float, float] | None
    flip: bool
    colour: tuple[float, float, float, float, float]
    gain_draw: float | None


def span_samples(video: VideoInfo, settings: AVCSettings) -> int:
    """Samples at the output rate in the video's span with picture and sound."""
    return int(math.floor(video.duration * settings.sample_rate + 1e-6))


def draw_window_start(rng: np.random.Generator, video: VideoInfo, settings: AVCSettings) -> int:
    """A uniform start sample in ``[0, L - n)`` (``0`` when the span is exactly one window)."""
    room = span_samples(video, settings) - settings.audio_samples
    return int(rng.integers(0, room)) if room > 0 else 0


def draw_frame_in_window(rng: np.random.Generator, video: VideoInfo, window_start: float,
                         settings: AVCSettings) -> float:
    """The time of a frame drawn uniformly among those inside ``[window_start, + 1 window)``.

    The candidates are the nominal frame times ``video_start + i / fps``; the returned time is
    half a frame after the chosen one, so the frame displayed then is that frame even when its
    timestamp is rounded. A window holding no candidate (a frame rate below one per window)
    gives its middle.
    """
    fps, length = video.fps, settings.window_seconds
    first = math.ceil((window_start - video.video_start) * fps - 1e-6)
    stop = math.ceil((window_start + length - video.video_start) * fps - 1e-6)
    last_frame = math.floor((video.end - video.video_start) * fps - 1e-6)
    first, stop = max(first, 0), min(stop, last_frame + 1)
    if stop <= first:
        return window_start + length / 2
    index = int(rng.integers(first, stop))
    return video.video_start + index / fps + 0.5 / fps


def plan_pair(rng: np.random.Generator, videos: Sequence[VideoInfo], pair: tuple[int, int], kind: int,
              settings: AVCSettings, augment: bool) -> PairPlan:
    """Draw one sample of the activation ``pair = (v, p)`` (see the module docstring)."""
    if kind == COINS:
        audio_from, frame_from = int(rng.integers(2)), int(rng.integers(2))
    else:
        audio_from = int(rng.integers(2))
        frame_from = audio_from if kind == POSITIVE else 1 - audio_from
    audio_video, frame_video = pair[audio_from], pair[frame_from]
    audio_start = draw_window_start(rng, videos[audio_video], settings)
    if settings.frame == "last":
        frame_target = math.inf
    else:
        video = videos[frame_video]
        if frame_video == audio_video:
            window = video.start + audio_start / settings.sample_rate
        else:
            window = video.start + draw_window_start(rng, video, settings) / settings.sample_rate
        frame_target = draw_frame_in_window(rng, video, window, settings)
    crop, flip, colour, gain = None, False, (0.0, 0.0, 1.0, 0.0, 0.0), None
    if augment:
        crop = (float(rng.random()), float(rng.random()))
        flip = bool(rng.random() < 0.5)
        saturation_first = float(rng.random() < 0.5)
        use_saturation, factor = float(rng.random() < 0.5), float(rng.uniform(*SATURATION_RANGE))
        use_brightness, delta = float(rng.random() < 0.5), float(rng.uniform(-BRIGHTNESS_MAX, BRIGHTNESS_MAX))
        colour = (saturation_first, use_saturation, factor, use_brightness, delta)
        gain = float(rng.random())
    return PairPlan(audio_video, audio_start, frame_video, frame_target, audio_video == frame_video, crop, flip,
                    colour, gain)


def resized_size(video: VideoInfo, short_side: int) -> tuple[int, int]:
    """``(width, height)`` of the video's pictures scaled so that the short side is ``short_side``."""
    w, h = video.width, video.height
    if w <= h:
        return short_side, max(int(round(h * short_side / w)), short_side)
    return max(int(round(w * short_side / h)), short_side), short_side


def crop_frame(frame: np.ndarray, size: int, crop: tuple[float, float] | None, flip: bool) -> np.ndarray:
    """A ``size`` × ``size`` crop (at ``crop``'s fractions of the free room, or the centre), mirrored if ``flip``."""
    h, w = frame.shape[:2]
    if crop is None:
        y, x = (h - size) // 2, (w - size) // 2
    else:
        y, x = int(crop[0] * (h - size + 1)), int(crop[1] * (w - size + 1))
    out = frame[y: y + size, x: x + size]
    return np.ascontiguousarray(out[:, ::-1] if flip else out)


def apply_gain(audio: np.ndarray, gain_draw: float | None) -> tuple[np.ndarray, float]:
    """The reference's clip-safe gain: ``1 + U(−0.1, min(0.1, headroom))`` from the draw ``gain_draw``."""
    if gain_draw is None:
        return audio, 1.0
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    headroom = (1.0 / peak - 1.0) if peak > 0 else GAIN_MAX_CHANGE
    high = max(min(GAIN_MAX_CHANGE, headroom), -GAIN_MAX_CHANGE)  # a window already at full scale: 0.9
    gain = 1.0 + (-GAIN_MAX_CHANGE + gain_draw * (high + GAIN_MAX_CHANGE))
    return (audio * gain).astype(np.float32), gain


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Float samples in [−1, 1] → int16 (×32768, rounded, clipped), the stored form of a window."""
    return np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)


@dataclass
class Sample:
    """One sample before colour augmentation (what a stream generator yields)."""

    image: np.ndarray  # uint8 (size, size, 3): cropped and flipped
    audio: np.ndarray  # int16 (samples,): gain applied
    match: bool
    colour: np.ndarray  # float32 (5,)
    audio_video: int
    audio_start: int
    frame_video: int
    frame_time: float
    gain: float


def activation_samples(videos: Sequence[VideoInfo], settings: AVCSettings, seed: int, stream: int, kind: int,
                       video: int, partner: int, round_index: int, augment: bool) -> Iterator[Sample]:
    """The samples of one stream activation ``(video, partner)`` (see the module docstring).

    A video that fails to decode ends the activation with a :class:`KaudioWarning` naming it
    (the probe in :func:`~kaudio.data.avc.videos.scan_videos` catches most bad files first).
    """
    from kaudio.data.avc.decode import VideoReader

    rng = np.random.default_rng([seed, stream, kind, video, partner, round_index])
    plans = [plan_pair(rng, videos, (video, partner), kind, settings, augment)
             for _ in range(settings.samples_per_activation)]
    try:
        frames = {}
        for index in sorted({plan.frame_video for plan in plans}):
            targets = sorted({plan.frame_target for plan in plans if plan.frame_video == index})
            width, height = resized_size(videos[index], settings.resize_short_side)
            frames.update(((index, t), got) for t, got in
                          zip(targets, VideoReader(videos[index]).frames_at(targets, width, height)))
        readers = {index: VideoReader(videos[index]) for index in {video, partner}}
        for plan in plans:
            frame_time, picture = frames[(plan.frame_video, plan.frame_target)]
            source = videos[plan.audio_video]
            offset = int(round((source.start - source.audio_start) * settings.sample_rate))  # span vs track start
            audio = readers[plan.audio_video].audio(offset + plan.audio_start, settings.audio_samples,
                                                    settings.sample_rate)
            audio, gain = apply_gain(audio, plan.gain_draw)
            yield Sample(image=crop_frame(picture, settings.image_size, plan.crop, plan.flip), audio=to_int16(audio),
                         match=plan.match, colour=np.asarray(plan.colour, np.float32), audio_video=plan.audio_video,
                         audio_start=plan.audio_start, frame_video=plan.frame_video, frame_time=frame_time, gain=gain)
    except InputError as err:
        warnings.warn(f"{err} — the rest of this activation ({videos[video].key} with {videos[partner].key}) is "
                      "skipped", KaudioWarning, stacklevel=2)


def partners(count: int, seed: int) -> np.ndarray:
    """Each video's fixed partner: another video, uniformly at random (``default_rng([seed, 1])``)."""
    if count < 2:
        raise InputError(f"AVC pairs need at least 2 videos in a split, got {count}")
    rng = np.random.default_rng([seed, 1])
    return (np.arange(count) + 1 + rng.integers(0, count - 1, size=count)) % count


def activations(count: int, seed: int, stream: int, kind: int) -> Iterator[tuple[int, int, int]]:
    """``(video, partner, round)`` forever: every round visits each video once, in a fresh random order."""
    partner = partners(count, seed)
    round_index = 0
    while True:
        for video in np.random.default_rng([seed, stream, kind, 2, round_index]).permutation(count):
            yield int(video), int(partner[video]), round_index
        round_index += 1
