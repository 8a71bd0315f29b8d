"""The model every spec builds: one chain (input → front end → backbone → head) or named towers
joined by a fusion head, as one functional Keras model."""
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
    imported. The spec it records is the *model* spec (:func:`model_spec`): no teacher and no
    machine-specific ``train.init_weights`` path, so a saved model loads anywhere.

    * A chain spec gives layers named after their sections: ``frontend``, ``backbone``, ``head``;
      the model takes the input tensor and returns the head's output (a tensor, or a dict for a
      head with several outputs such as ``{"fine", "coarse"}``).
    * A ``towers`` spec gives one nested ``keras.Model`` per tower (:meth:`tower`), named
      ``<tower>_tower``, and a ``fusion`` layer; the model takes ``{tower name: input}`` and
      returns the fusion head's output.

    Args:
        spec: a :class:`~kaudio.spec.Spec`, a spec path / bundled name, or the dict from
            ``Spec.to_dict()`` (what the saved config holds).
        dtype_policy: the Keras dtype policy every layer is built under (e.g. ``"mixed_bfloat16"``;
            front ends keep a precision their spec asks for); default: the current default policy,
            so a model built inside :func:`kaudio.dtypes.dtype_policy_scope` records that policy.
            Saved with the model.
    """

    def __init__(self, spec: "Spec | dict | str", dtype_policy=None, **kwargs):
        from kaudio.dtypes import dtype_policy_scope, policy_name

        spec = model_spec(load_spec(spec))
        kwargs.setdefault("name", spec.name)
        policy = policy_name(dtype_policy)
        # === Layers === / === Functional Model === (every layer built under the dtype policy)
        with dtype_policy_scope(policy):
            inputs, outputs = self._graph(spec)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # === Config ===
        self.spec = spec
        self.dtype_policy_name = policy
        self.dtype_policy = policy  # functional models ignore a `dtype=` argument (as keras-hub's backbones)

    @staticmethod
    def _graph(spec: Spec):
        """``(inputs, outputs)`` of the spec's graph: one chain, or towers joined by the fusion head."""
        if spec.towers:
            towers = {name: _tower_model(spec, name) for name in spec.towers}
            inputs = {name: keras.Input(shape=tuple(tower.inputs[0].shape[1:]), name=name)
                      for name, tower in towers.items()}
            tower_outputs = {name: tower(inputs[name]) for name, tower in towers.items()}
            fusion = spec.component("fusion").from_spec(
                spec.params("fusion"), {name: tuple(t.output.shape[1:]) for name, t in towers.items()}, name="fusion")
            return inputs, fusion(tower_outputs)
        return _chain(spec.sections, spec.shapes, spec.source)

    @property
    def frontend(self) -> keras.layers.Layer | None:
        return self._get_optional_layer("frontend")

    @property
    def backbone(self) -> keras.Model:
        return self.get_layer("backbone")

    @property
    def head(self) -> keras.layers.Layer | None:
        return self._get_optional_layer("head")

    @property
    def tower_names(self) -> list[str]:
        """The towers of a ``towers`` spec, in spec order (empty for a chain)."""
        return list(self.spec.towers or {})

    def tower(self, name: str) -> keras.Model:
        """Tower ``name`` as its own ``keras.Model`` (input → front end → backbone → pooling), sharing
        this model's weights; save it with ``tower.save("audio.keras")``."""
        if name not in self.tower_names:
            from kaudio.spec.schema import did_you_mean

            what = f"towers: {', '.join(self.tower_names)}" if self.tower_names else "this model has no towers"
            raise KaudioError(f"no tower {name!r}{did_you_mean(name, self.tower_names)} ({what})")
        return self.get_layer(f"{name}_tower")

    def _get_optional_layer(self, name: str):
        return next((layer for layer in self.layers if layer.name == name), None)

    def get_config(self) -> dict[str, Any]:
        config = {"spec": self.spec.to_dict(), "name": self.name, "trainable": self.trainable}
        if self.dtype_policy_name != "float32":
            config["dtype_policy"] = self.dtype_policy_name
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


