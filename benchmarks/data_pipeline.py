"""Benchmark the two decoders of ``kaudio.data.make_dataset``: ``python`` (libsndfile + soxr VHQ in
``tf.numpy_function``) against ``tfio`` (tensorflow-io decoding and ``tfio.audio.resample`` in the graph).

Data: ``--files`` (40) synthetic stereo clips of ``--seconds`` (10) at ``--source-rate`` (44100 Hz)
per format in ``--formats`` (wav = 16-bit PCM, flac = 16-bit, ogg = Vorbis, mp3), music-like
(harmonic notes with envelopes, a little noise), written once to a temporary folder.

For each decoder a fresh subprocess (so that its peak RSS is its own) builds, for every format
and every rate in ``--rates`` (16000 32000), the evaluation dataset (``shuffle=False``, no cache,
``samples`` = the whole resampled clip, ``--batch-size`` 16) and iterates it twice. Reported per
(format, rate, decoder):

* setup s: wall seconds of the ``make_dataset`` call (header checks; tfio also measures its
  resampler's delay once per pair of rates); an untimed one-file run goes first, so lazy imports
  and first-call initialisation are not counted;
* clips/s, epoch 1 / epoch 2: clips per wall second over a whole epoch — the first without any
  cache (it includes tracing the map functions), the second warm (graphs traced, files in the OS
  page cache);
* CPU ms/clip: ``time.process_time()`` of epoch 1 per clip, all threads (can exceed wall time);
* max abs Δ and RMS Δ: between the two decoders' clips (all files, every sample), computed in this
  process after the timed runs; on the tfio row (python is the reference);
* peak RSS MiB: ``VmHWM`` of the decoder's subprocess over all its formats and rates (TensorFlow
  alone is most of it; the imports' peak is in the JSON).

Run (from the repository root)::

    .venv/bin/python benchmarks/data_pipeline.py                           # 40 files x 10 s, wav flac ogg mp3
    .venv/bin/python benchmarks/data_pipeline.py --files 8 --seconds 2 --formats wav mp3 --rates 16000
    .venv/bin/python benchmarks/data_pipeline.py --json new.json --baseline old.json

The first printed line is the machine info; a markdown table follows on stdout; progress goes to
stderr. ``--json PATH`` saves the results; ``--baseline PATH`` (a JSON of an earlier run) adds a
column: this run's epoch-1 clips/s ÷ the baseline's. Nothing asserts on any number.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from common import peak_rss_own_mb, progress  # noqa: E402  (benchmarks/common.py)

FORMATS = {"wav": ("WAV", "PCM_16", ".wav"), "flac": ("FLAC", "PCM_16", ".flac"), "ogg": ("OGG", "VORBIS", ".ogg"),
           "mp3": ("MP3", "MPEG_LAYER_III", ".mp3")}
DECODERS = ("python", "tfio")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=40, help="files per format (default: 40)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per file (default: 10)")
    parser.add_argument("--source-rate", type=int, default=44100, help="rate of the files (default: 44100)")
    parser.add_argument("--rates", type=int, nargs="+", default=[16000, 32000],
                        help="dataset rates (default: 16000 32000)")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=list(FORMATS),
                        help="file formats (default: wav flac ogg mp3)")
    parser.add_argument("--decoders", nargs="+", default=list(DECODERS), choices=list(DECODERS),
                        help="decoders to time (default: python tfio)")
    parser.add_argument("--batch-size", type=int, default=16, help="clips per batch (default: 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic audio")
    parser.add_argument("--tmpdir", default=None, help="where the files are written (default: system temp)")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    parser.add_argument("--baseline", metavar="PATH", help="JSON of an earlier run; adds a ratio column")
    parser.add_argument("--child", nargs=2, metavar=("DECODER", "FOLDER"), help=argparse.SUPPRESS)  # internal
    args = parser.parse_args(argv)
    if args.files < 1 or args.seconds <= 0 or args.batch_size < 1:
        parser.error("--files, --seconds and --batch-size must be positive")
    return args


# ----------------------------------------------------------------------------------------------
# Synthetic data


def music_like(seconds, rate, rng):
    """Stereo (n, 2) float32: three harmonic notes with decaying envelopes, panned, plus noise."""
    t = np.arange(int(seconds * rate)) / rate
    left, right = np.zeros_like(t), np.zeros_like(t)
    for _ in range(3):
        f0, start, pan = rng.uniform(110, 880), rng.uniform(0, seconds / 2), rng.uniform(0.2, 0.8)
        envelope = np.where(t >= start, np.exp(-(t - start) * rng.uniform(0.3, 2.0)), 0.0)
        note = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8) if f0 * k < rate / 2) * envelope
        left += pan * note
        right += (1 - pan) * note
    audio = np.stack([left, right], axis=1) * 0.15 + rng.standard_normal((len(t), 2)) * 0.01
    return np.clip(audio, -1, 1).astype(np.float32)


def write_files(folder, formats, count, seconds, rate, seed):
    """``count`` files per format in ``folder/<format>/``; returns ``{format: [paths]}``."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    signals = [music_like(seconds, rate, rng) for _ in range(count)]
    files = {}
    for name in formats:
        fmt, subtype, ext = FORMATS[name]
        (folder / name).mkdir(parents=True, exist_ok=True)
        files[name] = []
        for i, signal in enumerate(signals):
            path = folder / name / f"clip{i:03d}{ext}"
            sf.write(path, signal, rate, format=fmt, subtype=subtype)
            files[name].append(str(path))
    return files


