"""Helpers for the PANNs tests: a synthetic PANNs ``state_dict`` with the real key names and
shapes, and an independent numpy forward pass of the PyTorch network (``pytorch/models.py``,
PyTorch layout (N, C, time, mel)) to compare converted Keras models against."""
from __future__ import annotations

import numpy as np

import kaudio.heads.tagging  # noqa: F401  (registers the `tagger` head)
import kaudio.models.panns  # noqa: F401  (registers the `panns_cnn` backbone)

EPS = 1e-5


def synthetic_state_dict(filters, embedding_size, num_classes, n_mels=64, n_fft=512, sample_rate=16000, f_max=8000.0,
                         seed=0, prefix=""):
    """Random float32 tensors under PANNs' key names, in PyTorch shapes (plus num_batches_tracked and
    the frozen front end, with melW = librosa's Slaney filterbank as torchlibrosa stores it)."""
    import librosa

    rng = np.random.default_rng(seed)
    state = {}

    def tensor(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def bn(name, n):
        state[f"{name}.weight"] = 1.0 + tensor(n, scale=0.1)
        state[f"{name}.bias"] = tensor(n, scale=0.1)
        state[f"{name}.running_mean"] = tensor(n, scale=0.5)
        state[f"{name}.running_var"] = rng.uniform(0.5, 2.0, n).astype(np.float32)
        state[f"{name}.num_batches_tracked"] = np.array(1000, dtype=np.int64)

    n_freq = n_fft // 2 + 1
    state["spectrogram_extractor.stft.conv_real.weight"] = tensor(n_freq, 1, n_fft)
    state["spectrogram_extractor.stft.conv_imag.weight"] = tensor(n_freq, 1, n_fft)
    state["logmel_extractor.melW"] = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=50.0,
                                                         fmax=f_max).T.astype(np.float32)
    bn("bn0", n_mels)
    c_in = 1
    for i, c_out in enumerate(filters, start=1):
        state[f"conv_block{i}.conv1.weight"] = tensor(c_out, c_in, 3, 3, scale=np.sqrt(2.0 / (9 * c_in)))
        state[f"conv_block{i}.conv2.weight"] = tensor(c_out, c_out, 3, 3, scale=np.sqrt(2.0 / (9 * c_out)))
        bn(f"conv_block{i}.bn1", c_out)
        bn(f"conv_block{i}.bn2", c_out)
        c_in = c_out
    state["fc1.weight"] = tensor(embedding_size, c_in, scale=np.sqrt(1.0 / c_in))
    state["fc1.bias"] = tensor(embedding_size, scale=0.1)
    state["fc_audioset.weight"] = tensor(num_classes, embedding_size, scale=np.sqrt(1.0 / embedding_size))
    state["fc_audioset.bias"] = tensor(num_classes, scale=0.1)
    return {prefix + k: v for k, v in state.items()}


def _bn(x, state, name, axis):
    shape = [1] * x.ndim
    shape[axis] = -1
    get = lambda field: state[f"{name}.{field}"].astype(np.float64).reshape(shape)  # noqa: E731
    return (x - get("running_mean")) / np.sqrt(get("running_var") + EPS) * get("weight") + get("bias")


def _conv3x3(x, weight):
    """PyTorch Conv2d(kernel 3, padding 1, no bias) on (N, C, H, W): cross-correlation."""
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, weight.shape[0], h, w))
    for dh in range(3):
        for dw in range(3):
            out += np.einsum("nchw,oc->nohw", padded[:, :, dh:dh + h, dw:dw + w], weight[:, :, dh, dw].astype(np.float64))
    return out


def _avg_pool2(x):
    n, c, h, w = x.shape
    x = x[:, :, : h // 2 * 2, : w // 2 * 2]
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def numpy_panns_forward(state, logmel, n_blocks, pool_last_block=True):
    """PANNs inference on a log-mel ``(N, time, mel)``: returns (embedding (N, D), clipwise (N, classes))."""
    x = _bn(logmel.astype(np.float64), state, "bn0", axis=2)[:, None]  # (N, 1, T, F)
    for i in range(1, n_blocks + 1):
        for j in (1, 2):
            x = np.maximum(_bn(_conv3x3(x, state[f"conv_block{i}.conv{j}.weight"]), state, f"conv_block{i}.bn{j}", axis=1), 0)
        if i < n_blocks or pool_last_block:
            x = _avg_pool2(x)
    x = x.mean(axis=3)
    x = x.max(axis=2) + x.mean(axis=2)
    embedding = np.maximum(x @ state["fc1.weight"].T.astype(np.float64) + state["fc1.bias"], 0)
    logits = embedding @ state["fc_audioset.weight"].T.astype(np.float64) + state["fc_audioset.bias"]
    return embedding, 1.0 / (1.0 + np.exp(-logits))


def librosa_panns_logmel(waveform, sample_rate, n_fft, hop_length, f_max, n_mels=64):
    """The torchlibrosa front end computed with librosa in float64: (time, mel) dB."""
    import librosa

    spec = np.abs(librosa.stft(np.asarray(waveform, np.float64), n_fft=n_fft, hop_length=hop_length, win_length=n_fft,
                               window="hann", center=True, pad_mode="reflect")) ** 2
    mel = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=50.0, fmax=f_max) @ spec
    return 10.0 * np.log10(np.maximum(mel, 1e-10)).T


def tiny_panns_spec(filters=(4, 8), embedding_size=8, num_classes=5, samples=8000, head=True, **backbone):
    """A 16 kHz, 0.5-s spec on the panns_16k front end with a narrow panns_cnn backbone."""
    spec = {
        "name": "tiny_panns",
        "description": "tiny PANNs-style tagger for tests",
        "input": {"type": "audio", "sample_rate": 16000, "samples": samples, "channels": 1},
        "frontend": {"type": "mel", "preset": "panns_16k"},
        "backbone": {"type": "panns_cnn", "filters": list(filters), "embedding_size": embedding_size, **backbone},
    }
    if head:
        spec["head"] = {"type": "tagger", "num_classes": num_classes}
    return spec
