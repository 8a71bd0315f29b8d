"""Map a PANNs PyTorch ``state_dict`` (Cnn14 / Cnn10 checkpoints) onto kaudio's ``panns_cnn`` models.

Facts used (from ``qiuqiangkong/audioset_tagging_cnn`` ``pytorch/models.py`` and ``pytorch/main.py``):

* A checkpoint is a dict with the weights under ``'model'``; keys may carry a ``module.``
  prefix (DataParallel).
* ``bn0.{weight,bias,running_mean,running_var}`` (n_mels,) → ``bn0`` γ, β, moving mean/variance.
* ``conv_block{i}.conv{j}.weight`` (O, I, 3, 3) → ``conv_block{i}_conv{j}_conv`` kernel
  (3, 3, I, O): ``transpose(2, 3, 1, 0)``, since the Keras input is (time, mel, C) like
  PyTorch's (C, time, mel). No conv biases exist.
* ``conv_block{i}.bn{j}.*`` → ``conv_block{i}_conv{j}_bn``; ``fc1.{weight,bias}`` → ``fc1``
  (kernel = weight.T); ``fc_audioset.{weight,bias}`` → the ``tagger`` head's ``classifier``.
* Dropped: every ``num_batches_tracked``; the frozen front end
  ``spectrogram_extractor.stft.conv_{real,imag}.weight`` (n_fft/2+1, 1, n_fft) and
  ``logmel_extractor.melW`` (n_fft/2+1, n_mels) — kaudio computes the same STFT and Slaney mel
  itself, so these are only *checked* against the model's front end (shape, and melW's values
  against kaudio's filterbank), which catches e.g. a 16 kHz checkpoint given to a 32 kHz spec.

The mapping is pure numpy (:func:`assign_panns_state_dict`); only reading a ``.pth`` file needs
torch (:func:`read_panns_checkpoint`, ``pip install kaudio[torch]``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from kaudio.errors import KaudioError, WeightsError
from kaudio.heads.tagging import TaggerHead
from kaudio.models.panns import PannsCNN
from kaudio.models.panns.panns_cnn import block_convs
from kaudio.models.panns.panns_presets import PRESETS

#: ``--arch`` → (bundled spec, overrides): the PANNs presets (:mod:`kaudio.models.panns.panns_presets`).
#: cnn14_16k is Cnn14 on the 16 kHz front end (``Cnn14_16k`` in ``pytorch/models.py``).
ARCHS: dict[str, tuple[str, list[str]]] = {name: (preset.spec, list(preset.overrides))
                                           for name, preset in PRESETS.items()}

_BN_FIELDS = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
              ("running_var", "moving_variance"))
_FRONT_END_KEYS = ("spectrogram_extractor.stft.conv_real.weight", "spectrogram_extractor.stft.conv_imag.weight",
                   "logmel_extractor.melW")
#: melW from librosa 0.6 vs kaudio's Slaney filterbank: both are the same formula in float32.
MELW_TOLERANCE = 1e-5


@dataclass(frozen=True)
class TensorMatch:
    """One PyTorch tensor assigned to one Keras variable."""

    key: str
    target: str
    source_shape: tuple[int, ...]
    target_shape: tuple[int, ...]


@dataclass(frozen=True)
class PannsMapping:
    """What :func:`assign_panns_state_dict` did: matched tensors, dropped keys and notes."""

    matches: tuple[TensorMatch, ...]
    dropped: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        width = max((len(m.key) for m in self.matches), default=0)
        lines = [f"{m.key:<{width}} -> {m.target}  {m.source_shape} -> {m.target_shape}" for m in self.matches]
        lines.append(f"dropped ({len(self.dropped)}): num_batches_tracked and the frozen STFT/mel front end")
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def _transpose(rule: str, array: np.ndarray) -> np.ndarray:
    if rule == "conv":
        return array.transpose(2, 3, 1, 0)
    if rule == "dense":
        return array.T
    return array


def panns_targets(model) -> dict[str, tuple[object, str, str]]:
    """``{torch key: (keras variable, its readable name, transform)}`` for a model with a
    ``panns_cnn`` backbone and optionally a ``tagger`` head (transform: conv, dense, none)."""
    backbone = model.backbone if hasattr(model, "backbone") else model
    if not isinstance(backbone, PannsCNN):
        raise KaudioError(f"PANNs weights need a panns_cnn backbone, the model has {type(backbone).__name__}")
    targets: dict[str, tuple[object, str, str]] = {}

    def add_bn(prefix: str, layer) -> None:
        for torch_name, keras_name in _BN_FIELDS:
            targets[f"{prefix}.{torch_name}"] = (getattr(layer, keras_name), f"backbone/{layer.name}/{keras_name}", "none")

    add_bn("bn0", backbone.get_layer("bn0"))
    for i, convs in enumerate(block_convs(backbone.filters, backbone.convs_per_block), start=1):
        for j in range(1, convs + 1):
            conv = backbone.get_layer(f"conv_block{i}_conv{j}_conv")
            targets[f"conv_block{i}.conv{j}.weight"] = (conv.kernel, f"backbone/{conv.name}/kernel", "conv")
            add_bn(f"conv_block{i}.bn{j}", backbone.get_layer(f"conv_block{i}_conv{j}_bn"))
    fc1 = backbone.get_layer("fc1")
    targets["fc1.weight"] = (fc1.kernel, "backbone/fc1/kernel", "dense")
    targets["fc1.bias"] = (fc1.bias, "backbone/fc1/bias", "none")
    head = getattr(model, "head", None)
    if head is not None:
        if not isinstance(head, TaggerHead):
            raise KaudioError(f"PANNs fc_audioset maps onto a `tagger` head, the model's head is {type(head).__name__}; "
                              "use a spec with head type tagger (or no head)")
        classifier = head.get_layer("classifier")
        targets["fc_audioset.weight"] = (classifier.kernel, "head/classifier/kernel", "dense")
        targets["fc_audioset.bias"] = (classifier.bias, "head/classifier/bias", "none")
    return targets


def _front_end_problems(model, state: Mapping[str, np.ndarray]) -> tuple[list[str], list[str]]:
    """Check the dropped front-end tensors against the model's front end: (problems, notes)."""
    frontend = getattr(model, "frontend", None)
    if frontend is None or not hasattr(frontend, "settings"):
        return [], []
    n_fft = frontend.settings["n_fft"]
    n_freq = n_fft // 2 + 1
    problems, notes = [], []
    for key in _FRONT_END_KEYS[:2]:
        if key in state and tuple(state[key].shape) != (n_freq, 1, n_fft):
            problems.append(f"{key}: shape {tuple(state[key].shape)} is an STFT with n_fft "
                            f"{state[key].shape[-1]}, the model's front end has n_fft {n_fft} "
                            f"(expected {(n_freq, 1, n_fft)}; a 16 kHz checkpoint needs --arch cnn14_16k)")
    mel_key = _FRONT_END_KEYS[2]
    if mel_key in state and hasattr(frontend, "filterbank_layers") and frontend.filterbank_layers:
        ours = np.asarray(frontend.filterbank_layers[0].matrix, dtype=np.float64)
        theirs = np.asarray(state[mel_key], dtype=np.float64)
        if theirs.shape != ours.shape:
            problems.append(f"{mel_key}: shape {theirs.shape}, the model's mel filterbank is {ours.shape} "
                            "(n_fft/2+1, n_mels)")
        else:
            diff = float(np.abs(theirs - ours).max())
            if diff > MELW_TOLERANCE:
                problems.append(f"{mel_key}: differs from the model's mel filterbank by up to {diff:.3g} "
                                f"(tolerance {MELW_TOLERANCE}); the checkpoint was trained with other mel settings "
                                "(sample rate, f_min/f_max)")
            else:
                notes.append(f"{mel_key} matches the front end's Slaney mel filterbank (max |diff| {diff:.2g})")
    return problems, notes


