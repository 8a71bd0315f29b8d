"""PANNs CNN14 / CNN10 backbones (Kong et al.), reference sheet section 3, and their presets."""
from kaudio.models.panns.panns_cnn import PRESETS, PannsCNN, TimeFreqPooling
from kaudio.models.panns.panns_presets import ARCHITECTURES, PRESETS as PANNS_PRESETS

__all__ = ["ARCHITECTURES", "PANNS_PRESETS", "PRESETS", "PannsCNN", "TimeFreqPooling"]
