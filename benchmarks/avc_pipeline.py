"""Benchmark the AVC data pipeline (``kaudio.data.avc``): pairs per second streamed from videos
against pairs read from TFRecord shards, with CPU time and peak memory.

Data: ``--videos`` (20) synthetic videos of ``--seconds`` (10) at ``--size`` (640x360) and
``--fps`` (30), H.264 (libx264, ``veryfast``, FFmpeg's default key-frame interval) with AAC audio at
``--audio-rate`` (48000 Hz) — moving shapes over a textured background and a sound of notes and
noise, so decoding and JPEG sizes are not those of flat pictures. They are written once to
``--videos-dir`` (kept and reused when given) or a temporary folder.

Each configuration runs in a fresh subprocess (its peak RSS, ``VmHWM``, is its own; TensorFlow
alone is most of it) at the reference's sizes (224x224 crops of 256-short-side frames, 1 s at
48 kHz) and times ``--pairs`` (512) pairs after ``--warmup`` (320) untimed ones — more than the
training shuffle buffer (256 pairs), which is filled before the first pair comes out, so the timed
pairs are the steady state:

* ``stream``: :func:`kaudio.data.avc.pair_dataset` training pairs (augmented, shuffle buffer 256),
  for ``--frames`` (``window`` and ``last``) and ``--cycle-lengths`` (20);
* ``prepare``: :func:`kaudio.data.avc.prepare_shards` writing ``--shard-pairs`` (1024) training
  pairs as one shard (the default shard size), per ``--encodings`` (``raw`` and ``jpeg``), the
  whole call timed (probing, split and pipeline start-up included, no warm-up). Each shard is
  its own stream, whose last open activations are decoded but not all used, so smaller shards
  cost more per pair; bytes per pair from the files;
* ``shards``: :func:`kaudio.data.avc.read_shards` reading them back as training pairs
  (shuffled, endless, float inputs) — what a trainer reads instead of the videos.

Columns: pairs/s = timed pairs per wall second; CPU ms/pair = ``time.process_time()`` of the
timed part per pair (all threads; can exceed wall time); peak RSS MiB of the subprocess.

Run (from the repository root)::

    .venv/bin/python benchmarks/avc_pipeline.py                       # 20 videos x 10 s, about 5 minutes
    .venv/bin/python benchmarks/avc_pipeline.py --videos 4 --seconds 3 --pairs 300 --warmup 280  # quicker
    .venv/bin/python benchmarks/avc_pipeline.py --videos-dir /tmp/avc_videos --json avc.json

The first printed line is the machine info and the load average; a markdown table follows on
stdout; progress goes to stderr. Nothing asserts on any number.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from common import peak_rss_own_mb, progress  # noqa: E402  (benchmarks/common.py)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=20, help="synthetic videos (default: 20)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per video (default: 10)")
    parser.add_argument("--size", default="640x360", help="WIDTHxHEIGHT (default: 640x360)")
    parser.add_argument("--fps", type=int, default=30, help="frames per second (default: 30)")
    parser.add_argument("--audio-rate", type=int, default=48000, help="audio rate of the videos (default: 48000)")
    parser.add_argument("--videos-dir", help="where the videos are written / found (default: a temporary folder)")
    parser.add_argument("--pairs", type=int, default=512, help="timed pairs per configuration (default: 512)")
    parser.add_argument("--warmup", type=int, default=320,
                        help="untimed pairs first (default: 320, more than the shuffle buffer of 256)")
    parser.add_argument("--frames", nargs="+", default=["window", "last"], choices=["window", "last"],
                        help="frame modes streamed (default: window last)")
    parser.add_argument("--cycle-lengths", type=int, nargs="+", default=[20],
                        help="videos decoded at once, streamed (default: 20)")
    parser.add_argument("--encodings", nargs="+", default=["raw", "jpeg"], choices=["raw", "jpeg"],
                        help="shard image encodings (default: raw jpeg)")
    parser.add_argument("--shard-pairs", type=int, default=1024,
                        help="pairs written by prepare, as one shard (default: 1024)")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    parser.add_argument("--child", metavar="CONFIG", help=argparse.SUPPRESS)  # internal: one configuration
    args = parser.parse_args(argv)
    if args.videos < 2 or args.seconds < 1.5 or args.pairs < 1 or args.warmup < 0:
        parser.error("need --videos >= 2, --seconds >= 1.5, --pairs >= 1, --warmup >= 0")
    return args


# ----------------------------------------------------------------------------------------------
# Synthetic videos


def write_videos(folder: Path, args) -> list[Path]:
    """``--videos`` H.264 + AAC videos (skipped when they exist with the same parameters)."""
    import av

    width, height = map(int, args.size.lower().split("x"))
    stamp = folder / "parameters.json"
    wanted = {"videos": args.videos, "seconds": args.seconds, "size": args.size, "fps": args.fps,
              "audio_rate": args.audio_rate}
    paths = [folder / f"video{i:03d}.mp4" for i in range(args.videos)]
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted and all(p.is_file() for p in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:height, 0:width]
    for i, path in enumerate(paths):
        rng = np.random.default_rng(i)
        progress(f"writing {path.name} ...")
        texture = (rng.random((height // 8 + 1, width // 8 + 1, 3)) * 255).astype(np.uint8)
        background = np.kron(texture, np.ones((8, 8, 1), np.uint8))[:height, :width]
        frames = int(args.seconds * args.fps)
        with av.open(str(path), "w") as container:
            video = container.add_stream("libx264", rate=args.fps, options={"preset": "veryfast"})
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            audio = container.add_stream("aac", rate=args.audio_rate, layout="stereo")
            colour = rng.integers(0, 256, 3)
            for k in range(frames):
                picture = np.roll(background, k * 2, axis=1).copy()
                cx, cy = (width / 2) * (1 + 0.8 * np.sin(k / 17 + i)), (height / 2) * (1 + 0.6 * np.cos(k / 23))
                picture[(xx - cx) ** 2 + (yy - cy) ** 2 < (height / 6) ** 2] = colour
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = k
                for packet in video.encode(frame):
                    container.mux(packet)
            for packet in video.encode():
                container.mux(packet)
            t = np.arange(int(args.seconds * args.audio_rate)) / args.audio_rate
            notes = sum(np.sin(2 * np.pi * rng.uniform(100, 2000) * t) * (np.sin(2 * np.pi * rng.uniform(0.2, 2) * t)
                                                                          > 0) for _ in range(3))
            sound = (0.15 * notes + 0.02 * rng.standard_normal(len(t))).astype(np.float32)
            step = audio.codec_context.frame_size or 1024
            for start in range(0, len(sound), step):
                chunk = np.ascontiguousarray(np.repeat(sound[None, start:start + step], 2, axis=0))
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                frame.sample_rate, frame.pts = args.audio_rate, start
                for packet in audio.encode(frame):
                    container.mux(packet)
            for packet in audio.encode():
                container.mux(packet)
    stamp.write_text(json.dumps(wanted))
    return paths


# ----------------------------------------------------------------------------------------------
# One configuration (in a subprocess)


def timed(iterator, warmup: int, pairs: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``pairs`` elements after ``warmup`` untimed ones (unbatched elements)."""
    for _ in range(warmup):
        next(iterator)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(pairs):
        next(iterator)
    return time.perf_counter() - wall0, time.process_time() - cpu0


