"""SED heads on the seg_encoder map: sed_2apae (2APAE, Deshmukh et al.: class conv → two-step attention,
plus the auto-encoder's decoder; soham97/MTL_Weakly_labelled_audio_data models.py) and the GAP / GMP /
GWRP / attention baselines (Kong et al.'s pooled sigmoid class maps)."""
import keras
import numpy as np
import pytest

import kaudio
from kaudio.heads.sed import (AttentionPoolingSEDHead, GlobalAveragePoolingSEDHead, GlobalMaxPoolingSEDHead,
                              GlobalWeightedRankPoolingSEDHead, TwoStepAttentionAEHead)
from kaudio.layers import TwoStepAttention
from tests.models.sed.test_seg_encoder import sed_spec

T, F, C, K = 9, 6, 8, 5
BASELINES = {"sed_gap": GlobalAveragePoolingSEDHead, "sed_gmp": GlobalMaxPoolingSEDHead,
             "sed_gwrp": GlobalWeightedRankPoolingSEDHead, "sed_attention": AttentionPoolingSEDHead}


def encoder_map(batch=2, frames=T, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, frames, F, C)).astype("float32")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def class_map(head, x, name="class_conv"):
    conv = head.get_layer(name)
    return np.einsum("btfc,ck->btfk", x.astype(np.float64), conv.kernel.numpy()[0, 0]) + conv.bias.numpy()


def round_trip(head, x, tmp_path):
    expected = head.predict(x, verbose=0)
    head.save(tmp_path / "head.keras")
    loaded = keras.models.load_model(tmp_path / "head.keras")
    got = loaded.predict(x, verbose=0)
    assert got.keys() == expected.keys() and type(loaded) is type(head) and loaded.get_config() == head.get_config()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])
    return expected


def test_2apae_head_outputs(tmp_path):
    head = TwoStepAttentionAEHead(num_classes=K, feature_shape=(T, F, C), decoder_filters=[4, 3, 1], name="head")
    x = encoder_map()
    out = round_trip(head, x, tmp_path)
    assert {key: value.shape for key, value in out.items()} == {
        "clip": (2, K), "frames": (2, T, K), "reconstruction": (2, T, F, 1), "mel_attention": (2, T, F, K),
        "time_attention": (2, T, K)}
    # the attention reads the linear class map; the decoder reads the encoder map (not the class map)
    attention = TwoStepAttention(name="check")
    attention(class_map(head, x).astype("float32"))
    attention.set_weights(head.get_layer("two_step_attention").get_weights())
    for got, want in zip([out[k] for k in ("clip", "frames", "mel_attention", "time_attention")],
                         attention(class_map(head, x).astype("float32"))):
        np.testing.assert_allclose(got, keras.ops.convert_to_numpy(want), rtol=1e-4, atol=1e-6)
    assert (out["reconstruction"] >= 0).all()  # BN → ReLU → average pool: never negative
    assert ((out["clip"] >= 0) & (out["clip"] <= 1)).all() and ((out["frames"] > 0) & (out["frames"] < 1)).all()
    assert head.get_layer("decoder_block3_conv2_conv").filters == 1 and head.get_layer("class_conv").use_bias
    assert head.target_kind == "sed" and head.default_loss == "sed_bce_mse"
    lean = TwoStepAttentionAEHead(num_classes=K, feature_shape=(None, F, C), time_mixing="conv", time_kernel_size=3,
                                  output_attention=False, decoder_filters=[1])
    assert set(lean.predict(encoder_map(frames=4), verbose=0)) == {"clip", "frames", "reconstruction"}


def test_2apae_has_the_reference_parameter_count():
    """41 classes: 1,967,366 trainable parameters, 1,970,186 with the BN statistics (the 2APAE reference);
    the front end's standardisation adds 2 × 64 non-trainable statistics."""
    model = kaudio.build("sed_2apae")
    backbone, head = model.backbone, model.head
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 1_967_366
    assert backbone.count_params() + head.count_params() == 1_970_186
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == 2_820 + 128
    assert head.get_layer("class_conv").count_params() == 10_537
    assert head.get_layer("two_step_attention").count_params() == 202_384
    assert model.spec.head["num_classes"] == 41 and model.spec.head["classes"][23] == "Hi-hat"


