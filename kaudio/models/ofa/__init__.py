"""Once-for-all supernets (Lin et al., "Weight-sharing supernet for searching specialized acoustic
event classification networks across device constraints", ICASSP 2023): the ``ofa_cnn``
backbone, its space of sub-networks, the sub-network API and extraction to a plain model."""
from kaudio.models.ofa.extract import extract_subnet, init_from_plain, subnet_spec
from kaudio.models.ofa.ofa_cnn import OfaCNN
from kaudio.models.ofa.space import OfaSpace, ParamCounts, Subnet, load_config
from kaudio.models.ofa.subnet import (active_config, config_label, count_params, head_classes, ofa_backbone, ofa_space,
                                      sample_indices, set_subnet, set_subnet_indices, space_from_spec)

__all__ = ["OfaCNN", "OfaSpace", "ParamCounts", "Subnet", "active_config", "config_label", "count_params",
           "extract_subnet", "head_classes", "init_from_plain", "load_config", "ofa_backbone", "ofa_space",
           "sample_indices", "set_subnet", "set_subnet_indices", "space_from_spec", "subnet_spec"]
