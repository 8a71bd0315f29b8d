"""PANNs state_dict → Keras: numerically equal to an independent numpy PANNs forward pass, and
every missing / unexpected / mis-shaped tensor reported at once (key names and layouts of ``qiuqiangkong/audioset_tagging_cnn``
``pytorch/models.py``)."""
import argparse
import sys

import numpy as np
import pytest

import kaudio
from kaudio.convert.panns import assign_panns_state_dict, panns_targets, read_panns_checkpoint, strip_prefix
from kaudio.errors import KaudioError, WeightsError
from tests.models.panns import librosa_panns_logmel, numpy_panns_forward, synthetic_state_dict, tiny_panns_spec

FILTERS, EMBEDDING, CLASSES = (4, 8), 8, 5


@pytest.fixture(scope="module")
def state():
    return synthetic_state_dict(FILTERS, EMBEDDING, CLASSES)


def fresh_model(**backbone):
    return kaudio.build(tiny_panns_spec(FILTERS, EMBEDDING, CLASSES, **backbone))


@pytest.mark.parametrize("pool_last_block", [True, False])
def test_converted_backbone_and_head_equal_numpy_reference(state, pool_last_block):
    model = fresh_model(pool_last_block=pool_last_block)
    mapping = assign_panns_state_dict(model, state)
    assert len(mapping.matches) == 4 + 2 * 2 * 5 + 2 + 2
    assert sum(k.endswith("num_batches_tracked") for k in mapping.dropped) == 5 and len(mapping.dropped) == 8
    assert any("melW matches" in note for note in mapping.notes)
    logmel = np.random.default_rng(1).standard_normal((2, 51, 64)).astype(np.float32) * 20 - 40
    embedding = np.asarray(model.backbone(logmel[..., None], training=False))
    clipwise = np.asarray(model.head(embedding, training=False))
    ref_embedding, ref_clipwise = numpy_panns_forward(state, logmel, len(FILTERS), pool_last_block)
    assert embedding.shape == (2, EMBEDDING) and (ref_embedding > 0).any()
    np.testing.assert_allclose(embedding, ref_embedding, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(clipwise, ref_clipwise, rtol=1e-4, atol=1e-5)


def test_whole_model_on_audio_matches_librosa_front_end_plus_numpy_network(state):
    model = fresh_model()
    assign_panns_state_dict(model, state)
    audio = np.random.default_rng(2).standard_normal((1, 8000)).astype(np.float32) * 0.1
    logmel = librosa_panns_logmel(audio[0], 16000, 512, 160, 8000.0)[None]
    _, ref = numpy_panns_forward(state, logmel, len(FILTERS))
    np.testing.assert_allclose(model.predict(audio[..., None], verbose=0), ref, rtol=1e-3, atol=1e-4)


def test_layouts_conv_kernel_and_dense_transposes(state):
    model = fresh_model()
    assign_panns_state_dict(model, state)
    kernel = model.backbone.get_layer("conv_block2_conv1_conv").kernel.numpy()
    assert kernel.shape == (3, 3, 4, 8)
    np.testing.assert_array_equal(kernel[1, 2, 3, 5], state["conv_block2.conv1.weight"][5, 3, 1, 2])
    np.testing.assert_array_equal(model.backbone.get_layer("fc1").kernel.numpy(), state["fc1.weight"].T)
    bn0 = model.backbone.get_layer("bn0")
    np.testing.assert_array_equal(bn0.moving_variance.numpy(), state["bn0.running_var"])
    assert bn0.epsilon == 1e-5 and bn0.momentum == 0.9


def test_module_prefix_is_stripped(state):
    prefixed = {f"module.{k}": v for k, v in state.items()}
    assert strip_prefix(prefixed) == state
    model = fresh_model()
    assign_panns_state_dict(model, prefixed)
    np.testing.assert_array_equal(model.head.get_layer("classifier").bias.numpy(), state["fc_audioset.bias"])


def test_every_problem_is_listed_and_the_model_is_left_unchanged(state):
    bad = dict(state)
    del bad["conv_block1.bn2.running_mean"]
    del bad["fc1.bias"]
    bad["conv_block3.conv1.weight"] = np.zeros((16, 8, 3, 3), np.float32)
    bad["att_block.att.weight"] = np.zeros((3,), np.float32)
    bad["conv_block2.conv2.weight"] = np.zeros((8, 8, 5, 5), np.float32)
    bad["conv_block2.conv1.weight"] = np.zeros((8, 4, 5, 5), np.float32)  # pre-fix Cnn10 5x5 block
    bad["fc_audioset.weight"] = np.zeros((527, 8), np.float32)
    bad["bn0.weight"] = np.zeros((64, 1), np.float32)
    model = fresh_model()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(WeightsError) as info:
        assign_panns_state_dict(model, bad)
    text = str(info.value)
    assert "missing from the checkpoint (2): conv_block1.bn2.running_mean, fc1.bias" in text
    assert "not used by the model (2): conv_block3.conv1.weight, att_block.att.weight" in text
    assert "conv_block2.conv2.weight: shape (8, 8, 5, 5), expected (8, 8, 3, 3)" in text
    assert "fc_audioset.weight: shape (527, 8), expected (5, 8) for head/classifier/kernel (8, 5)" in text
    assert "bn0.weight: shape (64, 1), expected (64,)" in text
    assert "5x5 conv kernels: this is a Cnn6 or a pre-fix Cnn10" in text
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_front_end_tensors_are_checked_against_the_model(state):
    wrong_rate = synthetic_state_dict(FILTERS, EMBEDDING, CLASSES, n_fft=1024, sample_rate=32000, f_max=14000.0)
    with pytest.raises(WeightsError) as info:
        assign_panns_state_dict(fresh_model(), wrong_rate)
    text = str(info.value)
    assert "conv_real.weight: shape (513, 1, 1024) is an STFT with n_fft 1024, the model's front end has n_fft 512" in text
    assert "logmel_extractor.melW: shape (513, 64), the model's mel filterbank is (257, 64)" in text
    other_mel = dict(state, **{"logmel_extractor.melW": state["logmel_extractor.melW"] * 1.1})
    with pytest.raises(WeightsError, match="melW: differs from the model's mel filterbank by up to"):
        assign_panns_state_dict(fresh_model(), other_mel)


def test_bare_backbone_rejects_fc_audioset_and_other_heads_are_refused(state):
    model = kaudio.build(tiny_panns_spec(FILTERS, EMBEDDING, head=False))
    assert "fc_audioset.weight" not in panns_targets(model)
    with pytest.raises(WeightsError, match=r"not used by the model \(2\): fc_audioset.weight, fc_audioset.bias"):
        assign_panns_state_dict(model, state)
    backbone_only = {k: v for k, v in state.items() if not k.startswith("fc_audioset")}
    assign_panns_state_dict(model, backbone_only)
    l3 = kaudio.build("l3_m128")
    with pytest.raises(KaudioError, match="PANNs weights need a panns_cnn backbone"):
        panns_targets(l3)


def test_reading_pth_without_torch_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)
    (tmp_path / "x.pth").write_bytes(b"not read without torch")
    with pytest.raises(KaudioError, match=r"needs torch: pip install kaudio\[torch\]"):
        read_panns_checkpoint(tmp_path / "x.pth")


