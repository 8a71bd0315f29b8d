"""Model families (one folder each, each with its presets), the :class:`Backbone` base class and
the spec-built :class:`KaudioModel`."""
from kaudio.models import l3  # noqa: F401  (registers the L3 backbones and the OpenL3 presets)
from kaudio.models import ofa  # noqa: F401  (registers the once-for-all supernet backbone ofa_cnn)
from kaudio.models import panns  # noqa: F401  (registers the PANNs CNN14/CNN10 backbones and presets)
from kaudio.models import sed  # noqa: F401  (registers 2APAE's seg_encoder backbone)
from kaudio.models.backbone import Backbone
from kaudio.models.kaudio_model import KaudioModel
from kaudio.models.presets import Preset, all_presets, get_preset

__all__ = ["Backbone", "KaudioModel", "Preset", "all_presets", "get_preset"]
