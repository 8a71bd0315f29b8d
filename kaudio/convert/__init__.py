"""Converters from published weight files to kaudio models (OpenL3 ``.h5``: reference sheet §1.13; PANNs ``.pth``: §3.4–3.5)."""
from kaudio.convert.openl3 import (LayerMatch, OpenL3Mapping, assign_openl3_weights, convert_openl3, is_openl3_h5,
                                   load_openl3_weights, read_openl3_h5, spec_for_file, weighted_layers)
from kaudio.convert.panns import assign_panns_state_dict, convert_panns, read_panns_checkpoint

__all__ = ["LayerMatch", "OpenL3Mapping", "assign_openl3_weights", "convert_openl3", "is_openl3_h5",
           "load_openl3_weights", "read_openl3_h5", "spec_for_file", "weighted_layers",
           "assign_panns_state_dict", "convert_panns", "read_panns_checkpoint"]
