"""Converters from published weight files to kaudio backbones (OpenL3 ``.h5``: reference sheet §1.13)."""
from kaudio.convert.openl3 import (LayerMatch, OpenL3Mapping, assign_openl3_weights, convert_openl3, is_openl3_h5,
                                   load_openl3_weights, read_openl3_h5, spec_for_file, weighted_layers)

__all__ = ["LayerMatch", "OpenL3Mapping", "assign_openl3_weights", "convert_openl3", "is_openl3_h5",
           "load_openl3_weights", "read_openl3_h5", "spec_for_file", "weighted_layers"]
