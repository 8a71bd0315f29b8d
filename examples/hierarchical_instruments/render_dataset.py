"""Render a small multi-instrument tagging dataset with FluidSynth (a kaudio example).

    python render_dataset.py --out DATA_DIR --clips 1200 --seed 0 --sample-rate 16000 --duration 4

Every clip is 1-4 *distinct* General MIDI instruments (the fine tags of ``hierarchy.yaml``, whose
coarse tags are the GM families) playing a short piece in one random key: chords, arpeggios, a
bass line or a melody depending on the instrument, each in a plausible register, with a random
tempo, velocities and reverb send. The piece is written as a standard MIDI file (with ``mido``)
and rendered by the ``fluidsynth`` command with a General MIDI soundfont.

Output, in the kaudio tagging-folder layout (``kaudio train SPEC --data DATA_DIR``)::

    DATA_DIR/audio/clip_00000.wav ...   mono 16-bit WAV, exactly --duration seconds
    DATA_DIR/labels.csv                 file, tags (fine tags joined by ';'), split
    DATA_DIR/hierarchy.yaml             copy of the hierarchy used
    DATA_DIR/dataset.json               the command's settings and per-tag counts

The split column holds ``train``/``test`` from a seeded shuffle (``--test-fraction``, 15%); by
default no row is ``val``, so kaudio carves its validation set (15%) out of the training rows by
iterative stratification. ``--val-fraction F`` writes ``val`` rows (a seeded shuffle) instead.

Requirements: ``fluidsynth`` and a GM soundfont (Debian/Ubuntu: ``apt-get install fluidsynth
fluid-soundfont-gm``; macOS: ``brew install fluid-synth`` plus any GM ``.sf2`` given with
``--soundfont``) and ``pip install mido``. The clip *plans* (which instruments play which notes,
hence the labels) depend only on ``--seed``, the clip index and ``--duration``.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_HIERARCHY = HERE / "hierarchy.yaml"
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)
INSTALL_HINT = ("install FluidSynth and a General MIDI soundfont: `apt-get install fluidsynth fluid-soundfont-gm` "
                "(Debian/Ubuntu) or `brew install fluid-synth` (macOS, then pass any GM .sf2 with --soundfont)")


class RenderError(Exception):
    """A problem the user can fix (missing tool, bad argument); main() prints it without a trace."""


# ----------------------------------------------------------------------------------------------
# Instruments


@dataclass(frozen=True)
class Instrument:
    """How one fine tag is played.

    Attributes:
        program: General MIDI program number (0-based).
        low, high: MIDI note range used (a comfortable part of the real instrument's range).
        role: ``chords`` (block chords), ``arpeggio`` (chord tones one at a time), ``pad`` (held
            chords), ``bass`` (roots and fifths) or ``melody`` (a single line on the scale).
        volume: MIDI channel volume (CC 7) that makes the instruments about equally loud at the
            same velocity with FluidR3_GM (measured: solo RMS, 40·log10 volume law), so that
            no instrument of a mix drowns the others by its preset's level alone.
    """

    program: int
    low: int
    high: int
    role: str
    volume: int


INSTRUMENTS: dict[str, Instrument] = {
    "acoustic_grand_piano": Instrument(0, 43, 84, "chords", 84),
    "electric_piano": Instrument(4, 48, 79, "chords", 58),
    "vibraphone": Instrument(11, 53, 89, "arpeggio", 98),
    "marimba": Instrument(12, 48, 84, "arpeggio", 70),
    "church_organ": Instrument(19, 43, 79, "pad", 54),
    "accordion": Instrument(21, 53, 81, "chords", 77),
    "nylon_guitar": Instrument(24, 40, 76, "arpeggio", 68),
    "distortion_guitar": Instrument(30, 40, 71, "chords", 55),
    "acoustic_bass": Instrument(32, 28, 52, "bass", 75),
    "electric_bass": Instrument(33, 28, 55, "bass", 83),
    "violin": Instrument(40, 55, 93, "melody", 94),
    "cello": Instrument(42, 36, 67, "melody", 100),
    "trumpet": Instrument(56, 55, 82, "melody", 94),
    "trombone": Instrument(57, 40, 70, "melody", 71),
    "alto_sax": Instrument(65, 49, 80, "melody", 74),
    "clarinet": Instrument(71, 50, 86, "melody", 75),
}

#: Note lengths (in beats) a role picks from, and the chance of a rest instead of a note.
_STEPS = {"chords": (0.5, 1.0, 2.0), "arpeggio": (0.25, 0.5), "pad": (2.0, 4.0), "bass": (0.5, 1.0, 2.0),
          "melody": (0.25, 0.5, 1.0)}
_REST = {"chords": 0.05, "arpeggio": 0.05, "pad": 0.0, "bass": 0.05, "melody": 0.15}
_SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
_DEGREES = (0, 3, 4, 5, 1)  # I, IV, V, vi, ii: the chords a progression draws from
_MIN_TEMPO, _MAX_TEMPO = 70.0, 160.0
_TAIL_S = 0.15  # every note ends this long before the clip does


# ----------------------------------------------------------------------------------------------
# Clip plans (pure Python: the labels come from here)


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    duration: float  # seconds
    pitch: int  # MIDI note number
    velocity: int  # 1..127


@dataclass(frozen=True)
class Part:
    instrument: str
    program: int
    channel: int
    volume: int  # CC 7, 0..127
    reverb: int  # CC 91 send, 0..127
    notes: tuple[Note, ...]


@dataclass(frozen=True)
class ClipPlan:
    index: int
    tempo: float  # beats per minute
    key: int  # pitch class of the tonic
    mode: str
    level_dbfs: float  # RMS level of the rendered clip
    parts: tuple[Part, ...]

    @property
    def file(self) -> str:
        return f"audio/clip_{self.index:05d}.wav"

    @property
    def instruments(self) -> tuple[str, ...]:
        return tuple(part.instrument for part in self.parts)

    def tags(self, order: Sequence[str]) -> list[str]:
        """The clip's fine tags, in the hierarchy's order."""
        playing = set(self.instruments)
        return [name for name in order if name in playing]


def _chord(key: int, mode: str, degree: int) -> tuple[int, int, int]:
    """Pitch classes (root, third, fifth) of the diatonic triad on ``degree``."""
    scale = _SCALES[mode]
    return tuple((key + scale[(degree + k) % 7]) % 12 for k in (0, 2, 4))


def _notes_with(pitch_classes, low: int, high: int) -> list[int]:
    return [p for p in range(low, high + 1) if p % 12 in pitch_classes]


def _part_notes(rng: np.random.Generator, inst: Instrument, key: int, mode: str, chords: list, chord_beats: float,
                beat_s: float, duration: float) -> list[Note]:
    """One instrument's notes: a rhythm on a grid of ``step`` beats, pitches from its role."""
    role = inst.role
    step = float(rng.choice(_STEPS[role]))
    # A window (up to 1.5 octaves) of the register, so a part stays in one area like a player would.
    span = min(18, inst.high - inst.low)
    low = int(rng.integers(inst.low, inst.high - span + 1))
    high = low + span
    base_velocity = int(rng.integers(60, 111))
    legato = float(rng.uniform(0.6, 1.0)) if role in ("chords", "arpeggio", "bass") else float(rng.uniform(0.85, 1.0))
    offset_beats = float(rng.choice((0.0, 0.5, 1.0)))
    t_beats = offset_beats if offset_beats * beat_s <= min(0.6, 0.15 * duration) else 0.0
    end = duration - _TAIL_S
    scale_pcs = {(key + s) % 12 for s in _SCALES[mode]}
    melody_pitches = _notes_with(scale_pcs, low, high)
    current = int(rng.integers(len(melody_pitches)))  # melody position (index into melody_pitches)
    arp_position = 0
    notes: list[Note] = []
    while t_beats * beat_s < end - 0.05:
        start = t_beats * beat_s
        length = step
        if role == "melody" and rng.random() < 0.25:
            length = 2 * step  # a held note now and then
        if notes and rng.random() < _REST[role]:
            t_beats += length
            continue
        chord = chords[min(int(t_beats // chord_beats), len(chords) - 1)]
        if role == "chords":
            lo = int(rng.integers(low, max(low, high - 11) + 1))
            pitches = _notes_with(chord, lo, lo + 11)
        elif role == "pad":
            pitches = _notes_with(chord, low, min(high, low + 14))
        elif role == "arpeggio":
            tones = _notes_with(chord, low, high)
            pitches = [tones[arp_position % len(tones)]]
            arp_position += 1
        elif role == "bass":
            pc = chord[0] if rng.random() < 0.75 else chord[2]
            pitches = [_notes_with({pc}, low, high)[0]]
        else:  # melody: a random walk on the scale, leaning on chord tones on the beat
            current = int(np.clip(current + rng.choice((-2, -1, -1, 0, 1, 1, 2)), 0, len(melody_pitches) - 1))
            pitch = melody_pitches[current]
            if t_beats == int(t_beats) and pitch % 12 not in chord:
                near = [i for i in (current - 1, current + 1) if 0 <= i < len(melody_pitches)
                        and melody_pitches[i] % 12 in chord]
                if near:
                    current = near[0]
                    pitch = melody_pitches[current]
            pitches = [pitch]
        note_s = min(length * beat_s * legato, end - start)
        for pitch in pitches:
            velocity = int(np.clip(base_velocity + rng.normal(0.0, 6.0), 30, 127))
            notes.append(Note(round(start, 6), round(note_s, 6), int(pitch), velocity))
        t_beats += length
    return notes


def plan_clip(index: int, seed: int, instruments: Sequence[str], duration: float, max_instruments: int = 4
              ) -> ClipPlan:
    """The plan of clip ``index``: it depends only on (seed, index, instruments, duration).

    Args:
        index: clip number.
        seed: dataset seed.
        instruments: the fine tags to draw from (names of :data:`INSTRUMENTS`).
        duration: clip length in seconds.
        max_instruments: most instruments in one clip (1 to this many, distinct, uniformly).
    """
    rng = np.random.default_rng([int(seed), int(index)])
    count = int(rng.integers(1, min(max_instruments, len(instruments)) + 1))
    chosen = [instruments[i] for i in sorted(rng.choice(len(instruments), size=count, replace=False))]
    tempo = float(round(rng.uniform(_MIN_TEMPO, _MAX_TEMPO), 1))
    key = int(rng.integers(12))
    mode = str(rng.choice(("major", "minor")))
    chord_beats = float(rng.choice((2.0, 4.0)))
    beat_s = 60.0 / tempo
    n_chords = int(np.ceil(duration / (chord_beats * beat_s))) + 1
    degrees = [0] + [int(rng.choice(_DEGREES)) for _ in range(n_chords - 1)]
    chords = [_chord(key, mode, d) for d in degrees]
    parts = []
    for i, name in enumerate(chosen):
        channel = i if i < 9 else i + 1  # never channel 9 (10 counted from 1): GM's drum channel
        inst = INSTRUMENTS[name]
        reverb = int(rng.integers(0, 71))
        notes = _part_notes(rng, inst, key, mode, chords, chord_beats, beat_s, duration)
        parts.append(Part(name, inst.program, channel, inst.volume, reverb, tuple(notes)))
    level = float(round(rng.uniform(-26.0, -16.0), 2))
    return ClipPlan(int(index), tempo, key, mode, level, tuple(parts))


def plan_dataset(clips: int, seed: int, instruments: Sequence[str], duration: float, max_instruments: int = 4
                 ) -> list[ClipPlan]:
    """Plans of clips ``0 .. clips-1`` (clip ``i``'s plan does not depend on ``clips``)."""
    return [plan_clip(i, seed, instruments, duration, max_instruments) for i in range(clips)]


def assign_splits(clips: int, seed: int, val_fraction: float = 0.0, test_fraction: float = 0.15) -> list[str]:
    """``train``/``val``/``test`` per clip from a seeded shuffle (rounded counts; val may be empty)."""
    if not (0.0 <= val_fraction < 1.0 and 0.0 <= test_fraction < 1.0 and val_fraction + test_fraction < 1.0):
        raise RenderError(f"--val-fraction ({val_fraction}) and --test-fraction ({test_fraction}) must be in [0, 1) "
                          "and sum to less than 1")
    order = np.random.default_rng([int(seed), 2**31 - 1]).permutation(clips)
    n_test = int(round(clips * test_fraction))
    n_val = int(round(clips * val_fraction))
    splits = ["train"] * clips
    for rank, i in enumerate(order):
        splits[i] = "test" if rank < n_test else ("val" if rank < n_test + n_val else "train")
    return splits


def label_rows(plans: Sequence[ClipPlan], splits: Sequence[str], fine_names: Sequence[str]) -> list[dict]:
    """The rows of ``labels.csv``: ``{"file", "tags", "split"}``."""
    return [{"file": p.file, "tags": ";".join(p.tags(fine_names)), "split": s} for p, s in zip(plans, splits)]


def tag_counts(plans: Sequence[ClipPlan], hierarchy) -> tuple[dict[str, int], dict[str, int]]:
    """Clips per fine tag and per coarse tag (a coarse tag counts a clip once)."""
    fine = {name: 0 for name in hierarchy.fine_names}
    coarse = {name: 0 for name in hierarchy.coarse_names}
    for plan in plans:
        for name in plan.instruments:
            fine[name] += 1
        for c in {hierarchy.coarse_names[hierarchy.parent_of[hierarchy.fine_names.index(n)]] for n in plan.instruments}:
            coarse[c] += 1
    return fine, coarse


# ----------------------------------------------------------------------------------------------
# Hierarchy, tools


def load_hierarchy(path: "str | os.PathLike"):
    """Validate the hierarchy with kaudio and check that every fine tag is an instrument we can play."""
    from kaudio.hierarchy import Hierarchy  # imported here: it loads Keras/TensorFlow

    hierarchy = Hierarchy.load(path)
    unknown = [name for name in hierarchy.fine_names if name not in INSTRUMENTS]
    if unknown:
        raise RenderError(f"{path}: fine tags {', '.join(unknown)} are not instruments this script knows how to "
                          f"play; use names from: {', '.join(INSTRUMENTS)} (or add them to INSTRUMENTS)")
    return hierarchy


def find_fluidsynth() -> str:
    path = shutil.which("fluidsynth")
    if path is None:
        raise RenderError(f"the `fluidsynth` command was not found on PATH; {INSTALL_HINT}")
    return path


def fluidsynth_version(fluidsynth: str) -> str:
    """First line of ``fluidsynth --version`` (recorded in dataset.json), or ``"unknown"``."""
    try:
        done = subprocess.run([fluidsynth, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = done.stdout.strip().splitlines()
    return lines[0] if lines else "unknown"


def find_soundfont(explicit: "str | None" = None) -> Path:
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise RenderError(f"--soundfont {explicit}: no such file; {INSTALL_HINT}")
        return path
    for candidate in SOUNDFONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise RenderError(f"no General MIDI soundfont found (looked for {', '.join(SOUNDFONT_CANDIDATES)}); "
                      f"{INSTALL_HINT}; or pass --soundfont PATH")


# ----------------------------------------------------------------------------------------------
# MIDI and rendering

_TICKS_PER_BEAT = 480


def write_midi(plan: ClipPlan, path: "str | os.PathLike", duration: float) -> None:
    """Write the plan as a type-1 standard MIDI file (one track per instrument)."""
    try:
        import mido
    except ImportError:
        raise RenderError("writing MIDI files needs mido: `pip install mido`") from None

    ticks_per_s = plan.tempo / 60.0 * _TICKS_PER_BEAT

    def tick(seconds: float) -> int:
        return int(round(seconds * ticks_per_s))

    midi = mido.MidiFile(type=1, ticks_per_beat=_TICKS_PER_BEAT)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(plan.tempo), time=0)])
    # The piece lasts a little longer than the clip so that fluidsynth renders every release tail.
    conductor.append(mido.MetaMessage("end_of_track", time=tick(duration + 0.3)))
    midi.tracks.append(conductor)
    for part in plan.parts:
        events = [(0, 0, mido.Message("program_change", channel=part.channel, program=part.program)),
                  (0, 0, mido.Message("control_change", channel=part.channel, control=7, value=part.volume)),
                  (0, 0, mido.Message("control_change", channel=part.channel, control=91, value=part.reverb))]
        for note in part.notes:
            on, off = tick(note.start), max(tick(note.start + note.duration), tick(note.start) + 1)
            events.append((on, 2, mido.Message("note_on", channel=part.channel, note=note.pitch, velocity=note.velocity)))
            events.append((off, 1, mido.Message("note_off", channel=part.channel, note=note.pitch, velocity=0)))
        events.sort(key=lambda e: (e[0], e[1]))
        track = mido.MidiTrack()
        now = 0
        for at, _, message in events:
            track.append(message.copy(time=at - now))
            now = at
        midi.tracks.append(track)
    midi.save(str(path))


def render_clip(plan: ClipPlan, out_path: Path, *, fluidsynth: str, soundfont: Path, sample_rate: int,
                duration: float, gain: float, workdir: Path) -> float:
    """Render one clip to a mono 16-bit WAV of exactly ``duration`` s; returns its RMS."""
    import soundfile as sf

    midi_path = workdir / f"clip_{plan.index:05d}.mid"
    raw_path = workdir / f"clip_{plan.index:05d}.raw.wav"
    write_midi(plan, midi_path, duration)
    command = [fluidsynth, "-n", "-i", "-q", "-F", str(raw_path), "-T", "wav", "-O", "float",
               "-r", str(sample_rate), "-g", str(gain), str(soundfont), str(midi_path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise RenderError(f"fluidsynth took over 120 s on {midi_path}") from None
    if done.returncode != 0 or not raw_path.is_file():
        tail = (done.stderr or done.stdout).strip()[-800:]
        raise RenderError(f"fluidsynth failed on clip {plan.index} (exit {done.returncode}): {tail}")
    audio, rate = sf.read(str(raw_path), dtype="float32", always_2d=True)
    midi_path.unlink()
    raw_path.unlink()
    if rate != sample_rate:
        raise RenderError(f"fluidsynth wrote {rate} Hz instead of the {sample_rate} Hz asked for")
    mono = audio.mean(axis=1)
    samples = int(round(duration * sample_rate))
    mono = np.pad(mono[:samples], (0, max(0, samples - len(mono))))
    fade = min(samples, int(0.02 * sample_rate))
    mono[samples - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64))))
    if rms < 1e-5:
        raise RenderError(f"clip {plan.index} rendered silent (RMS {rms:.2e}); is {soundfont} a General MIDI "
                          "soundfont?")
    mono = mono * (10.0 ** (plan.level_dbfs / 20.0) / rms)
    peak = float(np.max(np.abs(mono)))
    if peak > 0.99:
        mono *= 0.99 / peak
    sf.write(str(out_path), mono, sample_rate, subtype="PCM_16")
    return float(np.sqrt(np.mean(np.square(mono, dtype=np.float64))))


def render_dataset(out: Path, clips: int, seed: int, sample_rate: int = 16000, duration: float = 4.0, *,
                   hierarchy_path: Path = DEFAULT_HIERARCHY, soundfont: "str | None" = None, jobs: int = 2,
                   gain: float = 0.5, val_fraction: float = 0.0, test_fraction: float = 0.15,
                   max_instruments: int = 4, overwrite: bool = False, progress=None) -> dict:
    """Plan, render and label ``clips`` clips into ``out``; returns the summary written to dataset.json."""
    if clips < 1:
        raise RenderError(f"--clips must be at least 1, got {clips}")
    if duration < 0.5:
        raise RenderError(f"--duration must be at least 0.5 s, got {duration}")
    if not 8000 <= sample_rate <= 96000:
        raise RenderError(f"--sample-rate must be between 8000 and 96000 Hz, got {sample_rate}")
    if not 1 <= max_instruments <= 15:
        raise RenderError(f"--max-instruments must be between 1 and 15 (MIDI channels), got {max_instruments}")
    hierarchy = load_hierarchy(hierarchy_path)
    fluidsynth = find_fluidsynth()
    soundfont_path = find_soundfont(soundfont)
    splits = assign_splits(clips, seed, val_fraction, test_fraction)
    out = Path(out)
    if (out / "labels.csv").exists() and not overwrite:
        raise RenderError(f"{out / 'labels.csv'} already exists; pass --overwrite or choose another --out")
    (out / "audio").mkdir(parents=True, exist_ok=True)

    fine_names = list(hierarchy.fine_names)
    started = time.perf_counter()
    plans = plan_dataset(clips, seed, fine_names, duration, max_instruments)
    rms = np.zeros(clips)
    with tempfile.TemporaryDirectory(prefix="kaudio_render_") as tmp:
        # Threads suffice: the work is in the fluidsynth processes (at most `jobs` at a time).
        pool = ThreadPoolExecutor(max_workers=max(1, int(jobs)))

        def job(plan):
            return render_clip(plan, out / plan.file, fluidsynth=fluidsynth, soundfont=soundfont_path,
                               sample_rate=sample_rate, duration=duration, gain=gain, workdir=Path(tmp))

        try:
            for done, (plan, value) in enumerate(zip(plans, pool.map(job, plans)), 1):
                rms[plan.index] = value
                if progress and (done % 100 == 0 or done == clips):
                    progress(f"rendered {done}/{clips} clips ({time.perf_counter() - started:.0f} s)")
        finally:  # on an error (or Ctrl-C) the clips not started yet are dropped, not rendered
            pool.shutdown(wait=True, cancel_futures=True)
    elapsed = time.perf_counter() - started

    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "tags", "split"])
        writer.writeheader()
        writer.writerows(label_rows(plans, splits, fine_names))
    shutil.copyfile(hierarchy_path, out / "hierarchy.yaml")
    fine_counts, coarse_counts = tag_counts(plans, hierarchy)
    summary = {
        "clips": clips, "seed": seed, "sample_rate": sample_rate, "duration": duration,
        "max_instruments": max_instruments, "soundfont": str(soundfont_path), "gain": gain,
        "fluidsynth": fluidsynth_version(fluidsynth),
        "render_seconds": round(elapsed, 1),
        "splits": {name: splits.count(name) for name in ("train", "val", "test")},
        "instruments_per_clip": {str(k): sum(len(p.parts) == k for p in plans) for k in range(1, max_instruments + 1)},
        "rms_dbfs": {"min": round(float(20 * np.log10(rms.min())), 2), "max": round(float(20 * np.log10(rms.max())), 2)},
        "fine_counts": fine_counts, "coarse_counts": coarse_counts,
    }
    (out / "dataset.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _print_summary(summary: dict) -> None:
    print(f"{summary['clips']} clips of {summary['duration']} s at {summary['sample_rate']} Hz "
          f"in {summary['render_seconds']} s; splits {summary['splits']}; "
          f"instruments per clip {summary['instruments_per_clip']}")
    for level in ("coarse", "fine"):
        counts = summary[f"{level}_counts"]
        width = max(map(len, counts))
        print(f"\nclips per {level} tag:")
        for name, count in counts.items():
            print(f"  {name:<{width}}  {count:5d}  ({100.0 * count / summary['clips']:.1f}%)")


def main(argv: "Sequence[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    parser.add_argument("--clips", type=int, default=1200, help="number of clips")
    parser.add_argument("--seed", type=int, default=0, help="seed of the clip plans and the split")
    parser.add_argument("--sample-rate", type=int, default=16000, help="sample rate in Hz")
    parser.add_argument("--duration", type=float, default=4.0, help="clip length in seconds")
    parser.add_argument("--hierarchy", type=Path, default=DEFAULT_HIERARCHY, help="hierarchy YAML (fine = instruments)")
    parser.add_argument("--soundfont", default=None, help="General MIDI .sf2 (default: the first of "
                        + ", ".join(SOUNDFONT_CANDIDATES) + " that exists)")
    parser.add_argument("--jobs", type=int, default=2, help="fluidsynth processes running at once")
    parser.add_argument("--gain", type=float, default=0.5, help="fluidsynth master gain (levels are normalised after)")
    parser.add_argument("--val-fraction", type=float, default=0.0, help="share of clips in split 'val' (0: let kaudio "
                        "stratify a validation set out of 'train')")
    parser.add_argument("--test-fraction", type=float, default=0.15, help="share of clips in split 'test'")
    parser.add_argument("--max-instruments", type=int, default=4, help="most instruments in a clip")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset in --out")
    args = parser.parse_args(argv)
    try:
        summary = render_dataset(args.out, args.clips, args.seed, args.sample_rate, args.duration,
                                 hierarchy_path=args.hierarchy, soundfont=args.soundfont, jobs=args.jobs,
                                 gain=args.gain, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                                 max_instruments=args.max_instruments, overwrite=args.overwrite,
                                 progress=lambda message: print(message, file=sys.stderr, flush=True))
    except RenderError as err:
        print(f"render_dataset.py: error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # a kaudio SpecError (bad hierarchy file) reads well as it is
        if type(err).__module__.startswith("kaudio"):
            print(f"render_dataset.py: error: {err}", file=sys.stderr)
            return 2
        raise
    _print_summary(summary)
    print(f"\nwrote {args.out}/labels.csv, {args.out}/hierarchy.yaml, {args.out}/dataset.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
