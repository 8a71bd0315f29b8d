"""Export the embedding networks of a trained AVC run (``kaudio avc export``).

The embedding of L3-Net / OpenL3 is the output of a tower's last conv (``audio_embedding_layer``,
``vision_embedding_layer``) *before* the batch norm and ReLU the AVC network adds after it
(Cramer et al. 2019, §3.1; ``convert_audio_model_to_embedding`` in marl/l3embedding), max-pooled.
An AVC spec's towers have ``embedding_bn_relu: true``; the embedding models of
:mod:`kaudio.embedding.models` (``openl3_mel256_music`` …) have ``false``. :func:`export_embeddings`
copies a run's tower backbone weights, minus that batch norm, into the embedding model's backbone
and saves them as a kaudio ``.weights.h5`` that ``kaudio.embed(..., model=NAME, weights=FILE)`` and
``kaudio.embed_image(..., model=NAME, weights=FILE)`` load.

The embedding model is chosen by the audio tower's front end (mel256 → ``openl3_mel256_*``, mel128
→ ``openl3_mel128_*``, linear → ``openl3_linear_*``; ``_music`` and ``_env`` are the same network).
A tower that the embedding model's network cannot reproduce exactly — another input, front end or
backbone configuration — is refused with the differences named.

:func:`export_keras_embedding` (``kaudio avc export RUN --keras-out FILE.keras``) has no such limit:
it writes the audio tower of *any* AVC run (a scaled-down one too) as a whole ``.keras`` embedding
model — the tower's input and front end, its backbone without the final batch norm and ReLU, a
global max pool (:func:`audio_embedding_spec`) — that ``kaudio downstream DATA --model FILE.keras``
embeds with (:mod:`kaudio.embedding.keras_file`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kaudio.errors import KaudioError

#: Keys that may differ between a tower and the embedding network (they do not change the embedding).
_IGNORED = {"l2_regularization", "embedding_bn_relu"}


@dataclass
class ExportedEmbedding:
    """One exported tower: the file and the embedding model name that loads it."""

    tower: str
    path: Path
    model: str


def _representation(frontend: dict) -> str | None:
    if frontend.get("type") == "linear":
        return "linear"
    if frontend.get("type") == "mel" and frontend.get("n_mels") in (128, 256):
        return f"mel{frontend['n_mels']}"
    return None


def _differences(tower: dict, embedding_spec) -> list[str]:
    """What in ``tower`` (validated sections) differs from the embedding model's sections."""
    problems = []
    for kind in ("input", "frontend", "backbone"):
        mine, theirs = dict(tower.get(kind) or {}), dict(embedding_spec.sections.get(kind) or {})
        for key in sorted(set(mine) | set(theirs)):
            if key in _IGNORED or key == "preset":
                continue
            if mine.get(key) != theirs.get(key):
                problems.append(f"{kind}.{key}: {mine.get(key)!r} (the model has {theirs.get(key)!r})")
    return problems


def embedding_model_for(spec, tower: str) -> str:
    """The embedding model name whose network is the run's ``tower`` (``audio`` or ``vision``).

    Raises:
        KaudioError: no such tower, or no embedding model reproduces it (the differences named).
    """
    from kaudio.embedding.models import model_spec

    towers = spec.towers or {}
    if "audio" not in towers or tower not in towers:
        raise KaudioError(f"the run's spec {spec.name!r} has no {tower!r} tower (towers: "
                          f"{', '.join(towers) or 'none'}); kaudio avc export reads an AVC run (e.g. l3_avc_m256)")
    sections = spec.tower_sections(tower)
    representation = _representation(sections.get("frontend") or {}) if tower == "audio" else None
    audio_representation = _representation(spec.tower_sections("audio").get("frontend") or {})
    if audio_representation is None:
        frontend = spec.tower_sections("audio").get("frontend") or {"type": "none"}
        bands = f" with {frontend['n_mels']} bands" if "n_mels" in frontend else ""
        raise KaudioError(f"the audio tower's front end ({frontend['type']}{bands}) is none of OpenL3's (mel 256, "
                          "mel 128, linear); its embedding cannot be loaded by a kaudio.embed model")
    name = f"openl3_{representation}_music" if tower == "audio" else f"openl3_image_{audio_representation}_music"
    problems = _differences(sections, model_spec(name, 512))
    if problems:
        raise KaudioError(f"the run's {tower} tower is not the network of {name} ({'; '.join(problems)}); only a "
                          "tower of the L3 sizes (as in l3_avc_m256 / m128 / linear) can be exported for kaudio.embed")
    return name


