"""PANNs CNN14 / CNN10 backbones (Kong et al., "PANNs", 2020; ``qiuqiangkong/audioset_tagging_cnn``) and
their presets."""
from kaudio.models.panns.panns_cnn import PRESETS, PannsCNN, TimeFreqPooling
from kaudio.models.panns.panns_presets import ARCHITECTURES, PRESETS as PANNS_PRESETS

__all__ = ["ARCHITECTURES", "PANNS_PRESETS", "PRESETS", "PannsCNN", "TimeFreqPooling"]