#: ``train`` keys naming files that initialise training (validation requires them to exist); a saved model records null.
MACHINE_PATH_KEYS = ("init_weights", "init_from")


def model_spec(spec: Spec) -> Spec:
    """The spec a built model records: ``teacher: null`` in place of a teacher section (it stays
    a spec that a distillation trainer validates, without the teacher's files) and
    ``train.init_weights`` / ``train.init_from`` set to null (machine-specific paths that validation
    requires to exist; ``train.init_head`` false with them), so that a saved model loads on any machine. The training run keeps the full spec in its
    ``spec.yaml``."""
    data = spec.to_dict()
    changed = data.get("teacher") is not None
    if changed:
        data["teacher"] = None
    for key in MACHINE_PATH_KEYS:
        if (data.get("train") or {}).get(key):
            data["train"][key] = None
            changed = True
    if (data.get("train") or {}).get("init_head"):  # means nothing without init_weights (and is refused without it)
        data["train"]["init_head"] = False
    if not changed:
        return spec
    model = load_spec(data)
    return Spec(model.name, model.description, model.sections, spec.source, data, model.shapes)


def _chain(sections: dict, shapes: dict, source: str | None, prefix: str = ""):
    """Build ``input → frontend → backbone → head`` from validated sections; returns (inputs, outputs)."""
    from kaudio import registry

    def component(kind):
        section = sections.get(kind)
        return (registry.get(kind, section["type"]), {k: v for k, v in section.items() if k not in ("type", "preset")}) \
            if section else (None, None)

    input_cls, _ = component("input")
    inputs = input_cls.make(sections["input"], name=prefix or sections["input"]["type"])
    frontend_cls, frontend_params = component("frontend")
    frontend = frontend_cls.from_spec(frontend_params, sections["input"], name="frontend") if frontend_cls else None
    feature_shape = tuple(frontend.compute_output_shape(tuple(inputs.shape))[1:]) if frontend else tuple(inputs.shape[1:])
    _check_predicted(shapes, "frontend", feature_shape if frontend else None)
    backbone_cls, backbone_params = component("backbone")
    backbone = backbone_cls.from_spec(backbone_params, feature_shape, name="backbone")
    backbone_shape = tuple(backbone.output.shape[1:])
    _check_predicted(shapes, "backbone", backbone_shape)
    head_cls, head_params = component("head")
    head = None
    if head_cls is not None:
        if shapes.get("backbone") is None and hasattr(head_cls, "spec_output_shape"):
            # validation could not know the backbone's output: check the head against the real one
            _, problems = head_cls.spec_output_shape(sections["head"], backbone_shape)
            if problems:
                where = f"towers.{prefix}.pooling" if prefix else "head"
                raise SpecError([SpecProblem(".".join(filter(None, (where, key))), msg, source)
                                 for key, msg in problems], source)
        head = head_cls.from_spec(head_params, backbone_shape, name="pooling" if prefix else "head")
    x = frontend(inputs) if frontend else inputs
    x = backbone(x)
    return inputs, (head(x) if head else x)


def _tower_model(spec: Spec, name: str) -> keras.Model:
    """One tower as a nested functional model ``<name>_tower`` (its input is named after the tower)."""
    inputs, outputs = _chain(spec.tower_sections(name), spec.shapes.get("towers", {}).get(name, {}), spec.source,
                             prefix=name)
    return keras.Model(inputs=inputs, outputs=outputs, name=f"{name}_tower")


def _check_predicted(shapes: dict, kind: str, built: tuple | None) -> None:
    """The shape validation predicted for ``kind`` must be the one Keras built (a guard on the
    components' ``spec_output_shape``, which is what makes ``kaudio validate`` as strict as build)."""
    predicted = shapes.get(kind)
    if predicted is not None and built is not None and tuple(predicted) != tuple(built):
        raise KaudioError(f"internal error: validation predicted a {kind} output of {tuple(predicted)}, the built "
                          f"layer gives {tuple(built)}; please report this with the spec")
