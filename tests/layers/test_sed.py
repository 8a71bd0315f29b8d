"""The SED pooling layers against independent numpy implementations: TwoStepAttention (2APAE,
Deshmukh et al. Eqs. 8–15 as coded in soham97/MTL_Weakly_labelled_audio_data models.py, and the
paper's reading of the sigmoid placement), GWRP, frame means and attention pooling over time."""
import keras
import numpy as np
import pytest

from kaudio.errors import KaudioError
from kaudio.layers import FrequencyMean, GlobalWeightedRankPooling, TimeAttentionPooling, TwoStepAttention
from tests.helpers import keras_round_trip

T, F, K = 9, 6, 4


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def class_map(batch=2, frames=T, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, frames, F, K)).astype("float32")


def round_trip_outputs(layer, x, tmp_path):
    """Like tests.helpers.keras_round_trip, for a layer with several outputs."""
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, layer(inputs))
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    for got, want in zip(loaded.predict(x, verbose=0), expected):
        np.testing.assert_array_equal(got, want)
    return expected


def weights_of(layer):
    return {w.name: keras.ops.convert_to_numpy(w).astype(np.float64) for w in layer.weights}


def reference_two_step(z, w, sigmoid_reading, time_mixing, frame_activity="step1"):
    """PyTorch's layout (N, K, T, F) as in the reference's DualStageAttention, written in numpy."""
    x = np.transpose(z.astype(np.float64), (0, 3, 1, 2))  # (N, K, T, F)

    def linear(v, kernel, bias):  # nn.Linear on the last axis; Keras kernels are (in, out)
        return v @ kernel + bias

    def time_mix(v, branch):
        kernel, bias = w[f"time_{branch}_kernel"], w[f"time_{branch}_bias"]
        if time_mixing == "dense":
            return linear(v, kernel, bias)
        half = len(kernel) // 2
        padded = np.pad(v, [(0, 0), (0, 0), (half, half)])
        return sum(kernel[j] * padded[..., j:j + v.shape[-1]] for j in range(len(kernel))) + bias[0]

    def attend(prob_logits, att_logits):
        if sigmoid_reading == "code":
            prob, att = sigmoid(prob_logits), softmax(att_logits, -1)
        else:
            prob, att = prob_logits, softmax(sigmoid(att_logits), -1)
        return (prob * att).sum(-1), att

    mel_x, mel_attw = attend(linear(x, w["mel_prob_kernel"], w["mel_prob_bias"]),
                             linear(x, w["mel_att_kernel"], w["mel_att_bias"]))
    time_prob_logits = time_mix(mel_x, "prob")
    time_x, time_attw = attend(time_prob_logits, time_mix(mel_x, "att"))
    out = np.clip(time_x, 0, 1)
    frames = mel_x
    if frame_activity == "step2":
        frames = sigmoid(time_prob_logits) if sigmoid_reading == "code" else time_prob_logits
    # back to kaudio's channels-last layout
    return out, frames.transpose(0, 2, 1), mel_attw.transpose(0, 2, 3, 1), time_attw.transpose(0, 2, 1)


@pytest.mark.parametrize("sigmoid_reading", ["code", "paper"])
@pytest.mark.parametrize("time_mixing, kernel_size, frame_activity",
                         [("dense", 1, "step1"), ("conv", 1, "step1"), ("conv", 3, "step1"), ("conv", 3, "step2")])
def test_two_step_attention_matches_numpy(tmp_path, sigmoid_reading, time_mixing, kernel_size, frame_activity):
    z = class_map()
    layer = TwoStepAttention(sigmoid_reading, time_mixing, kernel_size, frame_activity)
    outputs = round_trip_outputs(layer, z, tmp_path)
    expected = reference_two_step(z, weights_of(layer), sigmoid_reading, time_mixing, frame_activity)
    for got, want in zip(outputs, expected):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    clip, frames, mel_attention, time_attention = outputs
    assert clip.shape == (2, K) and frames.shape == (2, T, K) and mel_attention.shape == (2, T, F, K)
    np.testing.assert_allclose(mel_attention.sum(axis=2), 1.0, rtol=1e-5)
    np.testing.assert_allclose(time_attention.sum(axis=1), 1.0, rtol=1e-5)
    assert ((clip >= 0) & (clip <= 1)).all()
    if sigmoid_reading == "code":  # convex combinations of probabilities
        assert ((frames > 0) & (frames < 1)).all()


def test_weights_are_shared_across_classes_and_sized_like_the_reference():
    layer = TwoStepAttention()
    layer(class_map(frames=311))
    shapes = {w.name: tuple(w.shape) for w in layer.weights}
    assert shapes == {"mel_prob_kernel": (F, F), "mel_prob_bias": (F,), "mel_att_kernel": (F, F), "mel_att_bias": (F,),
                      "time_prob_kernel": (311, 311), "time_prob_bias": (311,), "time_att_kernel": (311, 311),
                      "time_att_bias": (311,)}
    assert layer.count_params() == 2 * (F * F + F) + 194_064  # the reference's fc_time_*: 2 × (311² + 311)
    for w in layer.weights:  # PyTorch's nn.Linear default: U(±1/sqrt(fan_in))
        limit = 1 / np.sqrt(w.shape[0] if w.name.startswith("time") else F)
        assert np.abs(keras.ops.convert_to_numpy(w)).max() <= limit


