"""Shared test fixtures. Media fixtures come from ../shared/data/fixtures (beside the clone)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "data" / "fixtures"


@pytest.fixture(autouse=True)
def _seeded():
    """Random weights (there are no pretrained weights in CI) are the same in every run."""
    import keras

    keras.utils.set_random_seed(1234)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"test media not found at {FIXTURES}; the shared/ folder must sit beside the clone")
    return FIXTURES


@pytest.fixture
def write_spec(tmp_path):
    """Write a YAML text to tmp_path/name and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def tiny_audio_spec(**overrides) -> dict:
    """A small, fast audio spec (mel front end, narrow L3 trunk) for unit tests."""
    spec = {
        "name": "tiny",
        "description": "tiny test model",
        "input": {"type": "audio", "sample_rate": 8000, "samples": 4000, "channels": 1},
        "frontend": {"type": "mel", "n_fft": 256, "hop_length": 128, "n_mels": 32, "padding": "same"},
        "backbone": {"type": "l3_audio", "filters": [4, 8]},
        "head": {"type": "embedding_pool", "embedding_size": 128, "pool_sizes": {128: [4, 4], 8: [16, 16]}},
    }
    for key, value in overrides.items():
        spec[key] = value
    return spec


def tiny_tagging_spec(head: dict, **sections) -> dict:
    """:func:`tiny_audio_spec` with a test-only backbone giving a (batch, 16) embedding, for the heads
    that read one (hierarchical heads, tagger, classifier)."""
    from tests.helpers import register_tiny_backbone

    register_tiny_backbone("tiny_embedding", "global", 16)
    return tiny_audio_spec(backbone={"type": "tiny_embedding"}, head=head, **sections)


TINY_MODEL = "tiny_test_model"


@pytest.fixture
def tiny_model(monkeypatch):
    """A registered embedding model: 8 kHz, 0.5-s windows (4000 samples), mel front end with openl3
    dB, 128- or 8-d embeddings — so embedding tests take milliseconds per window."""
    from kaudio.embedding import models

    spec = tiny_audio_spec()
    spec["frontend"] = {**spec["frontend"], "decibel": "openl3"}
    info = models.EmbeddingModelInfo(TINY_MODEL, "audio", spec, (), "no_such_weights", "mel32", "test")
    monkeypatch.setitem(models.MODELS, TINY_MODEL, info)
    yield TINY_MODEL
    models.clear_cache()
