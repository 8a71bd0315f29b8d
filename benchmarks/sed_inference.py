"""Benchmark frame-level SED inference on a long file: the bundled ``sed_2apae`` spec (random
weights) over a 10-minute file cut into 10-s chunks.

Setting: 2APAE (Deshmukh et al., "Multi-Task Learning for Interpretable Weakly Labelled Sound
Event Detection"; the bundled ``sed_2apae`` spec: 10-s clips at 32 kHz, the ``2apae`` log-mel with
64 bins, hop 1024, 311 frames per clip, the ``seg_encoder`` backbone, two-step attention with the
reference's dense Linear(T → T), so the model only takes whole 10-s clips). The script writes a
``--minutes`` (10) 16-bit mono WAV at ``--file-rate`` (32 kHz, the model's rate, so nothing is
resampled; another rate adds soxr VHQ resampling to the timed work) — noise with short tones; the
content does not change the time — and then, in a fresh subprocess per setting (its own peak RSS):

1. builds the model (random weights; the standardisation is the identity, mean 0 and std 1, which
   costs the same as fitted statistics);
2. warms up with one call (traces the ``tf.function``);
3. times ``--repeats`` (1) passes over the file: libsndfile decoding in 10-s blocks
   (:class:`kaudio.audio_io.AudioFileReader`), consecutive 10-s chunks (the last one zero-padded),
   ``--batch-size`` (8) chunks per call of one ``tf.function`` (input signature with a free batch
   axis: traced once), the frame activity ``(chunks, 311, 41)`` fetched with ``.numpy()``.

Outputs (``--outputs``, both by default):

* ``full``: the saved model as it is — every output is computed and fetched (clip, frames, the
  decoder's reconstruction, both attention maps; a ``tf.function`` that returned only the frames
  would be pruned to the ``frames`` setting by TensorFlow itself);
* ``frames``: only what the frame activity needs — front end → backbone → the head's class
  convolution → two-step attention, a sub-model of the head sharing its weights (``keras.Model``
  from the head's input to its ``frames`` output), so the auto-encoder's decoder is not run.

Reported per setting: chunks, frames produced, multiply-adds per chunk (``kaudio.model_card``;
``frames`` leaves out the decoder's), wall and CPU seconds of the best pass (CPU time of the whole
process, all threads), the real-time factors — audio seconds per wall second and per CPU second —,
frames per wall second, the peak RSS after the model is built and at the end (``VmHWM`` of the
subprocess). Frames per audio second are 31.1, not 32000 / 1024 = 31.25: each 10-s chunk is framed
alone with ``valid`` padding (311 frames, as in training).

Run (from the repository root)::

    .venv/bin/python benchmarks/sed_inference.py                       # 10 min, full and frames
    .venv/bin/python benchmarks/sed_inference.py --minutes 2 --outputs frames --batch-size 4
    .venv/bin/python benchmarks/sed_inference.py --json new.json --baseline old.json

The first printed line is the machine info; a markdown table follows on stdout; progress goes to
stderr. ``--json PATH`` saves the results; ``--baseline PATH`` (a JSON from an earlier run) adds
ratio columns (audio s per wall s and per CPU s, this run ÷ the baseline's). Nothing asserts on
any number. CPU threads: TensorFlow's defaults (all cores).
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
from common import announce, peak_rss_own_mb, progress  # noqa: E402  (benchmarks/common.py)

SPEC = "sed_2apae"
OUTPUTS = ("full", "frames")
WRITE_BLOCK_SECONDS = 10.0


# ----------------------------------------------------------------------------------------------
# The file


def write_long_wav(path, minutes: float, rate: int, seed: int = 0) -> int:
    """16-bit mono WAV: background noise with a 0.5-s tone every 2 s, written block by block."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    total = int(round(minutes * 60 * rate))
    block = int(WRITE_BLOCK_SECONDS * rate)
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=1, subtype="PCM_16", format="WAV") as f:
        for start in range(0, total, block):
            n = min(block, total - start)
            t = (start + np.arange(n)) / rate
            tone = 0.3 * np.sin(2 * np.pi * (300 + 100 * (np.floor(t / 2) % 20)) * t) * ((t % 2) < 0.5)
            f.write((0.03 * rng.standard_normal(n) + tone).astype(np.float32))
    return total


