"""Weakly labelled sound event detection sets mixed from event sounds and backgrounds (``kaudio mix``).

The recipe follows the data of Deshmukh et al. ("Multi-task learning for interpretable weakly
labelled sound event detection", 2APAE), which re-mixes the DCASE 2018 Task 2 event sounds into
the DCASE 2019 Task 1 acoustic scenes with the procedure of Kong et al. (IEEE/ACM TASLP 27(4),
2019, "Sound event detection and time–frequency segmentation from weakly labelled data"): 10-s
clips at 32 kHz, three events per clip, each event at most 2 s long, event-to-scene SNRs of 0, 10
and 20 dB, four folds, clips stored in stereo (events, scene).

Inputs
    ``EVENTS_DIR/<class>/...``: one folder per class, any audio soundfile reads (searched
    recursively, any sample rate: every file is resampled to the output rate with
    :mod:`kaudio.audio_io`). ``BACKGROUNDS_DIR``: any audio files (recursive). A file whose header
    cannot be read (not audio, truncated, empty) is skipped with a warning and counted in the
    report; a class folder left without a readable file, an empty folder or fewer classes than
    events per clip is an error.

One clip (index ``i``)
    Everything random about clip ``i`` is drawn from ``numpy.random.default_rng([seed, 0, i])``,
    so clip ``i`` is the same whatever the number of clips made (and a run can be resumed or
    extended). Clip ``i`` belongs to fold ``i % folds + 1``. It takes ``events_per_clip``
    *different* classes, for each one file of that class, one SNR of the list (for the whole clip)
    and one background.

    * Events: the first ``min(file length, max_event_seconds)`` of the file (event sounds such as
      Freesound clips start with the sound; nothing is trimmed). Onsets are drawn uniformly so that
      every event lies inside the clip; by default events do not overlap (the paper: "three
      non-overlapping audio events") — their order is random and the free time is split at
      uniform random points; with ``overlap=True`` each onset is uniform on its own.
    * Background: a random excerpt of the clip's length. A background shorter than the clip is
      **looped** (repeated end to end, with a warning naming it at the start of the run) rather
      than refused: scene recordings of 9.9 s should not stop a run.
    * SNR (decibels), as in Kong et al.'s ``normalize_to_energy``: every event is scaled so that
      ``20·log10(RMS(event over its own samples) / RMS(background over the whole clip)) = snr``.
      The RMS of an event is over the samples it occupies in the clip (its active span
      ``[onset, offset)``), the background's over all the clip's samples. The SNR is per event, so
      with overlapping events the sum is louder than each.
    * Output: stereo (channel 0 the events, channel 1 the background, as Kong et al. store them;
      models such as 2APAE use the mean of both channels) or mono (their sum). Both channels are
      scaled by one gain so the peak is :data:`PEAK` (the SNR is unchanged), then written as WAV
      (16-bit PCM by default).

Folds without leaks
    Files are split between folds, so the test fold never hears an event or background file of
    the training folds: the files of each class (and the backgrounds) are shuffled with
    ``default_rng([seed, 1, k])`` and dealt round-robin to the folds. A class with fewer files than
    folds (or fewer backgrounds than folds) cannot be split: its files are used by every fold,
    with a warning.

Outputs in ``OUT``
    ``audio/<i:05d>.wav``; ``labels.csv`` (``file,tags,split,fold,snr``: the weak labels, tags
    joined by ``;`` — the folder format of ``kaudio train``, :mod:`kaudio.data.labels_csv`);
    ``events.csv`` (``file,onset,offset,class`` in seconds, exact sample times: the strong labels
    of :mod:`kaudio.data.events` and :mod:`kaudio.metrics.sed`); ``mix_settings.json`` (the
    settings and a fingerprint of the input files). ``split`` is ``val`` / ``test`` for the
    chosen folds and ``train`` otherwise; changing the folds only rewrites the csv files.

Safe to interrupt and resume
    Every file is written to a temporary file and renamed (a killed run leaves no half-written
    clip; its temporary files are removed by the next run). A second run with the same settings
    and inputs keeps the clips that exist and makes the others, so the result is the same files as
    one uninterrupted run; other settings or changed input folders are refused with a message
    naming the difference (``overwrite=True`` remakes every clip; its settings are recorded once
    all clips are remade, so an interrupted ``--overwrite`` must be run again with ``--overwrite``).
    The csv files are rewritten at the end of a run and list only clips that exist.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence, TextIO

import numpy as np

from kaudio.atomic import remove_stale_temporaries, write_atomic, write_text_atomic
from kaudio.errors import InputError, KaudioError, KaudioWarning

#: Audio file extensions searched for (those of ``kaudio.embedding.audio_files.AUDIO_EXTENSIONS``,
#: repeated here because that module imports TensorFlow).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".opus")
#: Peak level of every written clip (both channels share one gain).
PEAK = 0.9
SETTINGS_FILE = "mix_settings.json"
LABELS_FILE = "labels.csv"
EVENTS_FILE = "events.csv"
AUDIO_FOLDER = "audio"
LABEL_COLUMNS = ("file", "tags", "split", "fold", "snr")
EVENT_COLUMNS = ("file", "onset", "offset", "class")
SETTINGS_VERSION = 1

#: Option names of the settings (for messages about a settings mismatch).
_OPTION = {"clip_seconds": "--clip-seconds", "sample_rate": "--sample-rate", "events_per_clip": "--events-per-clip",
           "snrs": "--snr", "max_event_seconds": "--max-event-seconds", "overlap": "--allow-overlap",
           "mono": "--mono", "folds": "--folds", "seed": "--seed", "subtype": "--subtype"}


# ----------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class MixSettings:
    """What a mixed set is made with; everything that changes the audio of a clip.

    Attributes:
        clip_seconds: clip length (s).
        sample_rate: output rate (Hz).
        events_per_clip: events per clip, of different classes.
        snrs: the event-to-background SNRs (dB) a clip draws from (see the module doc).
        max_event_seconds: an event is the first ``max_event_seconds`` of its file at most.
        overlap: allow events to overlap (default: they do not).
        mono: write the mono sum instead of stereo (events, background).
        folds: number of folds.
        seed: the seed of every random choice (≥ 0).
        subtype: libsndfile WAV sample format (``PCM_16``, ``PCM_24``, ``FLOAT`` …).
    """

    clip_seconds: float = 10.0
    sample_rate: int = 32000
    events_per_clip: int = 3
    snrs: tuple[float, ...] = (0.0, 10.0, 20.0)
    max_event_seconds: float = 2.0
    overlap: bool = False
    mono: bool = False
    folds: int = 4
    seed: int = 0
    subtype: str = "PCM_16"

    def __post_init__(self):
        object.__setattr__(self, "snrs", tuple(float(s) for s in self.snrs))
        for name in ("sample_rate", "events_per_clip", "folds"):  # 32000.0 → 32000
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():
                object.__setattr__(self, name, int(value))

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def max_event_samples(self) -> int:
        return int(round(self.max_event_seconds * self.sample_rate))

    def check(self) -> "MixSettings":
        """Raise an :class:`InputError` listing every bad value."""
        import soundfile as sf

        problems = []

        def positive(name, value, kind=float):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or not math.isfinite(value) or value <= 0 or (kind is int and int(value) != value):
                problems.append(f"{_OPTION[name]} must be a positive {'integer' if kind is int else 'number'}, "
                                f"got {value!r}")
                return False
            return True

        ok_clip = positive("clip_seconds", self.clip_seconds)
        ok_rate = positive("sample_rate", self.sample_rate, int)
        ok_n = positive("events_per_clip", self.events_per_clip, int)
        ok_event = positive("max_event_seconds", self.max_event_seconds)
        positive("folds", self.folds, int)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            problems.append(f"--seed must be an integer >= 0, got {self.seed!r}")
        if not self.snrs:
            problems.append("--snr needs at least one value (dB)")
        bad = [s for s in self.snrs if not math.isfinite(s)]
        if bad:
            problems.append(f"--snr values must be finite numbers of decibels, got {', '.join(map(str, bad))}")
        if ok_clip and ok_event and self.max_event_seconds > self.clip_seconds:
            problems.append(f"--max-event-seconds {self.max_event_seconds:g} is longer than the clip "
                            f"(--clip-seconds {self.clip_seconds:g})")
        elif ok_clip and ok_rate and ok_n and ok_event and not self.overlap \
                and self.events_per_clip * self.max_event_samples > self.clip_samples:
            problems.append(f"{self.events_per_clip} non-overlapping events of up to {self.max_event_seconds:g} s do "
                            f"not fit into {self.clip_seconds:g} s; lower --events-per-clip or --max-event-seconds, "
                            "or pass --allow-overlap")
        if not isinstance(self.subtype, str) or not sf.check_format("WAV", self.subtype):
            choices = ", ".join(sorted(sf.available_subtypes("WAV")))
            problems.append(f"--subtype {self.subtype!r} is not a WAV sample format ({choices})")
        if problems:
            raise InputError("bad mixing settings: " + "; ".join(problems))
        return self

    def record(self) -> dict:
        """The settings as plain data (what ``mix_settings.json`` stores)."""
        out = asdict(self)
        out["snrs"] = list(self.snrs)
        return out


def format_snr(value: float) -> str:
    """``0``, ``10``, ``-5``, ``2.5``: an SNR as labels.csv writes it."""
    return f"{value:g}"


# ----------------------------------------------------------------------------------------------
# Input files


@dataclass(frozen=True)
class SourceFile:
    """An event or background file: where it is, its name below its root and its length at the output rate."""

    path: Path
    key: str
    samples: int


@dataclass
class Sources:
    """The readable event files per class and the backgrounds, and what was skipped.

    Attributes:
        classes: class names (folder names), sorted.
        events: ``{class: [files]}``, files sorted by name.
        backgrounds: background files, sorted by name.
        skipped: one message per unreadable file (skipped).
        short_backgrounds: backgrounds shorter than the clip (looped).
        fingerprint: ``{"events": sha1, "event_files": n, "backgrounds": sha1, "background_files": n}``
            over every file found (name and size), readable or not.
    """

    classes: tuple[str, ...]
    events: dict[str, list[SourceFile]]
    backgrounds: list[SourceFile]
    skipped: list[str] = field(default_factory=list)
    short_backgrounds: list[str] = field(default_factory=list)
    fingerprint: dict = field(default_factory=dict)


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _digest(files: Sequence[Path], root: Path) -> str:
    sha = hashlib.sha1()
    for path in files:
        sha.update(f"{path.relative_to(root).as_posix()}\t{path.stat().st_size}\n".encode("utf-8"))
    return sha.hexdigest()


def _open(path: Path, root: Path, sample_rate: int, skipped: list[str]) -> SourceFile | None:
    """The file's length at ``sample_rate`` from its header, or ``None`` (skipped with a warning)."""
    from kaudio.audio_io import AudioFileReader, resampled_length

    try:
        reader = AudioFileReader(path)
        reader.close()
    except InputError as err:
        message = f"{err} — skipped"
        skipped.append(message)
        warnings.warn(message, KaudioWarning, stacklevel=3)
        return None
    samples = resampled_length(reader.frames, reader.sample_rate, sample_rate)
    if samples < 1:
        message = f"{path}: {reader.frames} sample(s) at {reader.sample_rate} Hz, none at {sample_rate} Hz — skipped"
        skipped.append(message)
        warnings.warn(message, KaudioWarning, stacklevel=3)
        return None
    return SourceFile(path, path.relative_to(root).as_posix(), samples)


