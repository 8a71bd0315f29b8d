"""The global_pool head: a feature map → one vector (the L3 audio-visual towers end with it)."""
import numpy as np
import pytest

import kaudio
from kaudio.errors import SpecError
from kaudio.heads.pooling import GlobalPoolHead
from tests.conftest import tiny_audio_spec
from tests.helpers import keras_round_trip


@pytest.mark.parametrize("mode, reduce", [("max", np.max), ("avg", np.mean)])
def test_pools_every_position(mode, reduce, tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 5, 7, 3)).astype("float32")
    layer = GlobalPoolHead.from_spec({"mode": mode}, (5, 7, 3), name="pool")
    out, _ = keras_round_trip(layer, x, tmp_path)
    np.testing.assert_allclose(out, reduce(x, axis=(1, 2)), rtol=1e-6)
    x1 = x[:, 0]  # (time, channels)
    np.testing.assert_allclose(GlobalPoolHead.from_spec({"mode": mode}, (7, 3))(x1), reduce(x1, axis=1), rtol=1e-6)


def test_shape_at_validation_and_bad_input():
    spec = kaudio.load_spec(tiny_audio_spec(head={"type": "global_pool"}))
    assert spec.shapes["head"] == (8,)
    assert GlobalPoolHead.spec_output_shape({"mode": "max"}, (4,))[1][0][1].startswith("global_pool needs")
    with pytest.raises(SpecError, match="expected one of 'max', 'avg'"):
        kaudio.load_spec(tiny_audio_spec(head={"type": "global_pool", "mode": "mean"}))
