"""Model cards: what a built model is, in numbers (``kaudio build`` prints one)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import keras


def _count(weights) -> int:
    return int(sum(math.prod(w.shape) for w in weights))


def _walk(layer):
    """Every leaf layer inside ``layer`` (recursing through nested models)."""
    if isinstance(layer, keras.Model):
        for sub in layer.layers:
            yield from _walk(sub)
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
    frontend: dict | None
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
        if self.frontend:
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
    """Build the :class:`ModelCard` of a :class:`~kaudio.models.KaudioModel`."""
    spec = model.spec
    input_cls = spec.component("input")
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    macs = frontend_macs = 0
    for layer in _walk(model):
        n = layer_multiply_adds(layer)
        if n:
            macs += n
            if layer is model.frontend:
                frontend_macs += n
    notes = []
    frontend = model.frontend.describe() if model.frontend is not None else None
    if frontend and frontend.get("empty_mel_bands"):
        notes.append(f"{frontend['empty_mel_bands']} mel band(s) contain no FFT bin and stay at the dB floor "
                     "(low HTK bands narrower than the FFT bin spacing; expected for OpenL3's mel256)")
    return ModelCard(
        name=spec.name, description=spec.description, input=input_cls.describe(spec.input), frontend=frontend,
        output_shape=_output_shape(model), total_params=trainable + non_trainable, trainable_params=trainable,
        non_trainable_params=non_trainable, multiply_adds=macs, frontend_multiply_adds=frontend_macs,
        source=spec.source, notes=notes,
    )


def _output_shape(model):
    out = model.outputs
    shapes = [tuple(t.shape) for t in out]
    return shapes[0] if len(shapes) == 1 else shapes

