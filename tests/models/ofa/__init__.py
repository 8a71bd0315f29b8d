"""Helpers for the once-for-all tests: a tiny supernet spec (1 s at 16 kHz, 16 mel bins, narrow blocks) and a way
to make its BatchNorm statistics and γ/β non-trivial, so that equalities between models are not vacuous."""
from __future__ import annotations

import numpy as np

TINY_FILTERS = [8, 16, 16, 32]


def tiny_ofa_spec(head: bool = True, num_classes: int = 5, **backbone) -> dict:
    spec = {
        "name": "tiny_ofa",
        "description": "tiny once-for-all supernet for tests",
        "input": {"type": "audio", "sample_rate": 16000, "samples": 16000, "channels": 1},
        "frontend": {"type": "mel", "preset": "panns_16k", "n_mels": 16},
        "backbone": {"type": "ofa_cnn", "filters": list(TINY_FILTERS), "embedding_size": 32, **backbone},
    }
    if head:
        spec["head"] = {"type": "tagger", "num_classes": num_classes}
    return spec


def randomize_statistics(model, seed: int = 0) -> None:
    """BN γ/β/moving statistics and biases drawn at random (a fresh model has γ=1, β=0, mean 0, variance 1)."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        shape = tuple(weight.shape)
        if weight.name == "gamma":
            weight.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
        elif weight.name in ("beta", "moving_mean", "bias"):
            weight.assign(rng.normal(0.0, 0.3, shape).astype("float32"))
        elif weight.name == "moving_variance":
            weight.assign(rng.uniform(0.5, 2.0, shape).astype("float32"))


def waveforms(count: int = 3, samples: int = 16000, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((count, samples, 1)) * 0.1).astype("float32")
