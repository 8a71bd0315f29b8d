"""Embedding models under a dtype policy: built once per policy, float32 embeddings close to float32 mode."""
import numpy as np
import pytest

import kaudio
from kaudio.embedding.models import load_embedding_model
from kaudio.errors import KaudioError

SR = 8000  # the tiny model's rate


def cosine_rows(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_models_are_cached_per_policy(tiny_model):
    plain = load_embedding_model(tiny_model, 8, None)
    mixed = load_embedding_model(tiny_model, 8, None, dtype_policy="mixed_bfloat16")
    assert mixed is not plain and load_embedding_model(tiny_model, 8, None, dtype_policy="mixed_bfloat16") is mixed
    assert load_embedding_model(tiny_model, 8, None, dtype_policy="float32") is plain
    assert mixed.backbone.dtype_policy.name == "mixed_bfloat16" and plain.backbone.dtype_policy.name == "float32"
    assert {v.dtype for v in mixed.weights} == {"float32"}
    assert mixed.frontend.filterbank_layers[0].dtype_policy.name == "float32"  # the spec's precision
    with pytest.raises(KaudioError, match="unknown dtype policy 'bf16'.*valid policies: float32, mixed_bfloat16"):
        load_embedding_model(tiny_model, 8, None, dtype_policy="bf16")


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_mixed_bfloat16_embeddings_are_float32_and_close(tiny_model, tmp_path, mode):
    weights = tmp_path / "tiny.weights.h5"
    load_embedding_model(tiny_model, 128, None).backbone.save_weights(weights)
    x = np.random.default_rng(0).standard_normal(int(2.5 * SR)).astype(np.float32) * 0.1
    reference, ts = kaudio.embed(x, SR, model=tiny_model, embedding_size=128, weights=str(weights), mode=mode)
    mixed, ts_mixed = kaudio.embed(x, SR, model=tiny_model, embedding_size=128, weights=str(weights), mode=mode,
                                   dtype_policy="mixed_bfloat16")
    assert mixed.dtype == np.float32 and mixed.shape == reference.shape and np.array_equal(ts, ts_mixed)
    assert not np.array_equal(mixed, reference)  # the network did run in bfloat16
    assert cosine_rows(mixed, reference).min() > 0.99
