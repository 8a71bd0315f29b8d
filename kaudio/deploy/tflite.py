"""TensorFlow Lite export of a kaudio model, its numerical check and its CPU latency.

Conversion path (Keras 3.13 on TensorFlow 2.17): ``model.export(dir, format="tf_saved_model",
input_signature=[batch-1 TensorSpec])`` then ``tf.lite.TFLiteConverter.from_saved_model``.
``TFLiteConverter.from_keras_model`` does not take Keras 3 models, and a concrete function of a
Keras 3 model fails while freezing its variables ("missing attribute 'value'" on ReadVariableOp);
a dynamic batch axis leaves unknown channel counts that send even ``Conv2D`` to TF Select, so the
batch is fixed to 1 (one clip per call, what an on-device tagger runs).

What converts (measured with TF 2.17):

* ``input="features"`` — the network from the front end's output (log-mel ``(time, mel, 1)``) to
  the head's output: TFLite builtin ops only, runs on any TFLite runtime. The front end is then a
  separate step (the same STFT / mel / dB settings, e.g. ``model.frontend`` in Python or the
  device's DSP).
* ``input="waveform"`` (the whole model, the default) — needs TF Select ("Flex") for one op:
  kapre 0.4.1's STFT transposes its complex ``tf.signal.stft`` output, and TFLite has no complex
  ``Transpose``; everything else (frames, RFFT, mel matmul, log) is builtin. The converter first
  tries builtins only and falls back to ``SELECT_TF_OPS``, recording the ops that needed it
  (:attr:`TFLiteExport.select_ops`). ``tf.lite.Interpreter`` from the ``tensorflow`` wheel runs
  Flex ops; a bare ``tflite-runtime`` does not.

Quantisation: ``"float32"`` or ``"dynamic_int8"`` (dynamic-range: int8 weights, float
activations; ``optimizations=[tf.lite.Optimize.DEFAULT]`` with no representative data).

The converter and the interpreter write their diagnostics (MLIR errors of the builtins-only
attempt, delegate notices) straight to the process's stderr from C++; :func:`convert` and
:func:`interpreter` hold them back unless ``quiet=False``.
"""
from __future__ import annotations

import contextlib
import os
import re
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kaudio.errors import KaudioError

QUANTIZATIONS = ("float32", "dynamic_int8")
INPUTS = ("waveform", "features")


@dataclass(frozen=True)
class TFLiteExport:
    """One written ``.tflite`` file.

    Attributes:
        path: the file.
        size_bytes: its size.
        quantization: ``"float32"`` or ``"dynamic_int8"``.
        input: ``"waveform"`` (the whole model) or ``"features"`` (front-end output onwards).
        input_shape: the interpreter's input shape (batch 1).
        select_ops: TensorFlow ops run through TF Select (Flex); empty when only builtins are used.
    """

    path: Path
    size_bytes: int
    quantization: str
    input: str
    input_shape: tuple[int, ...]
    select_ops: tuple[str, ...] = ()


@dataclass(frozen=True)
class Latency:
    """CPU latency of one interpreter call (one clip), from ``runs`` timed calls after ``warmup`` untimed ones."""

    median_ms: float
    min_ms: float
    runs: int
    threads: int


def export_model(model, input: str = "waveform"):
    """The Keras model to convert: ``model`` itself, or ``head(backbone(features))`` for ``input="features"``."""
    import keras

    if input not in INPUTS:
        raise KaudioError(f"input must be one of {', '.join(INPUTS)}, got {input!r}")
    if input == "waveform" or getattr(model, "frontend", None) is None:
        return model
    features = keras.Input(tuple(model.backbone.inputs[0].shape[1:]), name="features")
    outputs = model.backbone(features)
    if getattr(model, "head", None) is not None:
        outputs = model.head(outputs)
    return keras.Model(features, outputs, name=f"{model.name}_from_features")


