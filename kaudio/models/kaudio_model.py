"""The model every spec builds: input → front end → backbone → head, as one functional model."""
from __future__ import annotations

from typing import Any

import keras

from kaudio.errors import KaudioError, SpecError, SpecProblem
from kaudio.spec.validate import Spec, load_spec


@keras.saving.register_keras_serializable(package="kaudio")
class KaudioModel(keras.Model):
    """A functional ``keras.Model`` assembled from a validated spec.

    Its config is the spec itself (``model.get_config()["spec"]``), so ``keras.models.load_model``
    rebuilds the same graph and restores the weights with no ``custom_objects`` once kaudio is
    imported. Sub-models and layers are named after their sections: ``frontend``, ``backbone``,
    ``head``.

    Args:
        spec: a :class:`~kaudio.spec.Spec`, a spec path / bundled name, or the dict from
            ``Spec.to_dict()`` (what the saved config holds).
    """

    def __init__(self, spec: "Spec | dict | str", **kwargs):
        spec = load_spec(spec)
        input_cls = spec.component("input")
        frontend_cls = spec.component("frontend")
        backbone_cls = spec.component("backbone")
        head_cls = spec.component("head")

        # === Layers ===
        inputs = input_cls.make(spec.input, name=spec.input["type"])
        frontend = frontend_cls.from_spec(spec.params("frontend"), spec.input, name="frontend") if frontend_cls else None
        feature_shape = tuple(frontend.compute_output_shape(tuple(inputs.shape))[1:]) if frontend else tuple(inputs.shape[1:])
        _check_predicted(spec, "frontend", feature_shape if frontend else None)
        backbone = backbone_cls.from_spec(spec.params("backbone"), feature_shape, name="backbone")
        backbone_shape = tuple(backbone.output.shape[1:])
        _check_predicted(spec, "backbone", backbone_shape)
        head = None
        if head_cls is not None:
            if spec.shapes.get("backbone") is None and hasattr(head_cls, "spec_output_shape"):
                # validation could not know the backbone's output: check the head against the real one
                _, problems = head_cls.spec_output_shape(spec.head, backbone_shape)
                if problems:
                    raise SpecError([SpecProblem(".".join(filter(None, ("head", key))), msg, spec.source)
                                     for key, msg in problems], spec.source)
            head = head_cls.from_spec(spec.params("head"), backbone_shape, name="head")

        # === Functional Model ===
        x = frontend(inputs) if frontend else inputs
        x = backbone(x)
        outputs = head(x) if head else x
        kwargs.setdefault("name", spec.name)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.spec = spec

    @property
    def frontend(self) -> keras.layers.Layer | None:
        return self._get_optional_layer("frontend")

    @property
    def backbone(self) -> keras.Model:
        return self.get_layer("backbone")

    @property
    def head(self) -> keras.layers.Layer | None:
        return self._get_optional_layer("head")

    def _get_optional_layer(self, name: str):
        return next((layer for layer in self.layers if layer.name == name), None)

    def get_config(self) -> dict[str, Any]:
        return {"spec": self.spec.to_dict(), "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_predicted(spec: Spec, kind: str, built: tuple | None) -> None:
    """The shape validation predicted for ``kind`` must be the one Keras built (a guard on the
    components' ``spec_output_shape``, which is what makes ``kaudio validate`` as strict as build)."""
    predicted = spec.shapes.get(kind)
    if predicted is not None and built is not None and tuple(predicted) != tuple(built):
        raise KaudioError(f"internal error: validation predicted a {kind} output of {tuple(predicted)}, the built "
                          f"layer gives {tuple(built)}; please report this with the spec")
