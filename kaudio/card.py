"""Model cards: what a built model is, in numbers (``kaudio build`` prints one)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import keras


def _count(weights) -> int:
    return int(sum(math.prod(w.shape) for w in weights))


def leaf_layers(layer):
    """Every leaf layer inside ``layer`` (recursing through nested models)."""
    if isinstance(layer, keras.Model):
        for sub in layer.layers:
            yield from leaf_layers(sub)
    else:
        yield layer


def _shape(tensor_or_list):
    if isinstance(tensor_or_list, (list, tuple)):
        tensor_or_list = tensor_or_list[0]
    return tuple(tensor_or_list.shape)


def layer_multiply_adds(layer) -> int | None:
    """Multiply-adds per example of one layer, or ``None`` if it does none worth counting.

    Conv2D: output positions × kh·kw·(C_in/groups)·C_out. Dense: leading positions × in·out.
    Layers that define ``multiply_adds(input_shape)`` (front ends) report their own.
    Batch norm, activations and pooling are not counted (folded or negligible at inference).
    """
    if hasattr(layer, "multiply_adds"):
        return int(layer.multiply_adds(_shape(layer.input)))
    if isinstance(layer, keras.layers.Conv2D):
        out = _shape(layer.output)
        kh, kw = layer.kernel_size
        c_in = layer.kernel.shape[2]
        return int(math.prod(d for d in out[1:-1] if d) * kh * kw * c_in * layer.filters)
    if isinstance(layer, keras.layers.Dense):
        inp = _shape(layer.input)
        return int(math.prod(d for d in inp[1:-1] if d) * inp[-1] * layer.units)
    return None


@dataclass
class ModelCard:
    name: str
    description: str
    input: str
    frontend: dict | None  # one front end's settings, or {tower: settings} for a towers model
    output_shape: tuple
    total_params: int
    trainable_params: int
    non_trainable_params: int
    multiply_adds: int
    frontend_multiply_adds: int
    source: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        lines = [f"Model card: {self.name}", f"  {self.description}"]
        if self.source:
            lines.append(f"  spec:            {self.source}")
        lines.append(f"  input:           {self.input}")
        if self.frontend and all(isinstance(v, dict) for v in self.frontend.values()):
            for tower, settings in self.frontend.items():
                items = [f"{k}={v}" for k, v in settings.items()]
                lines.append(f"  front end ({tower}): " + _wrap(items, 19))
        elif self.frontend:
            items = [f"{k}={v}" for k, v in self.frontend.items()]
            lines.append("  front end:       " + _wrap(items, 19))
        lines.append(f"  output shape:    {self.output_shape}  (batch first)")
        lines.append(f"  parameters:      {self.total_params:,} total = {self.trainable_params:,} trainable "
                     f"+ {self.non_trainable_params:,} non-trainable")
        net = self.multiply_adds - self.frontend_multiply_adds
        lines.append(f"  multiply-adds:   {_human(self.multiply_adds)} per example "
                     f"({self.multiply_adds:,}; network {_human(net)}, front end {_human(self.frontend_multiply_adds)})")
        lines += [f"  note:            {n}" for n in self.notes]
        return "\n".join(lines)


def _wrap(items, indent, width=100):
    out, line = [], ""
    for item in items:
        if line and len(line) + len(item) + 2 > width - indent:
            out.append(line + ",")
            line = item
        else:
            line = f"{line}, {item}" if line else item
    out.append(line)
    return ("\n" + " " * indent).join(out)


def _human(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def model_card(model) -> ModelCard:
    """Build the :class:`ModelCard` of a :class:`~kaudio.models.KaudioModel` (a chain or towers)."""
    from kaudio import registry

    spec = model.spec
    if spec.towers:
        chains = {name: (spec.tower_sections(name), _frontend_of(model.tower(name))) for name in spec.towers}
    else:
        chains = {"": (spec.sections, _frontend_of(model))}
    frontends = {name: frontend for name, (_, frontend) in chains.items() if frontend is not None}
    inputs = [(f"{name}: " if name else "") + registry.get("input", sections["input"]["type"]).describe(sections["input"])
              for name, (sections, _) in chains.items()]
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    macs = frontend_macs = 0
    for layer in leaf_layers(model):
        n = layer_multiply_adds(layer)
        if n:
            macs += n
            if any(layer is frontend for frontend in frontends.values()):
                frontend_macs += n
    notes = []
    described = {name: frontend.describe() for name, frontend in frontends.items()}
    for name, settings in described.items():
        if settings.get("empty_mel_bands"):
            where = f" ({name})" if name else ""
            notes.append(f"{settings['empty_mel_bands']} mel band(s){where} contain no FFT bin and stay at the dB "
                         "floor (low HTK bands narrower than the FFT bin spacing; expected for OpenL3's mel256)")
    frontend = described.get("") if "" in described else (described or None)
    return ModelCard(
        name=spec.name, description=spec.description, input="; ".join(inputs), frontend=frontend,
        output_shape=_output_shape(model), total_params=trainable + non_trainable, trainable_params=trainable,
        non_trainable_params=non_trainable, multiply_adds=macs, frontend_multiply_adds=frontend_macs,
        source=spec.source, notes=notes,
    )


def _frontend_of(model):
    return next((layer for layer in model.layers if layer.name == "frontend"), None)


def _output_shape(model):
    out = model.outputs
    shapes = [tuple(t.shape) for t in out]
    return shapes[0] if len(shapes) == 1 else shapes

