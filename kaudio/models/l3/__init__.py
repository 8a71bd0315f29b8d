"""L3-Net / OpenL3 model family."""
from kaudio.models.l3.l3_backbone import L3AudioBackbone, L3Backbone, L3ImageBackbone

__all__ = ["L3AudioBackbone", "L3Backbone", "L3ImageBackbone"]
