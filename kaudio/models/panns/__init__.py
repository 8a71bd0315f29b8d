"""PANNs CNN14 / CNN10 backbones (Kong et al.), reference sheet section 3."""
from kaudio.models.panns.panns_cnn import PRESETS, PannsCNN, TimeFreqPooling

__all__ = ["PRESETS", "PannsCNN", "TimeFreqPooling"]
