"""Benchmark training throughput: the hierarchical taggers (PANNs CNN10 / CNN14 + ResAtt head) and
the 2APAE weakly labelled SED model.

Setting (the training set-up of Zhong et al.'s hierarchical tagging): the paper's input — 10 s
of 16 kHz mono audio through the ``panns_16k`` log-mel front end (64 mels, hop 160) — a
``panns_cnn`` backbone (preset ``cnn10`` or ``cnn14``), the ``resatt`` head on the bundled
OpenMIC tone hierarchy, the masked λ-BCE loss, AdamW with the warm-up schedule and kapre
SpecAugment (``--no-spec-augment`` turns it off): exactly the train step :func:`kaudio.fit` runs,
built by the same trainer hooks (``train.type: supervised``, :mod:`kaudio.training.trainer`:
``build_model``, ``training_model``, ``optimizer``).

``--models sed_2apae``: the bundled ``sed_2apae`` spec (Deshmukh et al.'s 2APAE: 10 s at 32 kHz,
the ``2apae`` log-mel with 64 bins and 311 frames, the ``seg_encoder`` backbone, which never
down-samples, two-step attention + decoder, 41 classes) trained by the ``sed`` trainer
(``train.type: sed``): its hooks build the model, fit the front end's standardisation on the
batch (``prepare``), wrap it (BCE + 0.001 · MSE of the reconstruction) and give Adam. The paper's
batch is 24. Its step is much heavier than the taggers' (no down-sampling: every convolution runs
on all 311 × 64 positions), so it defaults to 1 warm-up and 2 timed steps.

Data: random audio (Gaussian, σ 0.1) and random labels (taggers: fine labels, coarse by the max
rule, every entry known; SED: multi-hot clip labels, p = 0.1), one batch of ``--batch-size``
(16 for the taggers, 24 for sed_2apae) reused, so no input pipeline is timed. For each model,
each XLA setting (``--jit off on``: ``compile(jit_compile=...)``) and each dtype policy,
``--warmup`` (2; sed_2apae 1) untimed steps (the first traces / compiles) are followed by
``--steps`` (5; sed_2apae 2) timed ``train_on_batch`` calls. Reported: seconds per step (median
and best; wall clock, and CPU time summed over all cores, which is steadier on a shared machine),
training examples per second (from the median step), parameters, the time of the first step, and
the loss of the initial network in inference mode (``test_on_batch``: no dropout or augmentation, so policies compare).
All weights are random.

Dtype policy (``--dtype-policy mixed_bfloat16``; Keras mixed-precision guide,
https://keras.io/guides/mixed_precision/): every configuration also runs with the model built
under that policy, as ``train.dtype_policy`` does in :func:`kaudio.fit`
(:func:`kaudio.dtypes.dtype_policy_scope`), starting from the float32 run's initial weights; a
ratio column gives its speed relative to float32. bfloat16 keeps float32's exponent range, so no
loss scaling is needed.

Run (from the repository root)::

    .venv/bin/python benchmarks/train_throughput.py                          # cnn10 + cnn14, XLA off/on
    .venv/bin/python benchmarks/train_throughput.py --models cnn10 --steps 2 --jit off
    .venv/bin/python benchmarks/train_throughput.py --models cnn10 cnn14 --jit off --dtype-policy mixed_bfloat16
    .venv/bin/python benchmarks/train_throughput.py --models sed_2apae --jit off        # batch 24, 2 timed steps
    .venv/bin/python benchmarks/train_throughput.py --json new.json --baseline old.json

The first printed line is the machine info; a markdown table follows on stdout; progress goes
to stderr. ``--json PATH`` saves the results; ``--baseline PATH`` (a JSON from an earlier run)
adds a ratio column (this run's examples/s ÷ the baseline's). Nothing asserts on any number.
CPU threads: TensorFlow's defaults (all cores); set ``TF_NUM_INTEROP_THREADS`` /
``TF_NUM_INTRAOP_THREADS`` to pin them.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import kaudio  # noqa: E402
from common import announce, progress  # noqa: E402  (benchmarks/common.py)
from kaudio.hierarchy import Hierarchy  # noqa: E402
from kaudio.spec import load_spec  # noqa: E402

SR = 16000
SECONDS = 10.0
FLOAT32 = "float32"
SED_MODEL = "sed_2apae"
#: Per model: (batch size, timed steps, warm-up steps) used when the command line gives none.
DEFAULTS = {"cnn10": (16, 5, 2), "cnn14": (16, 5, 2), SED_MODEL: (24, 2, 1)}


def benchmark_spec(preset: str, spec_augment: bool = True) -> dict:
    return {
        "name": f"bench_{preset}_resatt",
        "description": f"PANNs {preset} + ResAtt on OpenMIC tone families (throughput benchmark)",
        "input": {"type": "audio", "sample_rate": SR, "duration": SECONDS, "channels": 1},
        "frontend": {"type": "mel", "preset": "panns_16k"},
        "backbone": {"type": "panns_cnn", "preset": preset},
        "head": {"type": "resatt", "hierarchy": "openmic_tone"},
        "loss": {"type": "hierarchical_bce", "fine_weight": 0.8},
        "train": {"type": "supervised", "spec_augment": {"enabled": spec_augment}},
    }


def load_benchmark_spec(model: str, spec_augment: bool = True):
    """The validated spec of ``model``: a PANNs preset + ResAtt, or the bundled sed_2apae spec with
    ``train: {type: sed}``."""
    if model == SED_MODEL:
        return load_spec(SED_MODEL, defaults={"train": {"type": "sed"}})
    return load_spec(benchmark_spec(model, spec_augment))


def random_batch(spec, batch_size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    samples = spec.input["samples"]
    if spec.train["type"] == "sed":  # weak (clip) labels of the SED trainer
        audio = (0.1 * rng.standard_normal((batch_size, samples, 1))).astype(np.float32)
        labels = (rng.random((batch_size, spec.head["num_classes"])) < 0.1).astype(np.float32)
        return audio, {"labels": labels, "labels_mask": np.ones_like(labels)}
    hierarchy = Hierarchy.from_mapping(spec.head["hierarchy"])
    audio = (0.1 * rng.standard_normal((batch_size, samples, 1))).astype(np.float32)
    fine = (rng.random((batch_size, hierarchy.n_fine)) < 0.2).astype(np.float32)
    mask = np.ones_like(fine)
    coarse, coarse_mask = hierarchy.coarse_from_fine(fine, mask)
    return audio, {"fine": fine, "coarse": np.asarray(coarse, np.float32), "fine_mask": mask,
                   "coarse_mask": np.asarray(coarse_mask, np.float32)}


def machine_info():
    return {"cpu_count": os.cpu_count(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "python": sys.version.split()[0], "kaudio": getattr(kaudio, "__version__", "?"),
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|---|---|---|" + "---:|" * (len(header) - 3)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def first_conv(layer):
    """The first Conv2D inside ``layer`` (depth first), for the compute / variable dtypes."""
    for sub in getattr(layer, "layers", []):
        if isinstance(sub, keras.layers.Conv2D):
            return sub
        found = first_conv(sub)
        if found is not None:
            return found
    return None


def settings_for(model: str, args) -> tuple[int, int, int]:
    """(batch size, timed steps, warm-up steps): the command line's, else the model's defaults."""
    batch, steps, warmup = DEFAULTS[model]
    return (args.batch_size or batch, args.steps or steps, warmup if args.warmup is None else args.warmup)


def measure(preset: str, jit: bool, policy: str, args, initial_weights=None) -> tuple[dict, list]:
    """Time ``train_on_batch`` of the trainer's model built under ``policy``; returns (result, initial weights)."""
    from kaudio.dtypes import dtype_policy_scope
    from kaudio.training.trainer import trainer_for

    keras.utils.set_random_seed(0)
    batch_size, steps, warmup = settings_for(preset, args)
    spec = load_benchmark_spec(preset, args.spec_augment)
    trainer = trainer_for(spec)
    audio, targets = random_batch(spec, batch_size)
    x, y = tf.constant(audio), {k: tf.constant(v) for k, v in targets.items()}
    with dtype_policy_scope(policy):  # as kaudio.fit does with train.dtype_policy
        model = trainer.build_model()
        if initial_weights is not None:
            model.set_weights(initial_weights)
        # the trainer's preparation (sed: the standardisation fitted on the "training set", here the batch)
        trainer.prepare(model, None, resuming=initial_weights is not None, verbose=0, train_ds=[(x, y)])
        initial_weights = model.get_weights()
        wrapper = trainer.training_model(model)
        wrapper.compile(optimizer=trainer.optimizer(100), jit_compile=jit)
    initial_loss = float(np.ravel(wrapper.test_on_batch(x, y))[0])  # no dropout / augmentation: comparable
    start = time.perf_counter()
    wrapper.train_on_batch(x, y)
    first = time.perf_counter() - start
    progress(f"  {preset} jit={'on' if jit else 'off'} {policy} first step: {first:.2f} s")
    for _ in range(max(warmup - 1, 0)):
        wrapper.train_on_batch(x, y)
    times, cpu_times = [], []
    for step in range(steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        loss = wrapper.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
        progress(f"  {preset} jit={'on' if jit else 'off'} {policy} step {step + 1}/{steps}: {times[-1]:.2f} s")
    loss = float(np.ravel(loss)[0])
    if not np.isfinite(loss):
        raise SystemExit(f"{preset} {policy}: the loss is not finite ({loss})")
    median = statistics.median(times)
    conv = first_conv(model.backbone)
    return {"model": SED_MODEL if preset == SED_MODEL else f"{preset}+resatt", "jit": "on" if jit else "off",
            "dtype_policy": policy, "input": f"{spec.input['duration']:g} s @ {spec.input['sample_rate'] // 1000} kHz",
            "compute_dtype": conv.compute_dtype, "variable_dtype": conv.kernel.dtype, "params": model.count_params(),
            "batch_size": batch_size, "steps": steps, "first_step_s": first, "median_step_s": median,
            "best_step_s": min(times), "cpu_s_per_step": statistics.median(cpu_times),
            "examples_per_s": batch_size / median, "initial_loss": initial_loss, "loss": loss}, initial_weights


def result_table(results, baseline=None):
    key = lambda r: (r["model"], r["jit"], r.get("dtype_policy", FLOAT32))  # noqa: E731
    base = {key(r): r for r in (baseline or {}).get("results", [])}
    float32 = {(r["model"], r["jit"]): r for r in results if r["dtype_policy"] == FLOAT32}
    policies = len({r["dtype_policy"] for r in results}) > 1
    header = ["model", "XLA", "policy", "input", "params", "batch", "first step (s)", "s/step median", "s/step best",
              "CPU s/step", "examples/s", "initial loss"]
    if policies:
        header += ["speed vs float32", "CPU vs float32"]
    if baseline:
        header.append("vs baseline")
    rows = []
    for r in results:
        row = [r["model"], r["jit"], r["dtype_policy"], r.get("input", f"{SECONDS:g} s @ {SR // 1000} kHz"),
               f"{r['params']:,}", r["batch_size"], f"{r['first_step_s']:.1f}",
               f"{r['median_step_s']:.2f}", f"{r['best_step_s']:.2f}", f"{r['cpu_s_per_step']:.2f}",
               f"{r['examples_per_s']:.2f}", f"{r['initial_loss']:.5f}"]
        if policies:
            ref = float32.get((r["model"], r["jit"]))
            row += [f"{r['examples_per_s'] / ref['examples_per_s']:.2f}x", f"{r['cpu_s_per_step'] / ref['cpu_s_per_step']:.2f}"] \
                if ref else ["n/a", "n/a"]
        if baseline:
            old = base.get(key(r))
            row.append(f"{r['examples_per_s'] / old['examples_per_s']:.2f}x" if old else "n/a")
        rows.append(row)
    return table(header, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["cnn10", "cnn14"], choices=list(DEFAULTS),
                        help="cnn10 / cnn14 (+ ResAtt, supervised trainer), sed_2apae (sed trainer)")
    parser.add_argument("--jit", nargs="+", default=["off", "on"], choices=["off", "on"], help="XLA settings")
    parser.add_argument("--dtype-policy", help="also train under this Keras dtype policy (e.g. mixed_bfloat16) and "
                                               "compare it with float32")
    parser.add_argument("--batch-size", type=int, help="default: 16 (cnn10, cnn14), 24 (sed_2apae)")
    parser.add_argument("--steps", type=int, help="timed steps per setting (default: 5; sed_2apae 2)")
    parser.add_argument("--warmup", type=int, help="untimed steps first, the first compiles (default: 2; sed_2apae 1)")
    parser.add_argument("--no-spec-augment", dest="spec_augment", action="store_false")
    parser.add_argument("--json", help="save the results here")
    parser.add_argument("--baseline", help="a JSON of an earlier run to compare with")
    args = parser.parse_args(argv)
    if (args.steps is not None and args.steps < 1) or (args.batch_size is not None and args.batch_size < 1):
        parser.error("--steps and --batch-size must be >= 1")
    if args.warmup is not None and args.warmup < 0:
        parser.error("--warmup must be >= 0")
    from kaudio.dtypes import policy_name

    policies = [FLOAT32] + [name for name in [policy_name(args.dtype_policy or FLOAT32)] if name != FLOAT32]
    info = machine_info()
    baseline = announce(info, args.baseline)
    results = []
    for preset in args.models:
        for jit in args.jit:
            weights = None  # the float32 run's initial weights, given to the other policies
            for policy in policies:
                label = preset if preset == SED_MODEL else f"{preset} + resatt"
                progress(f"{label}, XLA {jit}, {policy}: building and compiling …")
                result, weights = measure(preset, jit == "on", policy, args, weights)
                results.append(result)
    batches = sorted({r["batch_size"] for r in results})
    print(f"\nTraining throughput: batch {', '.join(map(str, batches))}, SpecAugment (taggers) "
          f"{'on' if args.spec_augment else 'off'}, random data\n")
    print(result_table(results, baseline), flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": info, "settings": {k: v for k, v in vars(args).items() if k not in ("json", "baseline")},
                       "results": results}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
