"""Benchmark ``kaudio.embed`` end to end on CPU: throughput, fast-vs-exact agreement, memory, and a
dtype policy (``--dtype-policy mixed_bfloat16``) against float32.

All models are built with RANDOM weights (``weights=None``): no pretrained weights are needed,
the timings do not depend on the weight values, but the fast-vs-exact similarity for trained
weights may differ from what is reported here. With ``--dtype-policy`` the random weights are
drawn once per embedding size and written to a temporary ``.weights.h5`` file that both policies
load, so the two policies compare the same network.

What is measured:

1. Throughput. For each clip length (``--durations``, default 1 10 60 s), embedding size
   (``--sizes``, default 6144 512) and mode (``--modes``, default exact fast), with
   ``--model`` (default openl3_mel256_music), hop ``--hop`` (0.1 s) and ``--batch-size`` (32):
   one untimed warm-up call on the same clip (builds the model and traces its functions), then
   ``--repeats`` (3) timed calls of ``kaudio.embed``. Reported: seconds of audio embedded per
   wall second (best call and median call), windows per second, and CPU seconds
   (``time.process_time``, summed over all cores) per second of audio for the best call. A
   second table gives the speed-up of fast over exact (best audio s/s ratio). Input: a
   reproducible music-like signal at 48 kHz (melody of harmonic tones with a decaying envelope
   per note, a bass line, a slow tremolo and a little noise).
2. Fast-vs-exact agreement. Per-frame cosine similarity between ``mode="fast"`` and
   ``mode="exact"`` embeddings (min, 5th percentile, mean, and where the worst frame is) for the
   fixture WAVs in ``--fixtures`` (default ../shared/data/fixtures: chirp_1s, chirp_mono,
   chirp_44k, chirp_stereo; skipped with a message if missing), a 10-s music-like clip, 10 s of
   white noise, and a 10-s clip with loudness changes (quiet passages, near silence, loud bursts).
3. Memory. (a) Peak RSS of this process (``getrusage(RUSAGE_SELF).ru_maxrss``) after the
   imports, after the throughput runs and after the agreement runs. (b) With
   ``--long-file-minutes M`` (default 0: skipped): a 16-bit 48 kHz mono WAV of M/6 and of M
   minutes of the music-like signal is written in 10-s blocks to a temporary folder, then
   embedded with ``kaudio.embedding.audio_files.embed_audio_file(path, hop_size=5.0,
   embedding_size=512, weights=None)`` in a fresh subprocess, which reports its own peak RSS
   after loading the model and after embedding; the file size and the wall time of the
   embedding call are reported too. The two rows should show the same peak RSS: the file is
   streamed, so memory does not grow with its length.
4. Dtype policy (``--dtype-policy POLICY``, e.g. ``mixed_bfloat16``: bfloat16 compute, float32
   weights; the float64 front end is unchanged). Every throughput configuration runs under
   float32 and under POLICY (a ``policy`` column, and a table of POLICY ÷ float32 speed), and the
   agreement inputs of 2. are embedded under both in every mode of ``--modes``: per-frame cosine
   similarity of POLICY to float32 (min, 5th percentile, mean). The embeddings are float32 in
   both cases.

Run (from the repository root)::

    .venv/bin/python benchmarks/embed_throughput.py                       # default, ~15 min on 2 cores
    .venv/bin/python benchmarks/embed_throughput.py --durations 1 10 --repeats 1 --long-file-minutes 6
    .venv/bin/python benchmarks/embed_throughput.py --long-file-minutes 60 --json new.json
    .venv/bin/python benchmarks/embed_throughput.py --json new.json --baseline old.json
    .venv/bin/python benchmarks/embed_throughput.py --dtype-policy mixed_bfloat16 --durations 1 10 \
        --sizes 6144 --repeats 2 --skip agreement          # bfloat16 vs float32

The first printed line is the machine info; markdown tables follow on stdout; progress goes to
stderr. ``--json PATH`` saves the results; ``--baseline PATH`` (a JSON from an earlier run) adds
ratio columns (this run ÷ baseline). Nothing asserts on any number: they are for comparison on
one machine only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from common import maxrss_mb, peak_rss_own_mb, progress  # noqa: E402  (benchmarks/common.py)
import tensorflow as tf  # noqa: E402

import kaudio  # noqa: E402
from kaudio.errors import KaudioWarning  # noqa: E402

SR = 48000
DEFAULT_FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fixtures"
FIXTURE_FILES = ("chirp_1s.wav", "chirp_mono.wav", "chirp_44k.wav", "chirp_stereo.wav")
AGREEMENT_SECONDS = 10.0
LONG_FILE_HOP = 5.0
LONG_FILE_SIZE = 512
WRITE_BLOCK_SECONDS = 10.0


# ----------------------------------------------------------------------------------------------
# Signals


MELODY = (0, 3, 5, 7, 10, 12, 10, 7, 5, 3, 0, -2, 0, 5, 7, 3)  # semitones above A3
BASS = (0, 5, 7, 3)  # semitones above A2, one per 8 melody notes
NOTE_SECONDS = 0.3


def music_like(n, sr=SR, start=0, seed=0):
    """``n`` samples (float32) of a reproducible music-like signal, starting at sample ``start``.

    The tonal part is a function of absolute time, so blocks generated one after another join
    up; the noise is seeded by (seed, start), so it is reproducible for a fixed block layout.
    """
    t = (start + np.arange(n)) / sr
    note = np.floor(t / NOTE_SECONDS).astype(np.int64)
    in_note = t - note * NOTE_SECONDS
    melody_f = 220.0 * 2.0 ** (np.asarray(MELODY)[note % len(MELODY)] / 12.0)
    bass_f = 110.0 * 2.0 ** (np.asarray(BASS)[(note // 8) % len(BASS)] / 12.0)
    envelope = np.minimum(in_note / 0.01, 1.0) * np.exp(-4.0 * in_note)
    melody = sum(0.6 ** (h - 1) * np.sin(2 * np.pi * h * melody_f * t) for h in range(1, 6))
    bass = sum(0.5 ** (h - 1) * np.sin(2 * np.pi * h * bass_f * t) for h in range(1, 4))
    tremolo = 0.8 + 0.2 * np.sin(2 * np.pi * 0.25 * t)
    noise = np.random.default_rng([seed, start]).standard_normal(n) * 0.003
    return (tremolo * (0.18 * envelope * melody + 0.08 * bass) + noise).astype(np.float32)


def white_noise(seconds, sr=SR, seed=1):
    return np.clip(np.random.default_rng(seed).standard_normal(int(seconds * sr)) * 0.25, -1, 1).astype(np.float32)


# (start s, gain) segments: quiet passages, near silence, loud bursts; 5-ms ramps between them
LOUDNESS_SEGMENTS = ((0.0, 0.01), (2.0, 3.0), (2.4, 0.003), (4.0, 0.3), (5.0, 3.0), (5.3, 1e-4),
                     (7.0, 0.3), (8.5, 3.0), (8.7, 0.01))


def loudness_changes(seconds, sr=SR, seed=2):
    """Music-like signal with a stepped gain (−40 dB … −80 dB passages, bursts clipped at ±1)."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    starts = np.array([s for s, _ in LOUDNESS_SEGMENTS])
    gains_db = 20 * np.log10([g for _, g in LOUDNESS_SEGMENTS])
    gain_db = gains_db[np.searchsorted(starts, t, side="right") - 1]
    ramp = max(int(0.005 * sr), 1)
    gain_db = np.convolve(np.pad(gain_db, (ramp - 1, 0), mode="edge"), np.ones(ramp) / ramp, mode="valid")
    return np.clip(music_like(n, sr, seed=seed) * 10 ** (gain_db / 20), -1, 1).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Helpers