def export_embeddings(run_dir: "str | os.PathLike", out: "str | os.PathLike",
                      vision_out: "str | os.PathLike | None" = None) -> list[ExportedEmbedding]:
    """Write the audio (and with ``vision_out`` the vision) embedding network of ``run_dir``'s ``best.keras``.

    Raises:
        KaudioError: no run there, a tower no embedding model reproduces, an unwritable output.
    """
    from kaudio.builder import build
    from kaudio.embedding.models import model_spec

    spec = _run_spec(run_dir)
    wanted = [("audio", Path(out))] + ([("vision", Path(vision_out))] if vision_out is not None else [])
    names = {tower: embedding_model_for(spec, tower) for tower, _ in wanted}
    for _, path in wanted:
        if not path.name.endswith(".weights.h5"):
            raise KaudioError(f"{path}: the output must end in .weights.h5 (the file kaudio.embed loads)")
    model = _run_model(run_dir)
    exported = []
    for tower, path in wanted:
        embedding = build(model_spec(names[tower], 512)).backbone
        _copy_weights(model.tower(tower).get_layer("backbone"), embedding)
        path.parent.mkdir(parents=True, exist_ok=True)
        embedding.save_weights(path)
        exported.append(ExportedEmbedding(tower, path, names[tower]))
    return exported


def audio_embedding_spec(spec) -> dict:
    """The chain spec (plain data) of ``spec``'s audio tower as an embedding model: the tower's input
    and front end, its backbone with ``embedding_bn_relu: false`` (the embedding conv's output, before
    the batch norm and ReLU the AVC network adds), and a global max pool over the whole map.

    Raises:
        KaudioError: ``spec`` has no audio tower.
    """
    towers = spec.towers or {}
    if "audio" not in towers:
        raise KaudioError(f"the run's spec {spec.name!r} has no 'audio' tower (towers: {', '.join(towers) or 'none'}); "
                          "kaudio avc export reads an AVC run (e.g. l3_avc_m256)")
    sections = spec.tower_sections("audio")
    backbone = dict(sections["backbone"])
    if "embedding_bn_relu" in backbone:
        backbone["embedding_bn_relu"] = False
    data = {"name": f"{spec.name}_audio_embedding",
            "description": f"the audio embedding of the AVC network {spec.name} (before its final BN/ReLU, max-pooled)",
            "input": dict(sections["input"]), "backbone": backbone, "head": {"type": "global_pool", "mode": "max"}}
    if sections.get("frontend"):
        data["frontend"] = dict(sections["frontend"])
    return data


def export_keras_embedding(run_dir: "str | os.PathLike", out: "str | os.PathLike") -> Path:
    """Write the audio embedding of ``run_dir``'s ``best.keras`` as a standalone ``.keras`` model
    (:func:`audio_embedding_spec` with the trained weights): audio windows ``(batch, samples, 1)`` at the
    tower's sample rate → ``(batch, dimension)``. Returns the path.

    Raises:
        KaudioError: no run there, no audio tower, an output not ending in ``.keras``.
    """
    from kaudio.builder import build
    from kaudio.embedding.keras_file import KERAS_SUFFIX

    out = Path(out)
    if not out.name.endswith(KERAS_SUFFIX):
        raise KaudioError(f"{out}: the output must end in {KERAS_SUFFIX} (a whole Keras model)")
    embedding = build(audio_embedding_spec(_run_spec(run_dir)))
    tower = _run_model(run_dir).tower("audio")
    if embedding.frontend is not None:
        _copy_weights(tower.get_layer("frontend"), embedding.frontend)
    _copy_weights(tower.get_layer("backbone"), embedding.backbone)
    out.parent.mkdir(parents=True, exist_ok=True)
    embedding.save(out)
    return out


def _run_spec(run_dir: "str | os.PathLike"):
    from kaudio.spec import load_spec

    run_dir = Path(run_dir)
    for name in ("spec.yaml", "best.keras"):
        if not (run_dir / name).is_file():
            raise KaudioError(f"{run_dir}: no {name}; give the folder of a finished or running `kaudio train` "
                              "AVC run (it holds spec.yaml and best.keras)")
    return load_spec(run_dir / "spec.yaml")


def _run_model(run_dir: "str | os.PathLike"):
    import keras

    path = Path(run_dir) / "best.keras"
    try:
        return keras.models.load_model(path)
    except Exception as err:  # Keras raises ValueError, OSError, zipfile errors … for a damaged archive
        raise KaudioError(f"{path}: cannot load the run's model ({type(err).__name__}: {err}); is the run "
                          "complete?") from err


def _copy_weights(source, target) -> None:
    """``target``'s weights from ``source``: layer by layer by name for a model, else as a whole."""
    import keras

    if not isinstance(target, keras.Model):
        target.set_weights(source.get_weights())
        return
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
