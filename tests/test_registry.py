import pytest

from kaudio import registry
from kaudio.errors import KaudioError


def test_bundled_types_are_registered():
    assert {"mel", "linear"} <= set(registry.names("frontend"))
    assert {"l3_audio", "l3_image"} <= set(registry.names("backbone"))
    assert {"l3_audio", "l3_image", "panns_cnn"} <= set(registry.names("backbone"))
    assert {"embedding_pool", "global_pool", "tagger", "classifier", "flat", "levelwise", "topdown", "gmp", "gap", "lp",
            "resatt"} <= set(registry.names("head"))
    assert registry.names("fusion")[:1] == ["concat_mlp"]
    assert {"hierarchical_bce", "bce", "categorical_crossentropy"} <= set(registry.names("loss"))
    assert "supervised" in registry.names("train")
    assert registry.names("data") == []  # reserved: datasets are given on the command line for now


def test_register_and_conflicts():
    @registry.register("loss", "dummy_loss_for_test")
    class Dummy:
        pass

    try:
        assert registry.get("loss", "dummy_loss_for_test") is Dummy
        with pytest.raises(KaudioError, match="already registered"):
            registry.register("loss", "dummy_loss_for_test")(type("Other", (), {}))
    finally:
        registry._REGISTRY["loss"].pop("dummy_loss_for_test")


def test_unknown_kind_and_name():
    with pytest.raises(KaudioError, match="unknown registry kind"):
        registry.register("optimizer", "x")
    with pytest.raises(KaudioError, match="valid types: .*l3_audio, l3_image.*panns_cnn") as err:
        registry.get("backbone", "resnet")
    assert "unknown backbone type 'resnet'" in str(err.value)
