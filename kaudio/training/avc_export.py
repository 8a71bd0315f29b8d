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
    import keras

    from kaudio.builder import build
    from kaudio.embedding.models import model_spec
    from kaudio.spec import load_spec

    run_dir = Path(run_dir)
    spec_path, weights_path = run_dir / "spec.yaml", run_dir / "best.keras"
    for path in (spec_path, weights_path):
        if not path.is_file():
            raise KaudioError(f"{run_dir}: no {path.name}; give the folder of a finished or running `kaudio train` "
                              "AVC run (it holds spec.yaml and best.keras)")
    spec = load_spec(spec_path)
    wanted = [("audio", Path(out))] + ([("vision", Path(vision_out))] if vision_out is not None else [])
    names = {tower: embedding_model_for(spec, tower) for tower, _ in wanted}
    for _, path in wanted:
        if not path.name.endswith(".weights.h5"):
            raise KaudioError(f"{path}: the output must end in .weights.h5 (the file kaudio.embed loads)")
    try:
        model = keras.models.load_model(weights_path)
    except Exception as err:  # Keras raises ValueError, OSError, zipfile errors … for a damaged archive
        raise KaudioError(f"{weights_path}: cannot load the run's model ({type(err).__name__}: {err}); is the run "
                          "complete?") from err
    exported = []
    for tower, path in wanted:
        trained = model.tower(tower).get_layer("backbone")
        embedding = build(model_spec(names[tower], 512)).backbone
        for layer in embedding.layers:
            if layer.weights:
                layer.set_weights(trained.get_layer(layer.name).get_weights())
        path.parent.mkdir(parents=True, exist_ok=True)
        embedding.save_weights(path)
        exported.append(ExportedEmbedding(tower, path, names[tower]))
    return exported
