"""Describe your own model as data, validate it, build it and look at its card.

    python examples/custom_spec.py

A smaller L3-style network on 16 kHz audio with a PANNs-like log-mel front end, built from a
plain dict (a YAML file works the same: ``kaudio.build("my_spec.yaml")``).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import kaudio  # noqa: E402

SPEC = {
    "name": "small_l3_16k",
    "description": "L3 trunk with half the channels on 2 s of 16 kHz audio",
    "input": {"type": "audio", "sample_rate": 16000, "duration": 2.0},
    "frontend": {"type": "mel", "n_fft": 512, "hop_length": 160, "n_mels": 64, "f_min": 50.0, "f_max": 8000.0,
                 "padding": "center", "pad_mode": "reflect", "spectrum_power": 2.0, "decibel": "power_to_db",
                 "db_top": None},
    "backbone": {"type": "l3_audio", "filters": [32, 64, 128, 256]},
    "head": {"type": "embedding_pool", "embedding_size": 256, "pool_sizes": {256: [8, 25], 3072: [2, 9]}},
}

if __name__ == "__main__":
    try:
        kaudio.load_spec(SPEC, ["head.embedding_size=1024"])
    except kaudio.SpecError as err:  # every problem, with its path
        print(err, "\n")
    model = kaudio.build(SPEC)
    print(kaudio.model_card(model).to_text())
    audio = np.random.default_rng(0).standard_normal((4, 32000, 1)).astype("float32") * 0.1
    print("embeddings:", model.predict(audio, verbose=0).shape)
