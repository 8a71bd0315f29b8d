"""sed_bce_mse: BCE(clip) + α·MSE(reconstruction, standardised input), as 2APAE's code trains
(soham97/MTL_Weakly_labelled_audio_data main.py: nn.BCELoss + α·nn.MSELoss, both means)."""
import numpy as np
import pytest
import tensorflow as tf

import kaudio
from kaudio.errors import KaudioError
from kaudio.losses import loss_from_spec
from kaudio.losses.sed import SEDReconstructionLoss
from tests.models.sed.test_seg_encoder import sed_spec

EPS = 1e-7


def batch(seed=0, b=3, t=7, f=5, k=4):
    rng = np.random.default_rng(seed)
    y_true = {"clip": (rng.uniform(size=(b, k)) > 0.5).astype("float32"),
              "features": rng.standard_normal((b, t, f, 1)).astype("float32")}
    y_pred = {"clip": rng.uniform(0.01, 0.99, (b, k)).astype("float32"),
              "reconstruction": np.abs(rng.standard_normal((b, t, f, 1))).astype("float32"),
              "frames": rng.uniform(size=(b, t, k)).astype("float32")}
    return y_true, y_pred


def numpy_loss(y_true, y_pred, alpha):
    y, p = y_true["clip"].astype(np.float64), np.clip(y_pred["clip"].astype(np.float64), EPS, 1 - EPS)
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    mse = np.mean((y_pred["reconstruction"].astype(np.float64) - y_true["features"]) ** 2)
    return bce, mse, bce + alpha * mse


@pytest.mark.parametrize("alpha", [0.0, 1e-3, 0.5])
def test_matches_numpy(alpha):
    y_true, y_pred = batch()
    loss = SEDReconstructionLoss(alpha=alpha)
    parts = {key: float(value) for key, value in loss.parts(y_true, y_pred).items()}
    bce, mse, total = numpy_loss(y_true, y_pred, alpha)
    assert parts["bce"] == pytest.approx(bce, rel=1e-5)
    assert parts["mse"] == (0.0 if alpha == 0 else pytest.approx(mse, rel=1e-5))
    assert parts["loss"] == pytest.approx(total, rel=1e-5) and float(loss(y_true, y_pred)) == pytest.approx(total, rel=1e-5)
    assert SEDReconstructionLoss.part_names == ("bce", "mse") and set(parts) == {"bce", "mse", "loss"}


def test_alpha_zero_needs_no_reconstruction_and_features():
    y_true, y_pred = batch()
    loss = SEDReconstructionLoss(alpha=0.0)
    clip_only = {"clip": y_pred["clip"], "frames": y_pred["frames"]}
    assert float(loss({"clip": y_true["clip"]}, clip_only)) == pytest.approx(numpy_loss(y_true, y_pred, 0)[0], rel=1e-5)
    with pytest.raises(KaudioError, match="the targets must be a dict with 'features'"):
        SEDReconstructionLoss()({"clip": y_true["clip"]}, y_pred)
    with pytest.raises(KaudioError, match="the model output lacks 'reconstruction'"):
        SEDReconstructionLoss()(y_true, clip_only)
    with pytest.raises(KaudioError, match="the targets must be a dict with 'clip'"):
        loss(y_true["clip"], y_pred)


def test_clip_mask_restricts_the_bce():
    y_true, y_pred = batch()
    mask = np.ones_like(y_true["clip"])
    mask[:, 0] = 0
    got = float(SEDReconstructionLoss(alpha=0)({**y_true, "clip_mask": mask}, y_pred))
    y, p = y_true["clip"][:, 1:], np.clip(y_pred["clip"][:, 1:].astype(np.float64), EPS, 1 - EPS)
    assert got == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), rel=1e-5)


def tiny_2apae_spec(alpha):
    return sed_spec(input={"type": "audio", "sample_rate": 32000, "duration": 1.0},
                    backbone={"type": "seg_encoder", "filters": [2, 3]},
                    head={"type": "sed_2apae", "num_classes": 3, "decoder_filters": [2, 1], "time_mixing": "conv"},
                    loss={"type": "sed_bce_mse", "alpha": alpha})


@pytest.mark.parametrize("alpha", [0.0, 1e-3])
def test_alpha_zero_gives_the_decoder_no_gradient(alpha):
    spec = kaudio.load_spec(tiny_2apae_spec(alpha))
    model = kaudio.build(spec)
    loss = loss_from_spec(spec)
    audio = np.random.default_rng(0).standard_normal((2, 32000, 1)).astype("float32") * 0.1
    targets = {"clip": np.array([[1, 0, 1], [0, 1, 0]], "float32"), "features": model.frontend(audio)}
    with tf.GradientTape() as tape:
        value = loss(targets, model(audio, training=True))
    decoder = [w for w in model.head.trainable_weights if "decoder" in w.path]
    others = [w for w in model.trainable_weights if "decoder" not in w.path]
    assert decoder and others
    gradients = tape.gradient(value, decoder + others)
    decoder_gradients, other_gradients = gradients[:len(decoder)], gradients[len(decoder):]
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in other_gradients)
    if alpha == 0:
        assert all(g is None for g in decoder_gradients)
    else:
        assert all(g is not None and np.abs(g.numpy()).sum() > 0 for g in decoder_gradients)


def test_spec_section():
    spec = kaudio.load_spec(sed_spec(head={"type": "sed_2apae", "num_classes": 3}, loss={"type": "sed_bce_mse"}))
    assert spec.loss == {"type": "sed_bce_mse", "alpha": 1e-3, "epsilon": 1e-7,
                         "outputs": {"clip": "clip", "reconstruction": "reconstruction"}}
    assert kaudio.load_spec(spec.to_dict()).loss == spec.loss  # the normalised section validates again
    gap = sed_spec(head={"type": "sed_gap", "num_classes": 3}, loss={"type": "sed_bce_mse"})
    with pytest.raises(kaudio.SpecError, match="loss.alpha: alpha 0.001 weights the reconstruction error, but the model "
                                               "has no 'reconstruction' output .* set loss.alpha: 0"):
        kaudio.load_spec(gap)
    gap["loss"]["alpha"] = 0
    spec = kaudio.load_spec(gap)
    assert spec.loss["outputs"] == {"clip": "clip"} and kaudio.load_spec(spec.to_dict()).loss == spec.loss
    with pytest.raises(kaudio.SpecError, match="loss.outputs.clip: the model has no output 'probabilities'"):
        kaudio.load_spec(sed_spec(head={"type": "sed_gap", "num_classes": 3},
                                  loss={"type": "sed_bce_mse", "alpha": 0, "outputs": {"clip": "probabilities"}}))
    with pytest.raises(kaudio.SpecError, match=r"loss.outputs.clip: sed_bce_mse reads a 1-d clip output per example, "
                                               r"'frames' is \(311, 3\)"):
        kaudio.load_spec(sed_spec(head={"type": "sed_gap", "num_classes": 3},
                                  loss={"type": "sed_bce_mse", "alpha": 0, "outputs": {"clip": "frames"}}))
    with pytest.raises(kaudio.SpecError, match="loss.alpha"):
        kaudio.load_spec(sed_spec(head={"type": "sed_2apae", "num_classes": 3}, loss={"type": "sed_bce_mse", "alpha": -1}))