def strip_prefix(state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Drop a DataParallel ``module.`` prefix from every key (when all keys have it)."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def assign_panns_state_dict(model, state_dict: Mapping[str, np.ndarray]) -> PannsMapping:
    """Assign a PANNs ``state_dict`` (numpy arrays or anything ``np.asarray`` accepts) to ``model``.

    Every tensor is checked before any variable is written; the model is left unchanged on error.

    Raises:
        WeightsError: listing every missing tensor, every unexpected one and every shape
            mismatch (PyTorch shape → expected Keras shape), plus front-end mismatches.
    """
    state = {k: np.asarray(v) for k, v in strip_prefix(state_dict).items()}
    targets = panns_targets(model)
    dropped = [k for k in state if k.endswith(".num_batches_tracked") or k in _FRONT_END_KEYS]
    problems, notes = _front_end_problems(model, state)
    missing = [k for k in targets if k not in state]
    unexpected = [k for k in state if k not in targets and k not in dropped]
    ready = []
    for key, (variable, name, rule) in targets.items():
        if key not in state:
            continue
        source = state[key]
        want = tuple(variable.shape)
        if source.ndim != {"conv": 4, "dense": 2}.get(rule, 1):
            problems.append(f"{key}: shape {source.shape}, expected {_source_shape(rule, want)} for {name} {want}")
            continue
        value = _transpose(rule, source)
        if tuple(value.shape) != want:
            problems.append(f"{key}: shape {source.shape}, expected {_source_shape(rule, want)} for {name} {want}")
            continue
        ready.append((variable, value.astype(np.float32), TensorMatch(key, name, tuple(source.shape), want)))
    if any(k.endswith(".conv1.weight") and state[k].ndim == 4 and state[k].shape[2:] == (5, 5) for k in state):
        problems.append("5x5 conv kernels: this is a Cnn6 or a pre-fix Cnn10 (before audioset_tagging_cnn commit "
                        "4daa93a, one 5x5 conv per block); kaudio's panns_cnn has two 3x3 convs per block")
    if missing:
        problems.insert(0, f"missing from the checkpoint ({len(missing)}): {', '.join(missing)}")
    if unexpected:
        problems.insert(0, f"not used by the model ({len(unexpected)}): {', '.join(unexpected)}")
    if problems:
        raise WeightsError("the PANNs state_dict does not fit the model:\n" + "\n".join(f"  - {p}" for p in problems))
    for variable, value, _ in ready:
        variable.assign(value)
    return PannsMapping(tuple(m for _, _, m in ready), tuple(dropped), tuple(notes))


def _source_shape(rule: str, keras_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The PyTorch shape that maps onto ``keras_shape``."""
    if rule == "conv":
        kh, kw, c_in, c_out = keras_shape
        return (c_out, c_in, kh, kw)
    if rule == "dense":
        return tuple(reversed(keras_shape))
    return keras_shape


def _numpy_safe_globals() -> list:
    """numpy array / scalar / dtype reconstructors: data only, no code. Training checkpoints hold
    numpy objects beside the weights (e.g. the sampler state), which plain weights-only loading refuses."""
    import importlib

    found = [np.ndarray, np.dtype]
    for module_name in ("numpy.core.multiarray", "numpy._core.multiarray"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        found += [getattr(module, name) for name in ("_reconstruct", "scalar") if hasattr(module, name)]
    try:
        import numpy.dtypes as dtypes

        found += [getattr(dtypes, name) for name in dir(dtypes) if name.endswith("DType")]
    except ImportError:
        pass
    return found


def read_panns_checkpoint(path: str | os.PathLike, trust_pickle: bool = False) -> dict[str, np.ndarray]:
    """The state_dict of a PANNs ``.pth`` checkpoint as numpy arrays (weights under ``'model'``;
    a bare state_dict is accepted too).

    Loads with ``torch.load(weights_only=True)``, allowing numpy arrays, scalars and dtypes
    (training checkpoints store numpy objects beside the weights). Anything else needs
    ``trust_pickle=True`` (full unpickling, which can run code from the file).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"no such checkpoint file: {str(path)!r}")
    try:
        import torch
    except ImportError as err:
        raise KaudioError("reading a PyTorch .pth checkpoint needs torch: pip install kaudio[torch]") from err
    try:
        if trust_pickle:
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        else:
            with torch.serialization.safe_globals(_numpy_safe_globals()):
                checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  torch.load raises RuntimeError, pickle.UnpicklingError, EOFError,
        # KeyError …, and with weights_only=False whatever the unpickled code raises: no common base
        hint = "" if trust_pickle else (" If you trust the file, retry with --trust-pickle (full unpickling can "
                                        "run code from the file).")
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise WeightsError(f"cannot read {str(path)!r} as a PyTorch checkpoint: {type(err).__name__}: {first}.{hint}") from err
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state or not all(hasattr(v, "shape") for v in state.values()):
        raise WeightsError(f"{str(path)!r} holds no state_dict (expected a dict of tensors under 'model')")
    return {k: (v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)) for k, v in state.items()}


