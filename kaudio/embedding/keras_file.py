"""An audio embedding model saved as a ``.keras`` file (``kaudio avc export RUN --keras-out FILE.keras``).

The named embedding models (:mod:`kaudio.embedding.models`) are the OpenL3 networks; any other
trained embedding — for example the audio tower of a scaled-down AVC run — travels as a whole
Keras model: a kaudio chain model (:class:`~kaudio.models.kaudio_model.KaudioModel`, its spec in its
config) whose input is mono audio windows ``(samples, 1)`` at the spec's sample rate and whose
output is one vector per window ``(batch, dimension)``. :func:`load_keras_embedding` checks that,
and with ``weights=None`` rebuilds the same network from its spec with freshly drawn weights (the
layers' own initialisers under ``keras.utils.set_random_seed(seed)``): the untrained baseline of the
same architecture.

Its identity (what a feature cache compares) is the file's sha256, and for random weights the
seed too: see :attr:`KerasEmbedding.weights_identity`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kaudio.errors import InputError

KERAS_SUFFIX = ".keras"
EXPORT_HINT = "write one with `kaudio avc export RUN --keras-out FILE.keras`"


def is_keras_file(model) -> bool:
    """Whether a ``--model`` / ``model=`` value names a ``.keras`` file rather than a model name."""
    return isinstance(model, (str, os.PathLike)) and str(model).lower().endswith(KERAS_SUFFIX)


@dataclass
class KerasEmbedding:
    """A loaded ``.keras`` embedding model and what identifies it.

    Attributes:
        model: the Keras model (audio windows ``(batch, samples, 1)`` → ``(batch, dimension)``).
        path: the file.
        sha256: the file's sha256 (hex).
        seed: ``None`` for the file's weights, else the seed of the random re-initialisation.
    """

    model: object
    path: Path
    sha256: str
    seed: int | None

    @property
    def name(self) -> str:
        return self.model.spec.name

    @property
    def sample_rate(self) -> int:
        return int(self.model.spec.input["sample_rate"])

    @property
    def samples(self) -> int:
        return int(self.model.spec.input["samples"])

    @property
    def dimension(self) -> int:
        return int(self.model.output.shape[-1])

    @property
    def frontend(self) -> str:
        """The front end's preset or type (``none`` without one), as the named models' settings record it."""
        frontend = self.model.spec.frontend
        return str(frontend.get("preset") or frontend["type"]) if frontend else "none"

    @property
    def weights_identity(self) -> str:
        """``file sha256 <hex>``, or ``random seed <n> (the network of file sha256 <hex>)``."""
        if self.seed is None:
            return f"file sha256 {self.sha256}"
        return f"random seed {self.seed} (the network of file sha256 {self.sha256})"


def load_keras_embedding(path: "str | os.PathLike", weights: str | None = "file", seed: int = 0) -> KerasEmbedding:
    """Load and check a ``.keras`` audio embedding model.

    Args:
        path: the ``.keras`` file.
        weights: ``"file"`` (or ``"pretrained"``: the file's own weights), or ``None``: the same
            network with weights drawn by its initialisers under ``keras.utils.set_random_seed(seed)``.
        seed: the seed of the random weights.

    Raises:
        InputError: no such file, a file Keras cannot load, not a kaudio audio embedding model
            (another kind of Keras model, a two-tower AVC network, an input that is not mono audio
            windows, an output that is not one vector per window).
    """
    import keras

    from kaudio.embedding.settings import file_sha256
    from kaudio.models.kaudio_model import KaudioModel

    path = Path(path).expanduser()
    if weights not in ("file", "pretrained", None):
        raise InputError(f"--weights {weights!r} does not apply to {path.name}: a .keras model carries its weights; "
                         "use the default (its own weights) or 'none' (the same network with random weights)")
    if not path.is_file():
        raise InputError(f"no such embedding model file: {path} ({EXPORT_HINT})")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as err:  # Keras raises ValueError, OSError, zipfile errors, TypeError … for a bad archive
        raise InputError(f"{path}: cannot load as a Keras model ({type(err).__name__}: {err}); a .keras embedding "
                         f"model is a Keras archive saved by kaudio ({EXPORT_HINT})") from err
    _check(model, path)
    if weights is None:
        keras.utils.set_random_seed(seed)
        model = KaudioModel(model.spec, dtype_policy=model.dtype_policy_name)
    return KerasEmbedding(model, path, file_sha256(path), None if weights is not None else int(seed))


def _check(model, path: Path) -> None:
    from kaudio.models.kaudio_model import KaudioModel

    if not isinstance(model, KaudioModel):
        raise InputError(f"{path}: not a kaudio embedding model (a {type(model).__name__} without a kaudio spec); "
                         f"{EXPORT_HINT}")
    spec = model.spec
    if spec.towers:
        raise InputError(f"{path}: not a kaudio embedding model but the two-tower network {spec.name!r} "
                         f"(towers {', '.join(spec.towers)}); export its audio embedding with `kaudio avc export RUN "
                         "--keras-out FILE.keras`")
    expected = (int(spec.input["samples"]), 1) if spec.input.get("type") == "audio" else None
    shapes = [tuple(i.shape[1:]) for i in model.inputs]
    got = shapes[0] if len(shapes) == 1 else tuple(shapes)
    if expected is None or got != expected:
        raise InputError(f"{path}: wrong input shape for an audio embedding model: it takes {got} "
                         f"({spec.input.get('type')} input), kaudio feeds mono audio windows (samples, 1)")
    output = model.output
    if not hasattr(output, "shape") or len(output.shape) != 2:
        shape = tuple(output.shape) if hasattr(output, "shape") else f"a {type(output).__name__} of outputs"
        raise InputError(f"{path}: wrong output for an audio embedding model: {shape}; it must give one vector per "
                         f"window, (batch, dimension) ({EXPORT_HINT})")