# ----------------------------------------------------------------------------------------------
# The subprocess: one setting


def _walk(layer):
    yield layer
    for sub in getattr(layer, "layers", []):
        yield from _walk(sub)


def frames_function(model, outputs: str):
    """``(tf.function audio → frames, multiply-adds per chunk)`` for ``outputs`` ``full`` or ``frames``."""
    import keras
    import tensorflow as tf

    import kaudio
    from kaudio.card import layer_multiply_adds

    macs = kaudio.model_card(model).multiply_adds
    if outputs == "full":
        def forward(x):  # every output is returned: a tf.function runs only the ops its outputs need
            return model(x, training=False)
    else:
        head = model.head
        frames_head = keras.Model(head.inputs, head.get_layer("frames").output, name="frames_head")
        decoder = sum(layer_multiply_adds(layer) or 0 for layer in _walk(head)
                      if layer.name.startswith("decoder_block"))
        macs -= decoder

        def forward(x):
            return frames_head(model.backbone(model.frontend(x, training=False), training=False), training=False)
    samples = model.spec.input["samples"]
    return tf.function(forward, input_signature=[tf.TensorSpec([None, samples, 1], tf.float32)]), macs


def chunks(path, rate: int, samples: int):
    """Consecutive ``samples``-long chunks of the file at ``rate`` (the last zero-padded)."""
    from kaudio.audio_io import AudioFileReader, StreamResampler

    reader = AudioFileReader(path)
    resampler = StreamResampler(reader.sample_rate, rate, reader.frames)
    buffer = np.zeros(0, np.float32)
    produced = 0
    for block, last in reader.blocks(samples / rate):
        out = resampler(block, last)
        if last:  # exactly the rule's length
            out = out[: max(resampler.length_out - produced, 0)]
        produced += len(out)
        buffer = np.concatenate([buffer, out])
        while len(buffer) >= samples:
            yield buffer[:samples]
            buffer = buffer[samples:]
    if len(buffer):
        yield np.pad(buffer, (0, samples - len(buffer)))


def one_pass(path, forward, rate: int, samples: int, batch_size: int) -> tuple[int, int]:
    """Run the file through ``forward``; returns (chunks, frames produced)."""
    n_chunks = n_frames = 0
    batch = []

    def flush():
        nonlocal n_frames
        out = forward(np.stack(batch)[..., None])
        fetched = ({key: value.numpy() for key, value in out.items()} if isinstance(out, dict)
                   else {"frames": out.numpy()})
        n_frames += fetched["frames"].shape[0] * fetched["frames"].shape[1]
        batch.clear()

    for chunk in chunks(path, rate, samples):
        batch.append(chunk)
        n_chunks += 1
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return n_chunks, n_frames


def child(path, outputs: str, batch_size: int, repeats: int) -> None:
    """Runs in the subprocess: build, warm up, time; prints one JSON line."""
    import keras

    import kaudio

    keras.utils.set_random_seed(0)
    model = kaudio.build(SPEC)
    forward, macs = frames_function(model, outputs)
    rate, samples = model.spec.input["sample_rate"], model.spec.input["samples"]
    rss_model = peak_rss_own_mb()
    forward(np.zeros((batch_size, samples, 1), np.float32))  # trace
    passes = []
    for i in range(repeats):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        n_chunks, n_frames = one_pass(path, forward, rate, samples, batch_size)
        passes.append((time.perf_counter() - wall0, time.process_time() - cpu0))
        progress(f"  {outputs}: pass {i + 1}/{repeats}: {passes[-1][0]:.1f} s wall, {passes[-1][1]:.1f} s CPU")
    wall, cpu = min(passes)
    print(json.dumps({"outputs": outputs, "batch_size": batch_size, "chunks": n_chunks, "frames": n_frames,
                      "macs_per_chunk": macs, "params": model.count_params(), "wall_s": wall, "cpu_s": cpu,
                      "rss_after_model_mb": rss_model, "peak_rss_mb": peak_rss_own_mb()}))