@contextlib.contextmanager
def native_stderr_silenced(quiet: bool = True):
    """Send what native code writes to file descriptor 2 to a temporary file while the block runs."""
    if not quiet:
        yield
        return
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def convert(model, path: "str | os.PathLike", quantization: str = "float32", input: str = "waveform",
            quiet: bool = True) -> TFLiteExport:
    """Convert ``model`` (a single-input kaudio model) to a ``.tflite`` file at ``path`` (module docstring).

    Raises:
        KaudioError: an unknown quantisation or input, a model with several inputs, or a conversion failure
            (the converter's message, shortened).
    """
    import tensorflow as tf

    if quantization not in QUANTIZATIONS:
        raise KaudioError(f"quantization must be one of {', '.join(QUANTIZATIONS)}, got {quantization!r}")
    exported = export_model(model, input)
    if len(exported.inputs) != 1:
        raise KaudioError(f"TFLite export takes a model with one input; {model.name} has {len(exported.inputs)}")
    shape = (1,) + tuple(exported.inputs[0].shape[1:])
    if any(size is None for size in shape):
        raise KaudioError(f"TFLite export needs a fixed input shape, {model.name} takes {shape} (set the spec's "
                          "input duration)")
    with tempfile.TemporaryDirectory(prefix="kaudio_tflite_") as saved:
        exported.export(saved, format="tf_saved_model", verbose=False,
                        input_signature=[tf.TensorSpec(shape, tf.float32)])
        select_ops: tuple[str, ...] = ()
        with native_stderr_silenced(quiet):
            try:
                content = _convert(saved, quantization, select=False)
            except Exception as err:  # noqa: BLE001  the converter raises ConverterError and others, no common base
                select_ops = _select_ops(str(err))
                if not select_ops:
                    raise KaudioError(f"TFLite conversion of {model.name} failed: {_short(str(err))}") from err
                content = _convert(saved, quantization, select=True)
    path = Path(path)
    path.write_bytes(content)
    return TFLiteExport(path, len(content), quantization, input, shape, select_ops)


def _convert(saved_model: str, quantization: str, select: bool) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    if select:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    if quantization == "dynamic_int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def _select_ops(message: str) -> tuple[str, ...]:
    """The ops the converter says need TF Select (``TF Select ops: Transpose, ...``), or ``()``."""
    found = re.search(r"TF Select ops: ([^\n]+)", message)
    return tuple(op.strip() for op in found.group(1).split(",")) if found else ()


def _short(message: str, limit: int = 400) -> str:
    line = " ".join(message.split())
    return line if len(line) <= limit else line[:limit] + " …"


def interpreter(path: "str | os.PathLike", threads: int = 1, quiet: bool = True):
    """A ``tf.lite.Interpreter`` with its tensors allocated (TF Select ops run through the Flex delegate)."""
    import tensorflow as tf

    with native_stderr_silenced(quiet):
        try:
            runner = tf.lite.Interpreter(model_path=str(path), num_threads=threads)
            runner.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise KaudioError(f"cannot load {path} as a TFLite model: {_short(str(err))}") from err
    return runner


def run(path: "str | os.PathLike", examples: np.ndarray, threads: int = 1) -> np.ndarray:
    """The TFLite model's outputs for ``examples`` (one interpreter call per example; batch 1 models)."""
    runner = interpreter(path, threads)
    source, target = runner.get_input_details()[0], runner.get_output_details()[0]
    outputs = []
    for example in np.asarray(examples, np.float32):
        runner.set_tensor(source["index"], example[None])
        runner.invoke()
        outputs.append(runner.get_tensor(target["index"])[0].copy())
    return np.stack(outputs)


def measure_latency(path: "str | os.PathLike", threads: int = 1, runs: int = 20, warmup: int = 3,
                    seed: int = 0) -> Latency:
    """Median and minimum wall time of one ``invoke()`` on a random input of the model's shape."""
    runner = interpreter(path, threads)
    source = runner.get_input_details()[0]
    example = np.random.default_rng(seed).standard_normal(source["shape"]).astype(np.float32) * 0.1
    times = []
    for i in range(warmup + runs):
        runner.set_tensor(source["index"], example)
        start = time.perf_counter()
        runner.invoke()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000.0)
    return Latency(statistics.median(times), min(times), runs, threads)


def keras_inputs(model, input: str = "waveform", count: int = 2, seed: int = 0) -> np.ndarray:
    """Random test inputs for :func:`run` and the Keras model: noise waveforms (×0.1), or their front-end
    output for ``input="features"``."""
    shape = tuple(model.inputs[0].shape[1:])
    waves = (np.random.default_rng(seed).standard_normal((count,) + shape) * 0.1).astype(np.float32)
    if input == "features" and getattr(model, "frontend", None) is not None:
        return np.asarray(model.frontend(waves))
    return waves
