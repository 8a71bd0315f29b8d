"""The PANNs presets (Kong et al., "PANNs: Large-Scale Pretrained Audio Neural Networks for Audio
Pattern Recognition", IEEE/ACM TASLP 2020, Table 1; ``qiuqiangkong/audioset_tagging_cnn``).

Two tables, both read by everything else:

* :data:`ARCHITECTURES` — the ``panns_cnn`` settings of each network (the spec section's
  ``preset: cnn14`` / ``preset: cnn10``): CNN14 has six blocks, the last without pooling; CNN10
  four, all pooled (``Cnn14`` / ``Cnn10`` in ``pytorch/models.py``).
* :data:`PRESETS` — the released checkpoints: ``cnn14`` and ``cnn10`` (32 kHz, ``panns_32k``
  front end) and ``cnn14_16k`` (PANNs' Cnn14_16k: the same network on the 16 kHz ``panns_16k``
  front end). ``kaudio convert panns --arch NAME`` builds the preset's spec (network and 527-class
  tagger) to receive the checkpoint.

The checkpoints are PyTorch files that kaudio does not download: convert one with
``kaudio convert panns CHECKPOINT.pth --arch NAME --out NAME.keras`` and pass the ``.keras`` file as
``weights=`` to :meth:`PannsCNN.from_preset <kaudio.models.backbone.Backbone.from_preset>`.
"""
from __future__ import annotations

from kaudio.models.presets import Preset, register_presets

ARCHITECTURES: dict[str, dict] = {
    "cnn14": dict(filters=[64, 128, 256, 512, 1024, 2048], embedding_size=2048, pool_last_block=False),
    "cnn10": dict(filters=[64, 128, 256, 512], embedding_size=512, pool_last_block=True),
}

_CONVERT = "convert a PANNs checkpoint with `kaudio convert panns CHECKPOINT.pth --arch {name} --out {name}.keras`"


def _preset(name: str, description: str, spec: str, overrides: tuple[str, ...] = ()) -> Preset:
    return Preset(name=name, description=description, spec=spec, overrides=overrides,
                  weights_note=_CONVERT.format(name=name))


#: ``{name: Preset}``: the networks of the released PANNs checkpoints.
PRESETS: dict[str, Preset] = {preset.name: preset for preset in (
    _preset("cnn14", "PANNs Cnn14 (32 kHz, 10 s, 64-band log-mel), 2048-d embedding (Cnn14_mAP=0.431.pth)",
            "panns_cnn14"),
    _preset("cnn10", "PANNs Cnn10 (32 kHz, 10 s, 64-band log-mel), 512-d embedding", "panns_cnn10"),
    _preset("cnn14_16k", "PANNs Cnn14_16k (16 kHz, 10 s, 64-band log-mel 50-8000 Hz), 2048-d embedding "
                         "(Cnn14_16k_mAP=0.438.pth)", "panns_cnn14",
            ("input.sample_rate=16000", "frontend.preset=panns_16k")),
)}
register_presets(PRESETS.values())
