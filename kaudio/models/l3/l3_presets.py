"""The OpenL3 presets: every released L3-Net network (Cramer et al., "Look, Listen and Learn More",
ICASSP 2019; weights at https://github.com/marl/openl3, branch ``models``), in one table.

openl3 trains one audio and one vision network per ``(input_repr, content_type)``:

* audio ``openl3_{linear,mel128,mel256}_{music,env}`` — the audio network on the front end its
  weights were trained with (front-end preset ``openl3``, kapre 0.1.4);
* audio ``..._v04`` — the same weights on openl3 0.4.x's front end (``openl3_v04``), to reproduce
  the embeddings openl3 0.4.x computes;
* image ``openl3_image_{linear,mel128,mel256}_{music,env}`` — the vision network co-trained with
  that audio network (224×224×3 input).

Each preset names its bundled spec (``l3_linear``, ``l3_m128``, ``l3_m256``, ``l3_image``) and the
manifest entry of its weights; the embedding model names (:data:`kaudio.embedding.models.MODELS`)
and ``kaudio convert openl3`` read this table.
"""
from __future__ import annotations

from dataclasses import dataclass

from kaudio.models.presets import Preset, register_presets

#: openl3's ``input_repr`` → the bundled spec of the audio network on that representation.
AUDIO_SPECS = {"linear": "l3_linear", "mel128": "l3_m128", "mel256": "l3_m256"}
IMAGE_SPEC = "l3_image"
CONTENT_TYPES = ("music", "env")
#: The front-end preset of openl3 0.4.x (the ``_v04`` presets).
V04_OVERRIDES = ("frontend.preset=openl3_v04",)

_REPR_TEXT = {"linear": "257-bin linear spectrogram", "mel128": "128-band mel", "mel256": "256-band mel"}
_CONTENT_TEXT = {"music": "music", "env": "environmental sounds"}


@dataclass(frozen=True, kw_only=True)
class L3Preset(Preset):
    """A :class:`~kaudio.models.presets.Preset` with openl3's model grid.

    Attributes:
        modality: ``"audio"`` or ``"image"``.
        input_repr: ``"linear"``, ``"mel128"`` or ``"mel256"`` (image presets: that of the audio network
            they were co-trained with).
        content_type: ``"music"`` or ``"env"`` (the AudioSet subset of the training videos).
    """

    modality: str
    input_repr: str
    content_type: str


def _presets() -> list[L3Preset]:
    out = []
    for input_repr, spec in AUDIO_SPECS.items():
        for content in CONTENT_TYPES:
            trained = f"{_REPR_TEXT[input_repr]}, trained on {_CONTENT_TEXT[content]}"
            audio = dict(modality="audio", input_repr=input_repr, content_type=content,
                         weights=f"openl3_audio_{input_repr}_{content}")
            out.append(L3Preset(name=f"openl3_{input_repr}_{content}", spec=spec,
                                description=f"OpenL3 audio network, {trained} (1 s at 48 kHz)", **audio))
            out.append(L3Preset(name=f"openl3_{input_repr}_{content}_v04", spec=spec, overrides=V04_OVERRIDES,
                                description=f"OpenL3 audio network, {trained}, on openl3 0.4.x's front end", **audio))
            out.append(L3Preset(name=f"openl3_image_{input_repr}_{content}", spec=IMAGE_SPEC, modality="image",
                                input_repr=input_repr, content_type=content,
                                weights=f"openl3_image_{input_repr}_{content}",
                                description=f"OpenL3 vision network (224x224x3) co-trained with the {trained} "
                                            "audio network"))
    return out


#: ``{name: L3Preset}`` of every OpenL3 network.
PRESETS: dict[str, L3Preset] = {preset.name: preset for preset in _presets()}
register_presets(PRESETS.values())


def spec_by_file_name_word() -> tuple[tuple[str, str], ...]:
    """``((word, bundled spec), ...)``: the word of an OpenL3 file name that tells its network, first
    match wins — ``image`` first (``openl3_image_mel256_music`` is the vision network), then each
    audio representation."""
    pairs = {"image": IMAGE_SPEC}
    for preset in PRESETS.values():
        if preset.modality == "audio":
            pairs.setdefault(preset.input_repr, preset.spec)
    return tuple(pairs.items())
