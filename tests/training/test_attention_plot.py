"""The Fig. 4-style attention picture."""
import numpy as np
import pytest

import kaudio
from kaudio.errors import InputError
from kaudio.training.attention_plot import attention_outputs, plot_attention
from tests.training import tiny_spec, toy_arrays

FINE, COARSE = ["tone300", "tone700", "tone1800", "tone3000"], ["low", "high"]


def test_writes_a_png(tmp_path):
    attention = np.array([[0.7, 0.1], [0.3, 0.1], [0.0, 0.5], [0.0, 0.3]])
    path = plot_attention(attention, [0.9, 0.1, 0.2, 0.6], [0.8, 0.4], FINE, COARSE, tmp_path / "a.png", title="x")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 300


def test_shape_mismatches_are_explained(tmp_path):
    with pytest.raises(InputError, match="fine tags × coarse tags"):
        plot_attention(np.zeros((2, 4)), np.zeros(4), np.zeros(2), FINE, COARSE, tmp_path / "a.png")
    with pytest.raises(InputError, match="probabilities"):
        plot_attention(np.zeros((4, 2)), np.zeros(3), np.zeros(2), FINE, COARSE, tmp_path / "a.png")


def test_attention_outputs_of_a_resatt_model():
    model = kaudio.build(tiny_spec(head="resatt"))
    audio, _ = toy_arrays(1)
    values = attention_outputs(model, audio[0])
    assert values["attention"].shape == (4, 2) and values["fine"].shape == (4,)
    np.testing.assert_allclose(values["attention"].sum(axis=0), 1.0, rtol=1e-5)  # softmax over the fine axis
    with pytest.raises(InputError, match="output_attention"):
        attention_outputs(kaudio.build(tiny_spec(head="gmp")), audio[0])