def machine_info():
    return {"cpu_count": os.cpu_count(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "python": sys.version.split()[0], "kaudio": getattr(kaudio, "__version__", "?")}


def fmt_ratio(value, base):
    return f"{value / base:.2f}x" if base else "n/a"


def table(header, rows, align=None):
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# 1. Throughput


FLOAT32 = "float32"


def policies(args):
    """The dtype policies to run: float32, then ``--dtype-policy`` if it is another one."""
    return [FLOAT32] + ([args.dtype_policy] if args.dtype_policy not in (None, FLOAT32) else [])


_SHARED_WEIGHTS = {}


def weights_for(args, size):
    """``None`` (random weights per model) without ``--dtype-policy``; with it, one random float32
    backbone per embedding size saved to a ``.weights.h5`` file that every policy loads."""
    if len(policies(args)) == 1:
        return None
    if size not in _SHARED_WEIGHTS:
        from kaudio.embedding.models import load_embedding_model

        path = Path(args.weights_dir) / f"{args.model}_{size}.weights.h5"
        load_embedding_model(args.model, size, None, dtype_policy=FLOAT32).backbone.save_weights(path)
        _SHARED_WEIGHTS[size] = str(path)
    return _SHARED_WEIGHTS[size]


def benchmark_throughput(args):
    results = []
    for duration in args.durations:
        clip = music_like(int(round(duration * SR)))
        for size in args.sizes:
            for mode in args.modes:
                for policy in policies(args):
                    progress(f"throughput: {duration:g} s, {size}-d, {mode}, {policy} ...")
                    results.append(time_embedding(args, clip, duration, size, mode, policy))
    return results


def time_embedding(args, clip, duration, size, mode, policy):
    """Warm-up call(s), then ``--repeats`` timed calls of ``kaudio.embed`` on ``clip``."""

    def call():
        return kaudio.embed(clip, SR, model=args.model, embedding_size=size, hop_size=args.hop,
                            batch_size=args.batch_size, weights=weights_for(args, size), mode=mode,
                            dtype_policy=policy)

    for _ in range(max(1, args.warmup)):
        embedding, _ = call()
    runs = []  # (wall s, cpu s)
    for _ in range(args.repeats):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        embedding, _ = call()
        runs.append((time.perf_counter() - wall0, time.process_time() - cpu0))
    best_wall, best_cpu = min(runs)
    return {
        "duration_s": duration, "embedding_size": size, "mode": mode, "dtype_policy": policy,
        "frames": int(len(embedding)), "best_wall_s": best_wall, "median_wall_s": statistics.median(w for w, _ in runs),
        "audio_s_per_s_best": duration / best_wall,
        "audio_s_per_s_median": duration / statistics.median(w for w, _ in runs),
        "windows_per_s_best": len(embedding) / best_wall,
        "cpu_s_per_audio_s": best_cpu / duration,
    }


def throughput_key(r):
    return (float(r["duration_s"]), int(r["embedding_size"]), r["mode"], r.get("dtype_policy", FLOAT32))


def throughput_table(results, baseline=None):
    header = ["clip s", "size", "mode", "policy", "windows", "best wall s", "audio s/s (best)", "audio s/s (median)",
              "windows/s (best)", "CPU s / audio s"]
    if baseline is not None:
        header.append("audio s/s vs baseline")
    base = {throughput_key(r): r for r in (baseline or {}).get("throughput", [])}
    rows = []
    for r in results:
        row = [f"{r['duration_s']:g}", r["embedding_size"], r["mode"], r.get("dtype_policy", FLOAT32), r["frames"],
               f"{r['best_wall_s']:.3f}", f"{r['audio_s_per_s_best']:.2f}", f"{r['audio_s_per_s_median']:.2f}",
               f"{r['windows_per_s_best']:.1f}", f"{r['cpu_s_per_audio_s']:.3f}"]
        if baseline is not None:
            b = base.get(throughput_key(r))
            row.append(fmt_ratio(r["audio_s_per_s_best"], b["audio_s_per_s_best"]) if b else "n/a")
        rows.append(row)
    return table(header, rows, ["---:", "---:", "---", "---"] + ["---:"] * (len(header) - 4))


def speedups(results):
    """Fast over exact, per clip length, size and policy."""
    by_key = {throughput_key(r): r for r in results}
    out = []
    for r in results:
        if r["mode"] != "exact":
            continue
        policy = r.get("dtype_policy", FLOAT32)
        fast = by_key.get((float(r["duration_s"]), int(r["embedding_size"]), "fast", policy))
        if fast:
            out.append({"duration_s": r["duration_s"], "embedding_size": r["embedding_size"], "dtype_policy": policy,
                        "exact_audio_s_per_s": r["audio_s_per_s_best"], "fast_audio_s_per_s": fast["audio_s_per_s_best"],
                        "speedup": fast["audio_s_per_s_best"] / r["audio_s_per_s_best"]})
    return out


def speedup_table(rows_in, baseline=None):
    header = ["clip s", "size", "policy", "exact audio s/s", "fast audio s/s", "fast ÷ exact"]
    if baseline is not None:
        header.append("speed-up vs baseline")

    def key(r):
        return float(r["duration_s"]), int(r["embedding_size"]), r.get("dtype_policy", FLOAT32)

    base = {key(r): r for r in (baseline or {}).get("speedup", [])}
    rows = []
    for r in rows_in:
        row = [f"{r['duration_s']:g}", r["embedding_size"], r.get("dtype_policy", FLOAT32),
               f"{r['exact_audio_s_per_s']:.2f}", f"{r['fast_audio_s_per_s']:.2f}", f"{r['speedup']:.2f}x"]
        if baseline is not None:
            b = base.get(key(r))
            row.append(fmt_ratio(r["speedup"], b["speedup"]) if b else "n/a")
        rows.append(row)
    return table(header, rows, ["---:", "---:", "---"] + ["---:"] * (len(header) - 3))


def policy_speedups(results, policy):
    """``policy`` over float32 (best audio s/s, and CPU s per audio s), per clip length, size and mode."""
    by_key = {throughput_key(r): r for r in results}
    out = []
    for r in results:
        if r.get("dtype_policy", FLOAT32) != FLOAT32:
            continue
        other = by_key.get((float(r["duration_s"]), int(r["embedding_size"]), r["mode"], policy))
        if other:
            out.append({"duration_s": r["duration_s"], "embedding_size": r["embedding_size"], "mode": r["mode"],
                        "dtype_policy": policy, "float32_audio_s_per_s": r["audio_s_per_s_best"],
                        "policy_audio_s_per_s": other["audio_s_per_s_best"],
                        "speedup": other["audio_s_per_s_best"] / r["audio_s_per_s_best"],
                        "cpu_ratio": other["cpu_s_per_audio_s"] / r["cpu_s_per_audio_s"]})
    return out


def policy_speedup_table(rows_in, policy):
    header = ["clip s", "size", "mode", "float32 audio s/s", f"{policy} audio s/s", "speed ratio", "CPU s ratio"]
    rows = [[f"{r['duration_s']:g}", r["embedding_size"], r["mode"], f"{r['float32_audio_s_per_s']:.2f}",
             f"{r['policy_audio_s_per_s']:.2f}", f"{r['speedup']:.2f}x", f"{r['cpu_ratio']:.2f}"] for r in rows_in]
    return table(header, rows, ["---:", "---:", "---"] + ["---:"] * (len(header) - 3))


# ----------------------------------------------------------------------------------------------
# 2. Fast-vs-exact agreement


def agreement_inputs(args):
    """[(name, audio, sr)]; fixtures first (if found), then the synthetic clips."""
    inputs = []
    folder = Path(args.fixtures)
    if folder.is_dir():
        import soundfile as sf

        for name in FIXTURE_FILES:
            path = folder / name
            if path.exists():
                audio, sr = sf.read(str(path), dtype="float32")
                inputs.append((name, audio, sr))
            else:
                print(f"(fixture {path} not found; skipped)")
    else:
        print(f"(fixture folder {folder} not found; fixture files skipped)")
    seconds = AGREEMENT_SECONDS
    inputs += [(f"music-like {seconds:g} s", music_like(int(seconds * SR)), SR),
               (f"white noise {seconds:g} s", white_noise(seconds), SR),
               (f"loudness changes {seconds:g} s", loudness_changes(seconds), SR)]
    return inputs


def cosine_rows(a, b):
    dot = np.sum(a.astype(np.float64) * b, axis=1)
    norms = np.linalg.norm(a.astype(np.float64), axis=1) * np.linalg.norm(b.astype(np.float64), axis=1)
    both_zero = norms == 0
    return np.where(both_zero, 1.0, dot / np.where(both_zero, 1.0, norms))


def benchmark_agreement(args):
    results = []
    inputs = agreement_inputs(args)
    for size in args.sizes:
        for name, audio, sr in inputs:
            progress(f"agreement: {name}, {size}-d ...")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", KaudioWarning)  # "shorter than one window" for short inputs
                exact, ts = kaudio.embed(audio, sr, model=args.model, embedding_size=size, hop_size=args.hop,
                                         batch_size=args.batch_size, weights=None, mode="exact")
                fast, _ = kaudio.embed(audio, sr, model=args.model, embedding_size=size, hop_size=args.hop,
                                       batch_size=args.batch_size, weights=None, mode="fast")
            n = min(len(exact), len(fast))
            cos = cosine_rows(exact[:n], fast[:n])
            worst = int(np.argmin(cos))
            results.append({"input": name, "sample_rate": sr, "seconds": len(audio) / sr, "embedding_size": size,
                            "frames_exact": int(len(exact)), "frames_fast": int(len(fast)),
                            "cos_min": float(cos.min()), "cos_p5": float(np.percentile(cos, 5)),
                            "cos_mean": float(cos.mean()), "worst_at_s": float(ts[worst])})
    return results


def agreement_table(results, baseline=None):
    header = ["input", "size", "frames", "cos min", "cos p5", "cos mean", "worst frame at s"]
    if baseline is not None:
        header.append("mean − baseline mean")
    base = {(r["input"], int(r["embedding_size"])): r for r in (baseline or {}).get("agreement", [])}
    rows = []
    for r in results:
        frames = str(r["frames_exact"]) if r["frames_exact"] == r["frames_fast"] else \
            f"{r['frames_exact']} vs {r['frames_fast']} (MISMATCH)"
        row = [r["input"], r["embedding_size"], frames, f"{r['cos_min']:.4f}", f"{r['cos_p5']:.4f}",
               f"{r['cos_mean']:.4f}", f"{r['worst_at_s']:.1f}"]
        if baseline is not None:
            b = base.get((r["input"], int(r["embedding_size"])))
            row.append(f"{r['cos_mean'] - b['cos_mean']:+.4f}" if b else "n/a")
        rows.append(row)
    return table(header, rows, ["---", "---:"] + ["---:"] * (len(header) - 2))


def benchmark_policy_agreement(args, policy):
    """Per-frame cosine similarity of ``policy`` embeddings to float32 ones (same weights), per mode."""
    results = []
    inputs = agreement_inputs(args)
    for size in args.sizes:
        for mode in args.modes:
            for name, audio, sr in inputs:
                progress(f"{policy} agreement: {name}, {size}-d, {mode} ...")
                runs = {}
                for p in (FLOAT32, policy):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", KaudioWarning)  # "shorter than one window" for short inputs
                        runs[p], ts = kaudio.embed(audio, sr, model=args.model, embedding_size=size, hop_size=args.hop,
                                                   batch_size=args.batch_size, weights=weights_for(args, size),
                                                   mode=mode, dtype_policy=p)
                cos = cosine_rows(runs[FLOAT32], runs[policy])
                worst = int(np.argmin(cos))
                results.append({"input": name, "embedding_size": size, "mode": mode, "dtype_policy": policy,
                                "frames": int(len(cos)), "output_dtype": str(runs[policy].dtype),
                                "cos_min": float(cos.min()), "cos_p5": float(np.percentile(cos, 5)),
                                "cos_mean": float(cos.mean()), "worst_at_s": float(ts[worst])})
    return results


def policy_agreement_table(results):
    header = ["input", "size", "mode", "frames", "output dtype", "cos min", "cos p5", "cos mean", "worst frame at s"]
    rows = [[r["input"], r["embedding_size"], r["mode"], r["frames"], r["output_dtype"], f"{r['cos_min']:.5f}",
             f"{r['cos_p5']:.5f}", f"{r['cos_mean']:.5f}", f"{r['worst_at_s']:.1f}"] for r in results]
    return table(header, rows, ["---", "---:", "---", "---:", "---"] + ["---:"] * 4)


# ----------------------------------------------------------------------------------------------
# 3. Memory


def write_long_wav(path, minutes, seed=0):
    """16-bit 48 kHz mono WAV of the music-like signal, written block by block (bounded memory)."""
    import soundfile as sf

    total = int(round(minutes * 60 * SR))
    block = int(WRITE_BLOCK_SECONDS * SR)
    with sf.SoundFile(str(path), "w", samplerate=SR, channels=1, subtype="PCM_16", format="WAV") as f:
        for start in range(0, total, block):
            f.write(music_like(min(block, total - start), SR, start=start, seed=seed))
    return total


def child_embed(path, model, size, hop):
    """Runs in the subprocess: embed one file, print one JSON line with this process's own numbers."""
    from kaudio.embedding.audio_files import embed_audio_file
    from kaudio.embedding.models import load_embedding_model

    rss_imports = peak_rss_own_mb()
    load_embedding_model(model, size, None)
    rss_model = peak_rss_own_mb()
    wall0 = time.perf_counter()
    embedding, _ = embed_audio_file(path, model=model, embedding_size=size, hop_size=hop, weights=None)
    wall = time.perf_counter() - wall0
    print(json.dumps({"frames": int(len(embedding)), "wall_s": wall, "rss_after_imports_mb": rss_imports,
                      "rss_after_model_mb": rss_model, "peak_rss_mb": peak_rss_own_mb()}))


def benchmark_long_files(args):
    results = []
    minutes_list = [args.long_file_minutes / 6, args.long_file_minutes]
    with tempfile.TemporaryDirectory(prefix="kaudio_bench_", dir=args.tmpdir) as tmp:
        for minutes in minutes_list:
            path = Path(tmp) / f"music_{minutes:g}min.wav"
            progress(f"long file: writing {minutes:g} min WAV ...")
            t0 = time.perf_counter()
            write_long_wav(path, minutes)
            write_s = time.perf_counter() - t0
            progress(f"long file: embedding {minutes:g} min in a subprocess ...")
            cmd = [sys.executable, os.path.abspath(__file__), "--child-embed", str(path), "--model", args.model]
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            if proc.returncode != 0:
                raise RuntimeError(f"child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
            child = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append({"minutes": minutes, "file_mb": path.stat().st_size / 2**20, "write_s": write_s,
                            "hop_size": LONG_FILE_HOP, "embedding_size": LONG_FILE_SIZE, **child})
            path.unlink()
    return results


def memory_table(points, baseline=None):
    header = ["point (this process)", "peak RSS MiB"]
    if baseline is not None:
        header.append("vs baseline")
    base = (baseline or {}).get("memory", {}).get("self", {})
    rows = []
    for name, value in points.items():
        row = [name, f"{value:.0f}"]
        if baseline is not None:
            row.append(fmt_ratio(value, base[name]) if base.get(name) else "n/a")
        rows.append(row)
    return table(header, rows)


def long_file_table(results, baseline=None):
    header = ["file minutes", "file MiB", "windows", "embed wall s", "RSS after model load MiB", "peak RSS MiB"]
    if baseline is not None:
        header += ["peak RSS vs baseline", "wall vs baseline"]
    base = {float(r["minutes"]): r for r in (baseline or {}).get("memory", {}).get("long_file", [])}
    rows = []
    for r in results:
        row = [f"{r['minutes']:g}", f"{r['file_mb']:.1f}", r["frames"], f"{r['wall_s']:.1f}",
               f"{r['rss_after_model_mb']:.0f}", f"{r['peak_rss_mb']:.0f}"]
        if baseline is not None:
            b = base.get(float(r["minutes"]))
            row += [fmt_ratio(r["peak_rss_mb"], b["peak_rss_mb"]), fmt_ratio(r["wall_s"], b["wall_s"])] if b \
                else ["n/a", "n/a"]
        rows.append(row)
    return table(header, rows)


# ----------------------------------------------------------------------------------------------
# Main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[1.0, 10.0, 60.0],
                        help="clip lengths in seconds for the throughput runs (default: 1 10 60)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[6144, 512], help="embedding sizes (default: 6144 512)")
    parser.add_argument("--modes", nargs="+", default=["exact", "fast"], choices=["exact", "fast"],
                        help="embedding modes for the throughput runs (default: exact fast)")
    parser.add_argument("--model", default="openl3_mel256_music", help="audio model name (default: openl3_mel256_music)")
    parser.add_argument("--hop", type=float, default=0.1, help="hop size in seconds (default: 0.1)")
    parser.add_argument("--batch-size", type=int, default=32, help="windows per forward pass (default: 32)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per configuration (default: 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls per configuration first (default: 1, min 1)")
    parser.add_argument("--skip", nargs="+", default=[], choices=["throughput", "agreement", "policy-agreement"],
                        help="sections to leave out")
    parser.add_argument("--dtype-policy", default=None,
                        help="also run under this Keras dtype policy (e.g. mixed_bfloat16) and compare it with "
                             "float32: speed, and per-frame cosine similarity (default: float32 only)")
    parser.add_argument("--fixtures", default=str(DEFAULT_FIXTURES),
                        help="folder with the fixture WAVs (default: ../shared/data/fixtures)")
    parser.add_argument("--long-file-minutes", type=float, default=0.0,
                        help="embed files of M/6 and M minutes in a subprocess and report its peak RSS (default 0: skip)")
    parser.add_argument("--tmpdir", default=None, help="where the long WAV files are written (default: system temp)")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    parser.add_argument("--baseline", metavar="PATH", help="JSON of an earlier run; adds ratio columns")
    parser.add_argument("--child-embed", metavar="WAV", help=argparse.SUPPRESS)  # internal: the memory subprocess
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.batch_size < 1 or args.hop <= 0 or args.long_file_minutes < 0:
        parser.error("--repeats and --batch-size must be at least 1, --hop positive, --long-file-minutes >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child_embed:
        child_embed(args.child_embed, args.model, LONG_FILE_SIZE, LONG_FILE_HOP)
        return
    if args.dtype_policy is not None:
        from kaudio.dtypes import policy_name

        args.dtype_policy = policy_name(args.dtype_policy)  # a bad name fails here, before any work
    with tempfile.TemporaryDirectory(prefix="kaudio_bench_weights_") as weights_dir:
        args.weights_dir = weights_dir
        run(args)


def run(args):

    info = machine_info()
    print(f"machine: cpu_count={info['cpu_count']} tensorflow={info['tensorflow']} keras={info['keras']} "
          f"python={info['python']} kaudio={info['kaudio']}", flush=True)
    print(f"settings: model={args.model} hop={args.hop:g} s batch_size={args.batch_size} sizes={args.sizes} "
          f"repeats={args.repeats} (best of, after {max(1, args.warmup)} warm-up call) input at {SR} Hz "
          f"policies={policies(args)}", flush=True)
    print("weights: RANDOM (weights=None) — no pretrained weights are used; timings do not depend on them, "
          "but fast-vs-exact similarity for trained weights may differ.", flush=True)
    baseline = None
    if args.baseline:
        with open(args.baseline) as f:
            baseline = json.load(f)
        print(f"baseline: {args.baseline}", flush=True)

    out = {"machine": info, "settings": {k: v for k, v in vars(args).items()
                                         if k not in ("json", "baseline", "child_embed", "weights_dir")},
           "weights": None}
    memory = {"after imports": maxrss_mb()}

    if "throughput" not in args.skip:
        results = benchmark_throughput(args)
        memory["after throughput"] = maxrss_mb()
        out["throughput"], out["speedup"] = results, speedups(results)
        print("\n## Throughput (seconds of audio per wall second; random weights)\n")
        print(throughput_table(results, baseline))
        if out["speedup"]:
            print("\n## Fast over exact (best audio s/s)\n")
            print(speedup_table(out["speedup"], baseline))
        if len(policies(args)) > 1:
            out["policy_speedup"] = policy_speedups(results, args.dtype_policy)
            print(f"\n## {args.dtype_policy} over float32 (best audio s/s; CPU s per audio s, {args.dtype_policy} ÷ "
                  "float32)\n")
            print(policy_speedup_table(out["policy_speedup"], args.dtype_policy))
        sys.stdout.flush()

    if "agreement" not in args.skip:
        print(f"\n## Fast vs exact agreement (per-frame cosine similarity, hop {args.hop:g} s)\n")
        print("RANDOM weights (weights=None): the similarity for trained weights may differ.\n", flush=True)
        out["agreement"] = benchmark_agreement(args)
        memory["after agreement"] = maxrss_mb()
        print(agreement_table(out["agreement"], baseline), flush=True)

    if len(policies(args)) > 1 and "policy-agreement" not in args.skip:
        print(f"\n## {args.dtype_policy} vs float32 agreement (per-frame cosine similarity, same random weights, "
              f"hop {args.hop:g} s)\n", flush=True)
        out["policy_agreement"] = benchmark_policy_agreement(args, args.dtype_policy)
        memory["after policy agreement"] = maxrss_mb()
        print(policy_agreement_table(out["policy_agreement"]), flush=True)

    out["memory"] = {"self": memory}
    print("\n## Memory: peak RSS of this process (ru_maxrss)\n")
    print(memory_table(memory, baseline), flush=True)

    if args.long_file_minutes > 0:
        long_files = benchmark_long_files(args)
        out["memory"]["long_file"] = long_files
        print(f"\n## Memory: streaming a long file (embed_audio_file, hop {LONG_FILE_HOP:g} s, {LONG_FILE_SIZE}-d, "
              "random weights, peak RSS (VmHWM) of a fresh subprocess)\n")
        print(long_file_table(long_files, baseline), flush=True)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
