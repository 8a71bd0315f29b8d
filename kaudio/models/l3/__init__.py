"""L3-Net / OpenL3 model family and its presets."""
from kaudio.models.l3.l3_backbone import L3AudioBackbone, L3Backbone, L3ImageBackbone
from kaudio.models.l3.l3_presets import PRESETS as L3_PRESETS

__all__ = ["L3AudioBackbone", "L3Backbone", "L3ImageBackbone", "L3_PRESETS"]
