"""The model-level sub-network helpers: finding the supernet, the head's classes, spec-only spaces, labels."""
import pytest

import kaudio
from kaudio.errors import KaudioError
from kaudio.models.ofa import config_label, head_classes, ofa_backbone, space_from_spec
from tests.models.ofa import tiny_ofa_spec


def test_space_from_spec_needs_no_model():
    space, classes = space_from_spec(kaudio.spec.load_spec("ofa_cnn10"))
    assert classes == 527 and space.size == 512 and space.n_mels == 64
    space, classes = space_from_spec(kaudio.spec.load_spec(tiny_ofa_spec(head=False)))
    assert classes is None and space.filters == (8, 16, 16, 32)
    with pytest.raises(KaudioError, match="the backbone is 'panns_cnn', not a once-for-all supernet"):
        space_from_spec(kaudio.spec.load_spec("panns_cnn10"))
    spec = tiny_ofa_spec(head=False)
    spec["head"] = {"type": "flat", "hierarchy": {"animal": ["dog", "cat"], "machine": ["car"]}}
    with pytest.raises(KaudioError, match="handle the tagger and classifier heads or none; spec tiny_ofa's head is"):
        space_from_spec(kaudio.spec.load_spec(spec))


def test_backbone_and_head_lookups():
    model = kaudio.build(tiny_ofa_spec(num_classes=3))
    assert ofa_backbone(model) is model.backbone and ofa_backbone(model.backbone) is model.backbone
    assert head_classes(model) == 3
    with pytest.raises(KaudioError, match="x.keras is not a once-for-all supernet"):
        ofa_backbone(kaudio.build("panns_cnn10"), what="x.keras")


def test_config_label():
    assert config_label({"widths": [0.4, 1.0], "depths": [2, 1], "fc_width": None}) == "widths 0.4/1 depths 2/1 fc fixed"
