"""Once-for-all supernets (Lin et al., "Weight-sharing supernet for searching specialized acoustic
event classification networks across device constraints", ICASSP 2023): the ``ofa_cnn``
backbone, its space of sub-networks, the sub-network API, extraction to a plain model and BN
re-calibration of a sub-network."""
from kaudio.models.ofa.calibrate import calibrated_subnet, recalibrate_batch_norm
from kaudio.models.ofa.extract import extract_subnet, init_from_plain, subnet_spec
from kaudio.models.ofa.ofa_cnn import OfaCNN
from kaudio.models.ofa.space import OfaSpace, ParamCounts, Subnet, format_count, load_config, parse_count
from kaudio.models.ofa.subnet import (active_config, config_label, count_params, head_classes, indices_from_uniform,
                                      ofa_backbone, ofa_space, sample_indices, set_subnet, set_subnet_indices,
                                      space_from_spec)

__all__ = ["OfaCNN", "OfaSpace", "ParamCounts", "Subnet", "active_config", "calibrated_subnet", "config_label",
           "count_params", "extract_subnet", "format_count", "head_classes", "indices_from_uniform", "init_from_plain",
           "load_config", "ofa_backbone", "ofa_space", "parse_count", "recalibrate_batch_norm", "sample_indices",
           "set_subnet", "set_subnet_indices", "space_from_spec", "subnet_spec"]