# ----------------------------------------------------------------------------------------------
# The parent: file, subprocesses, table


def machine_info():
    import platform

    return {"cpu_count": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def result_table(results, audio_s: float, baseline=None):
    base = {(r["outputs"], r["batch_size"]): r for r in (baseline or {}).get("results", [])}
    header = ["outputs", "batch", "chunks", "frames", "GMACs/chunk", "wall s", "CPU s", "audio s / wall s",
              "audio s / CPU s", "frames / wall s", "RSS after model MiB", "peak RSS MiB"]
    if baseline:
        header += ["wall vs baseline", "CPU vs baseline"]
    rows = []
    for r in results:
        row = [r["outputs"], r["batch_size"], r["chunks"], f"{r['frames']:,}", f"{r['macs_per_chunk'] / 1e9:.1f}",
               f"{r['wall_s']:.1f}", f"{r['cpu_s']:.1f}", f"{audio_s / r['wall_s']:.2f}", f"{audio_s / r['cpu_s']:.2f}",
               f"{r['frames'] / r['wall_s']:.0f}", f"{r['rss_after_model_mb']:.0f}", f"{r['peak_rss_mb']:.0f}"]
        if baseline:
            old = base.get((r["outputs"], r["batch_size"]))
            row += ([f"{old['wall_s'] / r['wall_s']:.2f}x", f"{old['cpu_s'] / r['cpu_s']:.2f}x"] if old
                    else ["n/a", "n/a"])
        rows.append(row)
    return table(header, rows)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the file (default 10)")
    parser.add_argument("--file-rate", type=int, default=32000, help="sample rate of the file (default 32000, the "
                                                                     "model's: no resampling)")
    parser.add_argument("--outputs", nargs="+", choices=OUTPUTS, default=list(OUTPUTS),
                        help="full: the whole model; frames: only the frame activity (no decoder)")
    parser.add_argument("--batch-size", type=int, default=8, help="10-s chunks per call (default 8)")
    parser.add_argument("--repeats", type=int, default=1, help="timed passes over the file, best kept (default 1)")
    parser.add_argument("--tmpdir", help="where to write the file (default: the system's temporary folder)")
    parser.add_argument("--json", help="save the results here")
    parser.add_argument("--baseline", help="a JSON of an earlier run to compare with")
    parser.add_argument("--child", nargs=2, metavar=("OUTPUTS", "WAV"), help=argparse.SUPPRESS)  # internal
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.batch_size < 1 or args.repeats < 1 or args.file_rate < 1:
        parser.error("--minutes must be positive; --batch-size, --repeats and --file-rate at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        child(args.child[1], args.child[0], args.batch_size, args.repeats)
        return 0
    info = machine_info()
    baseline = announce(info, args.baseline)
    results = []
    with tempfile.TemporaryDirectory(prefix="kaudio_bench_sed_", dir=args.tmpdir) as tmp:
        path = Path(tmp) / f"long_{args.minutes:g}min.wav"
        progress(f"writing a {args.minutes:g}-min WAV at {args.file_rate} Hz …")
        audio_s = write_long_wav(path, args.minutes, args.file_rate) / args.file_rate
        for outputs in args.outputs:
            progress(f"{SPEC}, outputs {outputs}: a subprocess builds, warms up and runs {args.repeats} pass(es) …")
            cmd = [sys.executable, os.path.abspath(__file__), "--child", outputs, str(path),
                   "--batch-size", str(args.batch_size), "--repeats", str(args.repeats)]
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True,
                                  env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            if proc.returncode != 0:
                raise SystemExit(f"the {outputs} subprocess failed ({proc.returncode})")
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"\nFrame-level inference: {SPEC} (random weights), a {args.minutes:g}-min file at {args.file_rate} Hz in "
          f"10-s chunks, batch {args.batch_size}, best of {args.repeats} pass(es); load average "
          f"{info['load_average'][0]:.1f} → {info['load_average_end'][0]:.1f}\n")
    print(result_table(results, audio_s, baseline), flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": info, "settings": {k: v for k, v in vars(args).items()
                                                     if k not in ("json", "baseline", "child")},
                       "audio_s": audio_s, "results": results}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
