"""TFLite export: the whole model (one TF Select op: kapre's complex transpose) and from the log-mel features
(builtins only), float32 equal to Keras, dynamic-range int8 smaller, latency measured, errors."""
import numpy as np
import pytest

import kaudio
from kaudio.deploy import tflite
from kaudio.errors import KaudioError
from tests.models.panns import tiny_panns_spec


@pytest.fixture(scope="module")
def model():
    spec = tiny_panns_spec(filters=(4, 8), samples=8000)
    spec["frontend"]["n_mels"] = 16
    return kaudio.build(spec)


@pytest.mark.parametrize("input_kind, select_ops", [("waveform", ("Transpose",)), ("features", ())])
def test_float32_export_matches_keras(model, tmp_path, input_kind, select_ops):
    export = tflite.convert(model, tmp_path / "m.tflite", input=input_kind)
    assert export.select_ops == select_ops and export.size_bytes == (tmp_path / "m.tflite").stat().st_size
    examples = tflite.keras_inputs(model, input_kind, count=2)
    assert export.input_shape == (1,) + examples.shape[1:]
    expected = np.asarray(tflite.export_model(model, input_kind)(examples))
    np.testing.assert_allclose(tflite.run(export.path, examples), expected, atol=1e-5)
    if input_kind == "waveform":
        np.testing.assert_allclose(expected, model.predict(examples, verbose=0), atol=1e-6)


def test_dynamic_range_int8_is_smaller_and_close(tmp_path):
    spec = tiny_panns_spec(filters=(8, 32), embedding_size=64, samples=8000)  # weights of >= 1024 values get int8
    spec["frontend"]["n_mels"] = 16
    model = kaudio.build(spec)
    float32 = tflite.convert(model, tmp_path / "f.tflite", input="features")
    int8 = tflite.convert(model, tmp_path / "q.tflite", "dynamic_int8", input="features")
    assert int8.quantization == "dynamic_int8" and int8.size_bytes < float32.size_bytes
    examples = tflite.keras_inputs(model, "features")
    difference = np.abs(tflite.run(int8.path, examples) - tflite.run(float32.path, examples)).max()
    assert 0 < difference < 0.05


def test_latency(model, tmp_path):
    export = tflite.convert(model, tmp_path / "m.tflite")
    latency = tflite.measure_latency(export.path, threads=1, runs=3, warmup=1)
    assert latency.runs == 3 and latency.threads == 1 and 0 < latency.min_ms <= latency.median_ms


def test_errors(model, tmp_path):
    with pytest.raises(KaudioError, match="quantization must be one of float32, dynamic_int8"):
        tflite.convert(model, tmp_path / "m.tflite", "int4")
    with pytest.raises(KaudioError, match="input must be one of waveform, features"):
        tflite.convert(model, tmp_path / "m.tflite", input="mel")
    (tmp_path / "junk.tflite").write_bytes(b"not a flatbuffer")
    with pytest.raises(KaudioError, match="cannot load .*junk.tflite as a TFLite model"):
        tflite.interpreter(tmp_path / "junk.tflite")
