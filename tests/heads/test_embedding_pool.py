import numpy as np
import pytest

import kaudio
from kaudio.errors import SpecError
from kaudio.heads import GridMaxPoolEmbedding
from tests.conftest import tiny_audio_spec
from tests.helpers import keras_round_trip


def test_pooling_and_channels_last_flatten_order(tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 32, 24, 3)).astype("float32")
    out, loaded = keras_round_trip(GridMaxPoolEmbedding((8, 8)), x, tmp_path)
    pooled = x.reshape(2, 4, 8, 3, 8, 3).max(axis=(2, 4))  # (2, 4, 3, C)
    np.testing.assert_array_equal(out, pooled.reshape(2, -1))
    assert loaded.output.shape[-1] == 4 * 3 * 3


def test_same_padding_for_non_divisible_maps():
    out = GridMaxPoolEmbedding((4, 4))(np.ones((1, 6, 5, 2), "float32"))
    assert out.shape == (1, 2 * 2 * 2)


def test_builder_rejects_pools_that_do_not_give_the_embedding_size():
    spec = tiny_audio_spec(head={"type": "embedding_pool", "embedding_size": 128, "pool_sizes": {128: [2, 2]}})
    with pytest.raises(SpecError) as info:
        kaudio.build(spec)
    (problem,) = info.value.problems
    assert problem.path == "head.pool_sizes.128" and "gives" in problem.message and "not embedding_size 128" in problem.message