def convert_panns(checkpoint: str | os.PathLike, out: str | os.PathLike, arch: str | None = None,
                  spec=None, trust_pickle: bool = False):
    """Read a PANNs checkpoint, build the matching kaudio model, assign the weights, save ``out`` (.keras).

    Args:
        checkpoint: the ``.pth`` file.
        out: the ``.keras`` model file to write.
        arch: a PANNs preset, ``cnn14``, ``cnn10`` or ``cnn14_16k`` (picks the bundled spec and its overrides).
        spec: instead of ``arch``, any spec (path, name, dict) with a panns_cnn backbone.

    Returns:
        ``(model, PannsMapping)``.
    """
    from kaudio.builder import build

    out = Path(out)
    if out.suffix != ".keras":
        raise KaudioError(f"--out must end in .keras (Keras 3 model archive), got {str(out)!r}")
    if out.parent and not out.parent.exists():
        raise KaudioError(f"--out directory {str(out.parent)!r} does not exist")
    if spec is None:
        if arch not in PRESETS:
            from kaudio.spec.schema import did_you_mean

            hint = did_you_mean(arch, PRESETS) if isinstance(arch, str) else ""
            raise KaudioError(f"unknown PANNs architecture {arch!r}{hint}; choose one of {', '.join(PRESETS)}")
        spec = PRESETS[arch].load_spec()
    state = read_panns_checkpoint(checkpoint, trust_pickle=trust_pickle)
    model = build(spec)
    try:
        mapping = assign_panns_state_dict(model, state)
    except WeightsError as err:
        raise WeightsError(f"{checkpoint}: {err}") from err
    model.save(out)
    return model, mapping