def scan_sources(events_dir: "str | os.PathLike", backgrounds_dir: "str | os.PathLike",
                 settings: MixSettings) -> Sources:
    """Find and check the event and background files (headers only).

    Raises:
        InputError: listing every problem: a missing folder, no class folder, a class folder or
            the background folder without (readable) audio, a class name with the tag separator
            ``;``, fewer classes than ``settings.events_per_clip``.
    """
    from kaudio.hierarchy import TAG_SEPARATOR

    events_root, backgrounds_root = Path(events_dir), Path(backgrounds_dir)
    problems: list[str] = []
    for root, what in ((events_root, "event folder"), (backgrounds_root, "background folder")):
        if not root.is_dir():
            problems.append(f"{root}: {what} not found" + (" (it is a file)" if root.exists() else ""))
    if problems:
        raise InputError("; ".join(problems))
    skipped: list[str] = []
    class_dirs = sorted(p for p in events_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = [p.name for p in events_root.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS]
    if not class_dirs:
        problems.append(f"{events_root}: no class folders; put the event sounds of each class in a folder named "
                        f"after the class ({events_root}/<class>/<file>)"
                        + (f" — found {len(loose)} audio file(s) directly in it" if loose else ""))
    elif loose:
        warnings.warn(f"{events_root}: {len(loose)} audio file(s) directly in the event folder are ignored (not in a "
                      "class folder)", KaudioWarning, stacklevel=2)
    events: dict[str, list[SourceFile]] = {}
    all_event_files: list[Path] = []
    for folder in class_dirs:
        name = folder.name
        if TAG_SEPARATOR in name or name != name.strip():
            problems.append(f"{folder}: the class name {name!r} contains {TAG_SEPARATOR!r} (the tag separator of "
                            "labels.csv) or leading/trailing spaces; rename the folder")
            continue
        files = _audio_files(folder)
        all_event_files += files
        if not files:
            problems.append(f"{folder}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) in this class folder")
            continue
        readable = [s for s in (_open(p, events_root, settings.sample_rate, skipped) for p in files) if s is not None]
        if not readable:
            problems.append(f"{folder}: none of its {len(files)} audio file(s) could be read")
            continue
        events[name] = readable
    background_files = _audio_files(backgrounds_root)
    backgrounds = [s for s in (_open(p, backgrounds_root, settings.sample_rate, skipped) for p in background_files)
                   if s is not None]
    if not background_files:
        problems.append(f"{backgrounds_root}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) in the background folder")
    elif not backgrounds:
        problems.append(f"{backgrounds_root}: none of its {len(background_files)} background file(s) could be read")
    if not problems and len(events) < settings.events_per_clip:
        problems.append(f"{events_root}: {len(events)} class(es) ({', '.join(events)}) for "
                        f"{settings.events_per_clip} events per clip of different classes; add class folders "
                        "or lower --events-per-clip")
    if problems:
        raise InputError(f"cannot mix: {len(problems)} problem{'s' if len(problems) != 1 else ''}\n"
                         + "\n".join(f"  - {p}" for p in problems))
    short = [s.key for s in backgrounds if s.samples < settings.clip_samples]
    if short:
        shown = ", ".join(short[:10]) + (f", … and {len(short) - 10} more" if len(short) > 10 else "")
        warnings.warn(f"{len(short)} background(s) shorter than the clip ({settings.clip_seconds:g} s) are looped "
                      f"(repeated end to end): {shown}", KaudioWarning, stacklevel=2)
    fingerprint = {"events": _digest(all_event_files, events_root), "event_files": len(all_event_files),
                   "backgrounds": _digest(background_files, backgrounds_root),
                   "background_files": len(background_files)}
    return Sources(tuple(sorted(events)), events, backgrounds, skipped, short, fingerprint)


def _deal_to_folds(count: int, folds: int, rng: np.random.Generator) -> list[list[int]] | None:
    """Indices ``0..count-1`` shuffled and dealt round-robin to ``folds`` folds; ``None`` if ``count < folds``."""
    if count < folds:
        return None
    order = rng.permutation(count)
    return [sorted(int(i) for i in order[f::folds]) for f in range(folds)]


# ----------------------------------------------------------------------------------------------
# Planning and rendering one clip


@dataclass(frozen=True)
class PlannedEvent:
    """One event of a clip: its class, file, and where it sits (samples at the output rate)."""

    label: str
    source: SourceFile
    onset: int
    length: int

    @property
    def offset(self) -> int:
        return self.onset + self.length


@dataclass(frozen=True)
class ClipPlan:
    """Everything that makes clip ``index`` (events in time order)."""

    index: int
    name: str
    fold: int
    snr: float
    background: SourceFile
    background_start: int
    events: tuple[PlannedEvent, ...]

    @property
    def tags(self) -> list[str]:
        return sorted({e.label for e in self.events})


def clip_name(index: int) -> str:
    """``audio/00042.wav``: a clip's file, relative to the output folder."""
    return f"{AUDIO_FOLDER}/{index:05d}.wav"


class Mixer:
    """Plans and renders the clips of one set (see the module doc for the recipe).

    Args:
        sources: the scanned inputs (:func:`scan_sources`).
        settings: checked :class:`MixSettings`.
    """

    def __init__(self, sources: Sources, settings: MixSettings):
        self.sources, self.settings = sources, settings
        folds = settings.folds
        self._event_folds: dict[str, list[list[int]] | None] = {}
        shared = []
        for k, label in enumerate(sources.classes):
            dealt = _deal_to_folds(len(sources.events[label]), folds, np.random.default_rng([settings.seed, 1, k]))
            self._event_folds[label] = dealt
            if dealt is None and folds > 1:
                shared.append(f"{label} ({len(sources.events[label])})")
        self._background_folds = _deal_to_folds(len(sources.backgrounds), folds,
                                                 np.random.default_rng([settings.seed, 1, len(sources.classes)]))
        if shared:
            warnings.warn(f"{len(shared)} class(es) have fewer readable files than folds ({folds}), so their files are "
                          f"used in every fold (the same recordings in training and test): {', '.join(shared)}",
                          KaudioWarning, stacklevel=2)
        if self._background_folds is None and folds > 1:
            warnings.warn(f"{len(sources.backgrounds)} readable background(s) for {folds} folds: every fold uses all "
                          "backgrounds (the same recordings in training and test)", KaudioWarning, stacklevel=2)
        self._cache: dict[Path, np.ndarray] = {}

    def _files_in_fold(self, label: str, fold: int) -> list[SourceFile]:
        files, dealt = self.sources.events[label], self._event_folds[label]
        return files if dealt is None else [files[i] for i in dealt[fold - 1]]

    def plan(self, index: int) -> ClipPlan:
        """The plan of clip ``index`` (drawn from ``default_rng([seed, 0, index])`` only)."""
        s = self.settings
        rng = np.random.default_rng([s.seed, 0, int(index)])
        fold = index % s.folds + 1
        labels = [c for c in self.sources.classes if self._files_in_fold(c, fold)]
        if len(labels) < s.events_per_clip:  # pragma: no cover - every class has files in every fold
            raise InputError(f"fold {fold} has files of {len(labels)} class(es), fewer than --events-per-clip")
        chosen = [labels[int(k)] for k in rng.choice(len(labels), size=s.events_per_clip, replace=False)]
        sources = []
        for label in chosen:
            files = self._files_in_fold(label, fold)
            sources.append(files[int(rng.integers(len(files)))])
        snr = s.snrs[int(rng.integers(len(s.snrs)))]
        backgrounds = self.sources.backgrounds if self._background_folds is None else \
            [self.sources.backgrounds[i] for i in self._background_folds[fold - 1]]
        background = backgrounds[int(rng.integers(len(backgrounds)))]
        start = int(rng.integers(0, max(background.samples - s.clip_samples, 0) + 1))
        lengths = [min(src.samples, s.max_event_samples, s.clip_samples) for src in sources]
        if s.overlap:
            onsets = [int(rng.integers(0, s.clip_samples - n + 1)) for n in lengths]
            order = list(range(len(chosen)))
        else:
            order = [int(k) for k in rng.permutation(len(chosen))]
            slack = s.clip_samples - sum(lengths)
            cuts = np.sort(rng.integers(0, slack + 1, size=len(chosen)))
            onsets = [0] * len(chosen)
            used = 0
            for cut, k in zip(cuts, order):
                onsets[k] = int(cut) + used
                used += lengths[k]
        events = sorted((PlannedEvent(*item) for item in zip(chosen, sources, onsets, lengths)),
                        key=lambda e: (e.onset, e.label))
        return ClipPlan(index, clip_name(index), fold, snr, background, start, tuple(events))

    def _load(self, source: SourceFile) -> np.ndarray:
        from kaudio.audio_io import load_resampled

        audio = self._cache.get(source.path)
        if audio is None:
            audio = load_resampled(source.path, self.settings.sample_rate).astype(np.float64)
            if len(self._cache) >= 64:
                self._cache.pop(next(iter(self._cache)))
            self._cache[source.path] = audio
        return audio

    def render(self, plan: ClipPlan) -> np.ndarray:
        """The clip's samples, ``(samples, 2)`` (events, background) or ``(samples, 1)``, float32.

        Raises:
            InputError: a file that fails to decode, or a silent event or background (its SNR
                cannot be set), naming the file.
        """
        s = self.settings
        n = s.clip_samples
        background = self._load(plan.background)
        if len(background) < n:
            background = np.tile(background, -(-n // len(background)))
        background = background[plan.background_start: plan.background_start + n]
        background_rms = _rms(background)
        if background_rms == 0:
            raise InputError(f"{plan.background.path}: the background is silent in the excerpt of clip {plan.name}, so "
                             "no SNR can be set; remove the file or give other backgrounds")
        events = np.zeros(n)
        for event in plan.events:
            audio = self._load(event.source)[: event.length]
            if len(audio) < event.length:  # a header promised more samples than the decoder gave
                audio = np.pad(audio, (0, event.length - len(audio)))
            rms = _rms(audio)
            if rms == 0:
                raise InputError(f"{event.source.path}: the first {event.length / s.sample_rate:g} s of this event "
                                 f"file are silent, so no SNR can be set (clip {plan.name}); remove or fix the file")
            events[event.onset: event.offset] += audio * (background_rms * 10.0 ** (plan.snr / 20.0) / rms)
        mix = (events + background)[:, None] if s.mono else np.stack([events, background], axis=1)
        peak = np.max(np.abs(mix))
        return (mix * (PEAK / peak)).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


# ----------------------------------------------------------------------------------------------
# Atomic writes (kaudio.atomic: temporary file, fsync, rename; stale temporaries removed on the next run)


def write_wav_atomic(path: "str | os.PathLike", audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> Path:
    """Write ``audio`` ``(samples, channels)`` as a WAV file with :func:`write_atomic`."""
    import soundfile as sf

    return write_atomic(path, lambda handle: sf.write(handle, audio, sample_rate, subtype=subtype, format="WAV"))


def _csv_text(columns: Sequence[str], rows: Sequence[Sequence]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------
# A whole set


@dataclass
class MixReport:
    """What :func:`mix_folder` did.

    Attributes:
        made, kept: clips written now / already there with the same settings.
        failed: one message per clip that could not be made (not in the csv files).
        skipped_files: one message per unreadable input file.
        removed_temporaries: temporary files of an interrupted run removed.
        labels, events: the csv files written.
        extra_clips: clip files in ``audio/`` beyond the requested number (left alone, not listed).
    """

    made: int = 0
    kept: int = 0
    failed: list[str] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    removed_temporaries: int = 0
    labels: Path | None = None
    events: Path | None = None
    extra_clips: int = 0

    def summary(self, total: int) -> str:
        text = (f"made {self.made} clip(s), kept {self.kept} existing of {total}; failed {len(self.failed)}; "
                f"skipped {len(self.skipped_files)} unreadable input file(s)")
        if self.extra_clips:
            text += f"; {self.extra_clips} clip file(s) beyond the first {total} left in {AUDIO_FOLDER}/ (not listed)"
        return text


class MixInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`mix_folder`: ``done`` of ``total`` clips written now (each one complete)."""

    def __init__(self, done: int, total: int):
        super().__init__(f"interrupted after {done} of {total} clip(s)")
        self.done, self.total = done, total


def _settings_record(settings: MixSettings, sources: Sources) -> dict:
    return {"version": SETTINGS_VERSION, "settings": settings.record(), "inputs": sources.fingerprint}


def _differences(old: dict, new: dict) -> list[str]:
    out = []
    old_settings, new_settings = old.get("settings", {}), new["settings"]
    for key, value in new_settings.items():
        if old_settings.get(key) != value:
            out.append(f"{_OPTION.get(key, key)}: {_show(old_settings.get(key))} there, {_show(value)} now")
    old_inputs, new_inputs = old.get("inputs", {}), new["inputs"]
    for what in ("events", "backgrounds"):
        if old_inputs.get(what) != new_inputs[what]:
            count = "event_files" if what == "events" else "background_files"
            out.append(f"the {'event' if what == 'events' else 'background'} files changed "
                       f"({old_inputs.get(count, '?')} file(s) then, {new_inputs[count]} now, or other names or sizes)")
    if old.get("version") != new["version"]:
        out.append(f"settings format {old.get('version')} there, {new['version']} now")
    return out


def _show(value) -> str:
    if isinstance(value, list):
        return " ".join(format_snr(v) if isinstance(v, (int, float)) else str(v) for v in value)
    if isinstance(value, float):
        return format_snr(value)
    return str(value)


def _check_existing(out: Path, record: dict, overwrite: bool) -> None:
    """Refuse an output folder made with other settings or inputs (unless ``overwrite``)."""
    path = out / SETTINGS_FILE
    if overwrite:
        return
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise KaudioError(f"{path}: cannot be read ({err}); pass --overwrite to remake the set") from err
        differences = _differences(old if isinstance(old, dict) else {}, record)
        if differences:
            raise KaudioError(f"{out} was mixed with other settings or inputs: " + "; ".join(differences)
                              + ". Its clips are kept; pass --overwrite to remake every clip, or choose another --out")
        return
    clips = list((out / AUDIO_FOLDER).glob("*.wav")) if (out / AUDIO_FOLDER).is_dir() else []
    if clips:
        raise KaudioError(f"{out / AUDIO_FOLDER} holds {len(clips)} clip(s) but {out} has no {SETTINGS_FILE}, so "
                          "they were not made by kaudio mix with known settings; pass --overwrite to replace them, "
                          "or choose another --out")


def _clip_ok(path: Path, settings: MixSettings) -> bool:
    """An existing clip with the expected length, channels and rate (a header check)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError, OSError):
        return False
    return (info.frames == settings.clip_samples and info.channels == (1 if settings.mono else 2)
            and info.samplerate == settings.sample_rate)


def split_of(fold: int, val_fold: int | None, test_fold: int | None) -> str:
    """``val`` / ``test`` for the chosen folds, else ``train``."""
    return "val" if fold == val_fold else "test" if fold == test_fold else "train"


def check_folds(folds: int, val_fold: int | None, test_fold: int | None) -> None:
    problems = [f"--{name}-fold {value} is not a fold (1 to {folds})"
                for name, value in (("val", val_fold), ("test", test_fold))
                if value is not None and not 1 <= value <= folds]
    if val_fold is not None and val_fold == test_fold:
        problems.append(f"--val-fold and --test-fold are both {val_fold}; choose two different folds")
    if problems:
        raise InputError("; ".join(problems))


def mix_folder(events_dir: "str | os.PathLike", backgrounds_dir: "str | os.PathLike", out_dir: "str | os.PathLike",
               clips: int, settings: MixSettings | None = None, *, val_fold: int | None = None,
               test_fold: int | None = None, overwrite: bool = False, progress: bool = True,
               stream: TextIO | None = None) -> MixReport:
    """Make (or complete) a weakly labelled SED set in ``out_dir``; see the module doc.

    Args:
        events_dir: ``<class>/<files>`` folders of event sounds.
        backgrounds_dir: background recordings.
        out_dir: the output folder (created).
        clips: how many clips (``0 .. clips-1``).
        settings: :class:`MixSettings` (defaults: the 2APAE / Kong et al. recipe).
        val_fold, test_fold: folds whose clips get ``split`` ``val`` / ``test`` (others ``train``).
        overwrite: remake every clip even if the folder was made with other settings.
        progress: show a :class:`~kaudio.progress.Progress` indicator on ``stream`` (stderr).

    Returns:
        a :class:`MixReport`.

    Raises:
        InputError: bad settings or inputs (every problem listed).
        KaudioError: the folder was made with other settings (the differences named).
        OutputError: the folder cannot be written.
        MixInterrupted: Ctrl-C (the clips written so far are complete).
    """
    from kaudio.progress import Progress
    from kaudio.writable import ensure_writable_folder

    settings = (settings or MixSettings()).check()
    if isinstance(clips, bool) or not isinstance(clips, (int, np.integer)) or clips < 1:
        raise InputError(f"the number of clips must be a positive integer, got {clips!r}")
    check_folds(settings.folds, val_fold, test_fold)
    out = ensure_writable_folder(out_dir)
    sources = scan_sources(events_dir, backgrounds_dir, settings)
    mixer = Mixer(sources, settings)
    record = _settings_record(settings, sources)
    audio_dir = ensure_writable_folder(out / AUDIO_FOLDER, "audio folder")
    report = MixReport(skipped_files=list(sources.skipped))
    report.removed_temporaries = remove_stale_temporaries(out) + remove_stale_temporaries(audio_dir)
    _check_existing(out, record, overwrite)
    settings_text = json.dumps(record, indent=2) + "\n"
    if overwrite:  # recorded again once every clip is remade: an interrupted --overwrite run leaves no valid record
        (out / SETTINGS_FILE).unlink(missing_ok=True)
    else:
        write_text_atomic(out / SETTINGS_FILE, settings_text)

    plans = [mixer.plan(i) for i in range(int(clips))]
    todo = []
    for plan in plans:
        if not overwrite and _clip_ok(out / plan.name, settings):
            report.kept += 1
        else:
            todo.append(plan)
    if todo:
        meter = Progress(len(todo), "mixing", "clip", stream=stream) if progress else None
        try:
            for plan in todo:
                try:
                    audio = mixer.render(plan)
                except InputError as err:
                    report.failed.append(f"{plan.name}: {err}")
                    (out / plan.name).unlink(missing_ok=True)  # made with other settings (--overwrite): not kept
                else:
                    write_wav_atomic(out / plan.name, audio, settings.sample_rate, settings.subtype)
                    report.made += 1
                if meter:
                    meter.add(1)
        except KeyboardInterrupt as err:
            raise MixInterrupted(report.made, len(todo)) from err
        finally:
            if meter:
                meter.close()
    if overwrite:
        write_text_atomic(out / SETTINGS_FILE, settings_text)
    done = [plan for plan in plans if (out / plan.name).is_file()]
    report.labels, report.events = write_csvs(out, done, settings.sample_rate, val_fold, test_fold)
    names = {plan.name for plan in plans}
    report.extra_clips = sum(1 for p in audio_dir.glob("*.wav") if f"{AUDIO_FOLDER}/{p.name}" not in names)
    return report


def write_csvs(out: Path, plans: Sequence[ClipPlan], sample_rate: int, val_fold: int | None = None,
               test_fold: int | None = None) -> tuple[Path, Path]:
    """Write ``labels.csv`` and ``events.csv`` of ``plans`` (atomically); times are exact sample
    times in seconds (``repr`` of ``samples / sample_rate``)."""
    labels, events = [], []
    for plan in plans:
        labels.append([plan.name, ";".join(plan.tags), split_of(plan.fold, val_fold, test_fold), plan.fold,
                       format_snr(plan.snr)])
        events += [[plan.name, repr(e.onset / sample_rate), repr(e.offset / sample_rate), e.label] for e in plan.events]
    return (write_text_atomic(out / LABELS_FILE, _csv_text(LABEL_COLUMNS, labels)),
            write_text_atomic(out / EVENTS_FILE, _csv_text(EVENT_COLUMNS, events)))
