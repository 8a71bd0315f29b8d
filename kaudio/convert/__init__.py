"""Converters from published weight files to kaudio models (OpenL3 ``.h5`` files of ``marl/openl3``;
PANNs ``.pth`` checkpoints of ``qiuqiangkong/audioset_tagging_cnn``)."""
from kaudio.convert.openl3 import (LayerMatch, OpenL3Mapping, assign_openl3_weights, convert_openl3, is_openl3_h5,
                                   load_openl3_weights, read_openl3_h5, spec_for_file, weighted_layers)
from kaudio.convert.panns import assign_panns_state_dict, convert_panns, read_panns_checkpoint

__all__ = ["LayerMatch", "OpenL3Mapping", "assign_openl3_weights", "convert_openl3", "is_openl3_h5",
           "load_openl3_weights", "read_openl3_h5", "spec_for_file", "weighted_layers",
           "assign_panns_state_dict", "convert_panns", "read_panns_checkpoint"]