@pytest.mark.parametrize("type_name", sorted(BASELINES))
def test_baseline_heads_pool_the_sigmoid_class_map(tmp_path, type_name):
    cls = BASELINES[type_name]
    head = cls(num_classes=K, feature_shape=(None, F, C), name="head")
    x = encoder_map()
    out = round_trip(head, x, tmp_path)
    probabilities = sigmoid(class_map(head, x))
    np.testing.assert_allclose(out["frames"], probabilities.mean(axis=2), rtol=1e-4, atol=1e-6)
    if type_name == "sed_gap":
        expected = probabilities.mean(axis=(1, 2))
    elif type_name == "sed_gmp":
        expected = probabilities.max(axis=(1, 2))
    elif type_name == "sed_gwrp":
        values = np.sort(probabilities.reshape(2, -1, K), axis=1)[:, ::-1]
        weights = 0.9998 ** np.arange(values.shape[1])
        expected = (values * weights[:, None]).sum(1) / weights.sum()
    else:
        logits = class_map(head, x, "attention_conv").mean(axis=2)
        weights = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(out["time_attention"], weights, rtol=1e-4)
        expected = (probabilities.mean(axis=2) * weights).sum(axis=1)
    np.testing.assert_allclose(out["clip"], expected, rtol=1e-4, atol=1e-6)
    assert ((out["clip"] >= 0) & (out["clip"] <= 1)).all() and cls.target_kind == "sed"
    assert head.predict(encoder_map(frames=4), verbose=0)["frames"].shape == (2, 4, K)  # any length
    spec = kaudio.load_spec(sed_spec(head={"type": type_name, "num_classes": 3}, loss={"type": "sed_bce_mse", "alpha": 0}))
    expected_shapes = {"clip": (3,), "frames": (311, 3)}
    if type_name == "sed_attention":
        expected_shapes["time_attention"] = (311, 3)
    assert spec.output_shape == expected_shapes


def test_gwrp_r_is_a_spec_key():
    spec = kaudio.load_spec(sed_spec(head={"type": "sed_gwrp", "num_classes": 3, "r": 0.5}))
    assert spec.head["r"] == 0.5
    head = GlobalWeightedRankPoolingSEDHead.from_spec({k: v for k, v in spec.head.items() if k != "type"}, (T, F, C))
    assert head.get_layer("clip").r == 0.5 and head.get_config()["r"] == 0.5


def test_2apae_spec_output_shapes_and_problems():
    spec = kaudio.load_spec(sed_spec(head={"type": "sed_2apae", "num_classes": 41}))
    assert spec.output_shape == {"clip": (41,), "frames": (311, 41), "reconstruction": (311, 64, 1),
                                 "mel_attention": (311, 64, 41), "time_attention": (311, 41)}
    params = dict(spec.head)
    shapes, problems = TwoStepAttentionAEHead.spec_output_shape(params, (None, 64, 256))
    assert shapes is None and problems[0][0] == "time_mixing" and "needs a known number of frames" in problems[0][1]
    shapes, problems = TwoStepAttentionAEHead.spec_output_shape({**params, "time_mixing": "conv"}, (None, 64, 256))
    assert not problems and shapes["frames"] == (None, 41)
    for head, message in [({"time_kernel_size": 2}, "head.time_kernel_size: got 2, must be odd"),
                          ({"decoder_filters": [8, 2]}, "head.decoder_filters: the last decoder block reconstructs"),
                          ({"sigmoid": "both"}, "head.sigmoid"),
                          ({"frame_activity": "step2"}, "head.frame_activity: step2 .* only with time_mixing: conv")]:
        with pytest.raises(kaudio.SpecError, match=message):
            kaudio.load_spec(sed_spec(head={"type": "sed_2apae", "num_classes": 3, **head}))
    stereo = sed_spec(head={"type": "sed_2apae", "num_classes": 3})
    stereo["input"]["channels"] = 2
    with pytest.raises(kaudio.SpecError, match="sed_2apae reconstructs a one-channel log-mel; set input.channels: 1"):
        kaudio.load_spec(stereo)
    with pytest.raises(kaudio.SpecError, match=r"head: sed_gap head needs a \(time, mel, channels\) map"):
        kaudio.load_spec(sed_spec(backbone={"type": "panns_cnn", "preset": "cnn10"}, head={"type": "sed_gap", "num_classes": 3}))
    with pytest.raises(kaudio.SpecError, match="head.num_classes: give num_classes or the list of classes"):
        kaudio.load_spec(sed_spec(head={"type": "sed_gmp"}))