def child(config: dict) -> dict:
    import kaudio.data.avc as avc

    warnings.simplefilter("ignore")
    folder, kind = Path(config["videos_dir"]), config["kind"]
    settings = avc.AVCSettings(frame=config.get("frame", "window"), cycle_length=config.get("cycle_length", 20))
    row = {"kind": kind, **{k: v for k, v in config.items() if k in ("frame", "cycle_length", "encoding")}}
    if kind == "stream":
        videos = list(avc.scan_videos(folder).videos)
        iterator = iter(avc.pair_dataset(videos, settings, seed=0).as_numpy_iterator())
        wall, cpu = timed(iterator, config["warmup"], config["pairs"])
    elif kind == "prepare":
        out = Path(config["shards_dir"])
        wall0, cpu0 = time.perf_counter(), time.process_time()
        avc.prepare_shards(folder, out, samples=config["pairs"], shard_size=config["pairs"], settings=settings,
                           image_encoding=config["encoding"], val_fraction=0.0, test_fraction=0.0, progress=False,
                           overwrite=True)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        row["bytes_per_pair"] = sum(p.stat().st_size for p in out.glob("train-*.tfrecord")) / config["pairs"]
    else:
        iterator = iter(avc.read_shards(config["shards_dir"], "train").as_numpy_iterator())
        wall, cpu = timed(iterator, config["warmup"], config["pairs"])
    row.update(pairs=config["pairs"], wall_s=wall, pairs_per_s=config["pairs"] / wall,
               cpu_ms_per_pair=1000 * cpu / config["pairs"], peak_rss_mb=peak_rss_own_mb())
    return row


def run_child(config: dict) -> dict:
    argv = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(config)]
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if proc.returncode != 0:
        raise RuntimeError(f"{config['kind']} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------
# Report


def markdown_table(rows) -> str:
    header = ["source", "settings", "pairs", "wall s", "pairs/s", "CPU ms/pair", "peak RSS MiB", "KiB/pair"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for r in rows:
        if r["kind"] == "stream":
            source, setting = "videos (streamed)", f"frame {r['frame']}, cycle {r['cycle_length']}"
        else:
            source = "write shards" if r["kind"] == "prepare" else "shards (read)"
            setting = f"{r['encoding']} frames"
        size = f"{r['bytes_per_pair'] / 1024:.1f}" if "bytes_per_pair" in r else "—"
        lines.append(f"| {source} | {setting} | {r['pairs']} | {r['wall_s']:.1f} | {r['pairs_per_s']:.1f} | "
                     f"{r['cpu_ms_per_pair']:.1f} | {r['peak_rss_mb']:.0f} | {size} |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    import tensorflow as tf

    print(f"machine: cpu_count={os.cpu_count()} tensorflow={tf.__version__} python={sys.version.split()[0]} "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.videos} videos x {args.seconds:g} s "
          f"{args.size} {args.fps} fps, AAC {args.audio_rate} Hz", flush=True)
    with tempfile.TemporaryDirectory(prefix="kaudio_avc_bench_") as tmp:
        videos_dir = Path(args.videos_dir) if args.videos_dir else Path(tmp) / "videos"
        write_videos(videos_dir, args)
        common = {"videos_dir": str(videos_dir), "pairs": args.pairs, "warmup": args.warmup}
        configs = [{**common, "kind": "stream", "frame": frame, "cycle_length": cycle}
                   for frame in args.frames for cycle in args.cycle_lengths]
        for encoding in args.encodings:
            shards = str(Path(tmp) / f"shards_{encoding}")
            configs += [{**common, "kind": "prepare", "encoding": encoding, "shards_dir": shards,
                         "pairs": args.shard_pairs},
                        {**common, "kind": "shards", "encoding": encoding, "shards_dir": shards}]
        rows = []
        for config in configs:
            progress(f"timing {config['kind']} {config.get('frame') or config.get('encoding')} ...")
            rows.append(run_child(config))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(markdown_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": {k: v for k, v in vars(args).items() if k != "child"},
                                               "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