def test_torch_save_round_trip(state, tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "Tiny_mAP=0.1.pth"
    # Training checkpoints also hold numpy objects (iteration, sampler state): data only, allowed.
    torch.save({"iteration": np.int64(10), "model": {k: torch.from_numpy(np.array(v)) for k, v in state.items()},
                "sampler": {"indexes": [np.arange(4)], "rate": np.float32(0.5)}}, path)
    read = read_panns_checkpoint(path)
    assert read.keys() == state.keys() and all(np.array_equal(read[k], state[k]) for k in state)
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read .* as a PyTorch checkpoint"):
        read_panns_checkpoint(tmp_path / "junk.pth")
    # Any other pickled class is refused unless the user trusts the file.
    torch.save({"model": {}, "args": argparse.Namespace(lr=1e-3)}, tmp_path / "code.pth")
    with pytest.raises(WeightsError, match="retry with --trust-pickle"):
        read_panns_checkpoint(tmp_path / "code.pth")
    with pytest.raises(WeightsError, match="holds no state_dict"):  # read in full once trusted
        read_panns_checkpoint(tmp_path / "code.pth", trust_pickle=True)
    torch.save({"model": [1, 2]}, tmp_path / "nodict.pth")
    with pytest.raises(WeightsError, match="holds no state_dict"):
        read_panns_checkpoint(tmp_path / "nodict.pth")


def test_arch_specs():
    from kaudio.convert.panns import ARCHS

    specs = {arch: kaudio.load_spec(*ARCHS[arch]) for arch in ARCHS}
    assert specs["cnn14"].backbone["filters"][-1] == 2048 and specs["cnn10"].backbone["embedding_size"] == 512
    sixteen = specs["cnn14_16k"]
    assert sixteen.input["samples"] == 160000 and sixteen.frontend["n_fft"] == 512 and sixteen.frontend["f_max"] == 8000
    assert sixteen.backbone == specs["cnn14"].backbone and sixteen.head["num_classes"] == 527


def test_matches_an_independent_torch_panns_network(state):
    """The same weights in a PyTorch network written after ``pytorch/models.py`` with torch's own Conv2d,
    BatchNorm2d, avg_pool2d and a torch.stft front end (periodic Hann, center, reflect)."""
    torch = pytest.importorskip("torch")
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
            self.bn1, self.bn2 = nn.BatchNorm2d(c_out), nn.BatchNorm2d(c_out)

        def forward(self, x):
            x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
            return F.avg_pool2d(x, 2)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn0 = nn.BatchNorm2d(64)
            self.conv_block1, self.conv_block2 = Block(1, 4), Block(4, 8)
            self.fc1, self.fc_audioset = nn.Linear(8, 8), nn.Linear(8, 5)

        def forward(self, audio):
            window = torch.hann_window(512, periodic=True, dtype=torch.float64)
            spec = torch.stft(audio, 512, 160, 512, window, center=True, pad_mode="reflect", return_complex=True)
            mel = (spec.abs() ** 2).transpose(1, 2) @ melw  # (N, T, 64)
            x = (10 * torch.log10(torch.clamp(mel, min=1e-10))).float()[:, None]  # (N, 1, T, 64)
            x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
            x = self.conv_block2(self.conv_block1(x))
            x = x.mean(dim=3)
            x = x.max(dim=2)[0] + x.mean(dim=2)
            return torch.sigmoid(self.fc_audioset(F.relu(self.fc1(x))))

    melw = torch.from_numpy(state["logmel_extractor.melW"].astype(np.float64))
    net = Net().eval()
    net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()
                         if not k.startswith(("spectrogram_extractor", "logmel_extractor"))}, strict=True)
    audio = np.random.default_rng(5).standard_normal((2, 8000)).astype(np.float32) * 0.1
    with torch.no_grad():
        expected = net(torch.from_numpy(audio.astype(np.float64))).numpy()
    model = fresh_model()
    assign_panns_state_dict(model, state)
    got = model.predict(audio[..., None], verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)  # measured max |diff| 9e-8