def tagging_table(paths):
    from kaudio.data import TaggingTable
    from kaudio.hierarchy import Hierarchy

    hierarchy = Hierarchy.from_mapping({"a": ["x"]})
    fine = np.zeros((len(paths), 1), np.float32)
    return TaggingTable.from_fine([Path(p) for p in paths], fine, np.ones_like(fine), hierarchy)


def dataset(paths, rate, clip_samples, decoder, batch_size):
    from kaudio.data import make_dataset

    return make_dataset(tagging_table(paths), None, rate, clip_samples, batch_size=batch_size, decoder=decoder)


def clip_samples(args, rate):
    return int(args.seconds * args.source_rate) * rate // args.source_rate  # ⌊n · out / in⌋: the whole clip


# ----------------------------------------------------------------------------------------------
# Timing (in one subprocess per decoder)


def time_epoch(ds):
    clips = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for audio, _ in ds:
        clips += int(audio.shape[0])
    return clips, time.perf_counter() - wall0, time.process_time() - cpu0


def child(args, decoder, folder):
    """Runs in the subprocess: time every (format, rate) with one decoder; print one JSON line."""
    import kaudio.data  # noqa: F401  (TensorFlow and kaudio, imported before the first RSS reading)

    rss_imports = peak_rss_own_mb()
    files = json.loads((Path(folder) / "files.json").read_text())
    warm_up = files[args.formats[0]][:1]  # first calls import and initialise lazily: keep that out of the timings
    time_epoch(dataset(warm_up, args.rates[0], clip_samples(args, args.rates[0]), decoder, args.batch_size))
    rows = []
    for name in args.formats:
        for rate in args.rates:
            t0 = time.perf_counter()
            ds = dataset(files[name], rate, clip_samples(args, rate), decoder, args.batch_size)
            setup_s = time.perf_counter() - t0
            clips, wall1, cpu1 = time_epoch(ds)
            _, wall2, _ = time_epoch(ds)
            rows.append({"format": name, "rate": rate, "decoder": decoder, "clips": clips, "setup_s": setup_s,
                         "epoch1_clips_per_s": clips / wall1, "epoch2_clips_per_s": clips / wall2,
                         "cpu_ms_per_clip": 1000 * cpu1 / clips})
    print(json.dumps({"rows": rows, "rss_after_imports_mb": rss_imports, "peak_rss_mb": peak_rss_own_mb()}))


