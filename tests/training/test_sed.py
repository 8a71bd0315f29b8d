"""The sed trainer: standardisation fitted on the training split, BCE + α·MSE, best by validation
micro-AP, ReduceLROnPlateau, clip and frame metrics per SNR from events.csv."""
import json

import numpy as np
import pytest
import soundfile as sf

import kaudio
from kaudio.cli.main import main
from kaudio.errors import SpecError
from kaudio.training.fit import training_spec
from kaudio.training.sed import SEDTrainer
from kaudio.training.trainer import trainer_for

SR = 16000
TONES = (400, 900, 2000, 3500)


def spec_dict(head="sed_2apae", **train):
    head_section = {"type": head, "num_classes": 4}
    if head == "sed_2apae":
        head_section.update(decoder_filters=[8, 8, 8, 1], time_mixing="conv")
    return {
        "name": "tiny_sed", "description": "tiny weakly labelled SED model",
        "input": {"type": "audio", "sample_rate": SR, "duration": 2.0, "channels": 1},
        "frontend": {"type": "mel", "preset": "2apae", "n_fft": 512, "win_length": 512, "hop_length": 256,
                     "n_mels": 32, "f_max": 8000.0},
        "backbone": {"type": "seg_encoder", "filters": [4, 8, 8, 8]},
        "head": head_section,
        "train": {"type": "sed", "epochs": 2, "batch_size": 8, **train},
    }


@pytest.fixture(scope="module")
def mixture(tmp_path_factory):
    """A small weak-label set made by kaudio mix: 4 tone classes over noise, 2-s clips, SNR 0/10/20 dB."""
    root = tmp_path_factory.mktemp("sed")
    rng = np.random.default_rng(0)
    for tone in TONES:
        folder = root / "events" / f"tone{tone}"
        folder.mkdir(parents=True)
        for j in range(4):
            t = np.arange(SR // 2) / SR
            sf.write(folder / f"{j}.wav", (0.5 * np.sin(2 * np.pi * tone * t + j)).astype("float32"), SR)
    (root / "bg").mkdir()
    for j in range(4):
        sf.write(root / "bg" / f"{j}.wav", (0.05 * rng.standard_normal(SR * 4)).astype("float32"), SR)
    assert main(["mix", str(root / "events"), str(root / "bg"), "--out", str(root / "set"), "--clips", "32",
                 "--clip-seconds", "2", "--sample-rate", str(SR), "--events-per-clip", "2",
                 "--max-event-seconds", "0.5", "--mono", "--quiet", "--val-fold", "3", "--test-fold", "4"]) == 0
    return root / "set"


def test_sed_needs_a_head_with_frame_outputs():
    spec = spec_dict()
    spec["head"] = {"type": "tagger", "num_classes": 4}
    spec["backbone"] = {"type": "panns_cnn", "filters": [4, 8], "embedding_size": 8}
    spec["frontend"]["layout"] = "time_freq"
    with pytest.raises(SpecError, match="sed training needs a model with clip and frame outputs \\(heads: sed_2apae"):
        kaudio.load_spec(spec)
    assert training_spec(spec_dict()).loss["alpha"] == 1e-3
    assert training_spec(spec_dict(head="sed_gap")).loss["alpha"] == 0.0  # no decoder: no reconstruction term
    assert trainer_for(training_spec(spec_dict())).monitor == ("val_micro_ap", "max")


def test_fit_evaluate_and_the_cli(mixture, tmp_path, capsys):
    import yaml

    spec_path = tmp_path / "tiny_sed.yaml"
    spec_path.write_text(yaml.safe_dump(spec_dict()))
    out = tmp_path / "run"
    assert main(["train", str(spec_path), "--data", str(mixture), "--out", str(out), "-q"]) == 0
    captured = capsys.readouterr()
    assert "standardisation fitted on the training split: 32 bins" in captured.out
    assert "| Method | Clips | Runs | Micro-AP | Macro-AP | ROC-AUC | Segment F1 | Segment ER | Event F1 |" in captured.out
    for level in ("all", "20 dB", "10 dB", "0 dB"):
        assert f"| sed_2apae | {level} | 1 |" in captured.out
    history = (out / "history.csv").read_text().splitlines()
    assert "val_micro_ap" in history[0] and "learning_rate" in history[0]
    best = json.loads((out / "best.json").read_text())
    assert best["monitor"] == "val_micro_ap" and best["mode"] == "max"
    import keras

    saved = keras.models.load_model(out / "best.keras")
    std = saved.frontend.standardization
    assert std.has_statistics and not np.allclose(np.asarray(std.mean), 0)  # fitted and saved in the model
    assert main(["evaluate", str(out), "--data", str(mixture), "--split", "val"]) == 0
    assert "| sed_2apae | all | 1 |" in capsys.readouterr().out


def test_the_trainer_is_registered():
    from kaudio import registry

    assert registry.get("train", "sed") is SEDTrainer