def test_paper_reading_is_clamped_to_the_unit_interval():
    layer = TwoStepAttention("paper", "conv", 1)
    z = class_map()
    layer(z)
    layer.time_prob_bias.assign(np.array([5.0], "float32"))  # a linear "prob" branch far above 1
    clip = keras.ops.convert_to_numpy(layer(z)[0])
    np.testing.assert_array_equal(clip, 1.0)
    layer.time_prob_bias.assign(np.array([-5.0], "float32"))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(z)[0]), 0.0)


def test_conv_time_mixing_takes_any_length_and_dense_needs_one():
    layer = TwoStepAttention(time_mixing="conv", time_kernel_size=3)
    inputs = keras.Input((None, F, K))
    model = keras.Model(inputs, layer(inputs))
    for frames in (5, 17):
        clip, frames_out, _, time_attention = model.predict(class_map(frames=frames), verbose=0)
        assert frames_out.shape == (2, frames, K) and time_attention.shape == (2, frames, K)
    with pytest.raises(KaudioError, match="time_mixing 'dense' .* needs a known number of frames"):
        TwoStepAttention(time_mixing="dense")(keras.Input((None, F, K)))


@pytest.mark.parametrize("kwargs, message", [(dict(sigmoid="both"), "sigmoid"), (dict(time_mixing="rnn"), "time_mixing"),
                                             (dict(time_kernel_size=2), "odd"),
                                             (dict(frame_activity="step3"), "frame_activity"),
                                             (dict(frame_activity="step2"), "needs time_mixing 'conv'")])
def test_bad_options(kwargs, message):
    with pytest.raises(KaudioError, match=message):
        TwoStepAttention(**kwargs)


def reference_gwrp(x, r):
    """Kong et al.'s global_weighted_rank_pooling (PyTorch layout (N, K, T·F)) in numpy."""
    values = np.sort(x.transpose(0, 3, 1, 2).reshape(x.shape[0], x.shape[3], -1), axis=-1)[..., ::-1]
    weights = r ** np.arange(values.shape[-1], dtype=np.float64)
    return (values * weights).sum(-1) / weights.sum()


@pytest.mark.parametrize("r", [0.0, 0.9, 0.9998, 1.0])
def test_gwrp_matches_numpy_between_max_and_mean(tmp_path, r):
    x = keras.ops.convert_to_numpy(keras.ops.sigmoid(class_map()))
    out, _ = keras_round_trip(GlobalWeightedRankPooling(r), x, tmp_path)
    np.testing.assert_allclose(out, reference_gwrp(x, r), rtol=1e-5)
    if r == 0.0:
        np.testing.assert_allclose(out, x.max(axis=(1, 2)), rtol=1e-6)
    if r == 1.0:
        np.testing.assert_allclose(out, x.mean(axis=(1, 2)), rtol=1e-5)
    inputs = keras.Input((None, F, K))  # any number of frames
    model = keras.Model(inputs, GlobalWeightedRankPooling(r)(inputs))
    np.testing.assert_allclose(model.predict(x[:, :4], verbose=0), reference_gwrp(x[:, :4], r), rtol=1e-5)
    with pytest.raises(KaudioError):
        GlobalWeightedRankPooling(1.5)


def test_frequency_mean_and_time_attention_pooling(tmp_path):
    x = class_map()
    out, _ = keras_round_trip(FrequencyMean(), x, tmp_path)
    np.testing.assert_allclose(out, x.mean(axis=2), rtol=1e-5, atol=1e-6)
    frames, logits = sigmoid(x[:, :, 0]), x[:, :, 1] * 3
    clip, weights = (keras.ops.convert_to_numpy(t) for t in TimeAttentionPooling()([frames, logits]))
    expected_weights = softmax(logits.astype(np.float64), 1)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-5)
    np.testing.assert_allclose(clip, (frames * expected_weights).sum(1), rtol=1e-5)
    assert ((clip > 0) & (clip < 1)).all()


def test_layers_compute_in_float32_under_a_bfloat16_policy():
    """bfloat16 would round r = 0.9998 to 1 and turn GWRP into GAP; the layers compute in float32."""
    from kaudio.dtypes import dtype_policy_scope

    x = np.random.default_rng(0).uniform(size=(1, 311, 64, 2)).astype("float32")
    with dtype_policy_scope("mixed_bfloat16"):
        gwrp, attention = GlobalWeightedRankPooling(0.9998), TwoStepAttention(time_mixing="conv")
    out = gwrp(x)
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32")), reference_gwrp(x, 0.9998),
                               rtol=1e-2)
    assert abs(float(keras.ops.cast(out, "float32")[0, 0]) - x[0, ..., 0].mean()) > 0.1
    clip = attention(x)[0]
    assert keras.backend.standardize_dtype(clip.dtype) == "bfloat16"
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in attention.weights)