def run_child(args, decoder, folder):
    argv = [sys.executable, os.path.abspath(__file__), "--child", decoder, str(folder), "--files", str(args.files),
            "--seconds", str(args.seconds), "--source-rate", str(args.source_rate), "--batch-size",
            str(args.batch_size), "--rates", *map(str, args.rates), "--formats", *args.formats]
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if proc.returncode != 0:
        raise RuntimeError(f"the {decoder} run failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------
# Agreement (in this process)


def decoded_clips(paths, rate, samples, decoder, batch_size):
    return np.concatenate([audio.numpy()[:, :, 0] for audio, _ in dataset(paths, rate, samples, decoder, batch_size)])


def agreement(args, files):
    """``{(format, rate): (max abs Δ, RMS Δ)}`` between the decoders' clips."""
    out = {}
    for name in args.formats:
        for rate in args.rates:
            progress(f"agreement: {name} at {rate} Hz ...")
            samples = clip_samples(args, rate)
            python = decoded_clips(files[name], rate, samples, "python", args.batch_size)
            tfio = decoded_clips(files[name], rate, samples, "tfio", args.batch_size)
            diff = (tfio.astype(np.float64) - python).ravel()
            out[(name, rate)] = (float(np.abs(diff).max()), float(np.sqrt(np.mean(diff ** 2))))
    return out


# ----------------------------------------------------------------------------------------------
# Report


def machine_info():
    import tensorflow as tf

    info = {"cpu_count": os.cpu_count(), "tensorflow": tf.__version__, "python": sys.version.split()[0]}
    try:
        import tensorflow_io as tfio

        info["tensorflow_io"] = tfio.__version__
    except ImportError:
        info["tensorflow_io"] = None
    return info


def load_baseline(path):
    data = json.loads(Path(path).read_text())
    return {(r["format"], r["rate"], r["decoder"]): r for r in data["results"]}


def markdown_table(results, baseline=None):
    header = ["format", "rate", "decoder", "setup s", "clips/s epoch 1", "clips/s epoch 2", "CPU ms/clip",
              "max abs Δ", "RMS Δ", "peak RSS MiB"]
    if baseline is not None:
        header.append("epoch 1 vs baseline")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(header) - 3)) + "|"]
    for r in results:
        compared = r["decoder"] != "python" and r.get("max_abs_diff") is not None
        row = [r["format"], f"{r['rate'] / 1000:g} kHz", r["decoder"], f"{r['setup_s']:.2f}",
               f"{r['epoch1_clips_per_s']:.1f}", f"{r['epoch2_clips_per_s']:.1f}", f"{r['cpu_ms_per_clip']:.1f}",
               f"{r['max_abs_diff']:.2e}" if compared else "—", f"{r['rms_diff']:.2e}" if compared else "—",
               f"{r['peak_rss_mb']:.0f}" if r.get("peak_rss_mb") else "n/a"]
        if baseline is not None:
            base = baseline.get((r["format"], r["rate"], r["decoder"]))
            row.append(f"{r['epoch1_clips_per_s'] / base['epoch1_clips_per_s']:.2f}x" if base else "n/a")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        child(args, *args.child)
        return
    info = machine_info()
    print(f"machine: cpu_count={info['cpu_count']} tensorflow={info['tensorflow']} "
          f"tensorflow_io={info['tensorflow_io']} python={info['python']} files={args.files} "
          f"seconds={args.seconds:g} source_rate={args.source_rate}", flush=True)
    baseline = load_baseline(args.baseline) if args.baseline else None
    with tempfile.TemporaryDirectory(prefix="kaudio_data_bench_", dir=args.tmpdir) as tmp:
        folder = Path(tmp)
        progress(f"writing {args.files} x {len(args.formats)} files ...")
        files = write_files(folder, args.formats, args.files, args.seconds, args.source_rate, args.seed)
        (folder / "files.json").write_text(json.dumps(files))
        children = {}
        for decoder in args.decoders:
            progress(f"timing decoder={decoder} in a subprocess ...")
            children[decoder] = run_child(args, decoder, folder)
        diffs = agreement(args, files) if set(DECODERS) <= set(args.decoders) else {}
    results = []
    for decoder, report in children.items():
        for row in report["rows"]:
            diff = diffs.get((row["format"], row["rate"]), (None, None))
            results.append({**row, "max_abs_diff": diff[0], "rms_diff": diff[1], "peak_rss_mb": report["peak_rss_mb"],
                            "rss_after_imports_mb": report["rss_after_imports_mb"]})
    results.sort(key=lambda r: (args.formats.index(r["format"]), r["rate"], DECODERS.index(r["decoder"])))
    print()
    print(markdown_table(results, baseline))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "args": {k: v for k, v in vars(args).items()
                                                                         if k not in ("json", "baseline", "child")},
                                               "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
