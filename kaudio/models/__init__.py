"""Model families (one folder each) and the spec-built :class:`KaudioModel`."""
from kaudio.models import l3  # noqa: F401  (registers the L3 backbones)
from kaudio.models import panns  # noqa: F401  (registers the PANNs CNN14/CNN10 backbones)
from kaudio.models.kaudio_model import KaudioModel

__all__ = ["KaudioModel"]
