"""Fusion heads: join the outputs of named towers (spec section ``fusion:``, registry kind ``fusion``).

``concat_mlp`` is the L3-Net fusion (Arandjelović & Zisserman 2017; Cramer et al. 2019, §2, as in
the marl/l3embedding repository): concatenate the towers' vectors in a fixed order (vision first),
then fully connected layers — Dense 128 ReLU → Dense 2 softmax for audio-visual correspondence —
with he_normal kernels and L2 1e-5 kernel regularisation, no dropout::

    fusion:
      type: concat_mlp
      order: [vision, audio]     # concatenation order (default: the towers in spec order)
      hidden: [128]
      num_classes: 2
      activation: softmax
"""
from __future__ import annotations

from typing import Mapping, Sequence

import keras

from kaudio.registry import register
from kaudio.spec.schema import Field, Schema, did_you_mean

ACTIVATIONS = ("softmax", "sigmoid", "linear")


@keras.saving.register_keras_serializable(package="kaudio")
@register("fusion", "concat_mlp")
class ConcatMLPFusion(keras.Model):
    """``{tower: (batch, D_tower)}`` → concat in ``order`` → hidden Dense layers → ``Dense(num_classes)``.

    Args:
        input_dims: ``{tower name: vector width}``.
        order: tower names in concatenation order (every tower once).
        hidden: widths of the hidden layers.
        hidden_activation: their activation.
        num_classes: width of the output layer (``classifier``).
        activation: ``softmax``, ``sigmoid`` or ``linear`` on the output.
        l2_regularization: L2 factor on every kernel (0 = none).
        kernel_initializer: Keras initializer name.
        dropout: dropout before each Dense layer (0 = none).
    """

    spec_schema = Schema((
        Field("order", list, None, "tower names in concatenation order (default: the spec's order)", item_kind=str,
              nullable=True),
        Field("hidden", list, [128], "widths of the hidden Dense layers", item_kind=int, minimum=1),
        Field("hidden_activation", str, "relu", "activation of the hidden layers"),
        Field("num_classes", int, doc="width of the output layer", minimum=1),
        Field("activation", str, "softmax", "activation of the output layer", choices=ACTIVATIONS),
        Field("l2_regularization", float, 1e-5, "L2 factor on every kernel", minimum=0.0),
        Field("kernel_initializer", str, "he_normal", "Keras initializer of the kernels"),
        Field("dropout", float, 0.0, "dropout before each Dense layer", minimum=0.0, maximum=0.95),
    ))

    def __init__(self, input_dims: Mapping[str, int], order: Sequence[str], hidden: Sequence[int] = (128,),
                 hidden_activation: str = "relu", num_classes: int = 2, activation: str = "softmax",
                 l2_regularization: float = 1e-5, kernel_initializer: str = "he_normal", dropout: float = 0.0,
                 **kwargs):
        # === Layers === (inline) / === Functional Model ===
        inputs = {name: keras.Input((int(dim),), name=name) for name, dim in input_dims.items()}
        x = keras.layers.Concatenate(name="concat")([inputs[name] for name in order])

        def dense(units, act, name):
            regularizer = keras.regularizers.L2(l2_regularization) if l2_regularization else None
            return keras.layers.Dense(int(units), activation=act, kernel_initializer=kernel_initializer,
                                      kernel_regularizer=regularizer, name=name)

        for i, units in enumerate(hidden):
            if dropout:
                x = keras.layers.Dropout(dropout, name=f"dropout{i + 1}")(x)
            x = dense(units, hidden_activation, f"hidden{i + 1}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="dropout")(x)
        outputs = dense(num_classes, None if activation == "linear" else activation, "classifier")(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # === Config ===
        self.input_dims = {name: int(dim) for name, dim in input_dims.items()}
        self.order = list(order)
        self.hidden = [int(units) for units in hidden]
        self.hidden_activation = hidden_activation
        self.num_classes = int(num_classes)
        self.activation = activation
        self.l2_regularization = float(l2_regularization)
        self.kernel_initializer = kernel_initializer
        self.dropout = float(dropout)

    def get_config(self):
        return {"input_dims": self.input_dims, "order": self.order, "hidden": self.hidden,
                "hidden_activation": self.hidden_activation, "num_classes": self.num_classes,
                "activation": self.activation, "l2_regularization": self.l2_regularization,
                "kernel_initializer": self.kernel_initializer, "dropout": self.dropout, "name": self.name,
                "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # --- spec component -----------------------------------------------------------------------

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        """``order`` names every tower once; the activations and initializer exist in Keras."""
        towers = list(context.towers)
        problems = []
        order = params["order"]
        if order is not None:
            for i, name in enumerate(order):
                if name not in towers:
                    problems.append((f"order[{i}]", f"no tower {name!r}{did_you_mean(name, towers)} "
                                                    f"(towers: {', '.join(towers)})"))
            missing = [name for name in towers if name not in order]
            repeated = sorted({name for name in order if order.count(name) > 1})
            if missing:
                problems.append(("order", f"every tower is concatenated once; missing: {', '.join(missing)}"))
            if repeated:
                problems.append(("order", f"listed more than once: {', '.join(repeated)}"))
        else:
            params["order"] = towers
        for key, getter in (("hidden_activation", keras.activations.get), ("kernel_initializer", keras.initializers.get)):
            try:
                getter(params[key])
            except ValueError as err:
                problems.append((key, f"unknown {key.replace('_', ' ')} {params[key]!r} ({err})"))
        return problems

    @classmethod
    def spec_output_shape(cls, params: dict, tower_shapes: Mapping[str, tuple]) -> tuple[tuple | None, list]:
        problems = [("", f"tower {name!r} gives {tuple(shape)} per example; concat_mlp needs a vector: give the "
                         f"tower a pooling head (e.g. towers.{name}.pooling: {{type: global_pool}})")
                    for name, shape in tower_shapes.items()
                    if isinstance(shape, dict) or len(shape) != 1 or shape[0] is None]
        return (None, problems) if problems else ((params["num_classes"],), [])

    @classmethod
    def from_spec(cls, params: dict, tower_shapes: Mapping[str, tuple], name: str = "fusion"):
        return cls(input_dims={tower: shape[0] for tower, shape in tower_shapes.items()}, name=name, **params)
