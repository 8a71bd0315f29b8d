"""setup.cfg lists every package (and installs the bundled specs as kaudio._specs, the weights manifest as kaudio._pretrained)."""
import configparser

from tests.conftest import REPO


def test_setup_cfg_lists_every_package():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "kaudio").rglob("__init__.py")}
    assert listed == on_disk | {"kaudio._specs", "kaudio._pretrained"}
    assert "kaudio._specs = specs" in config["options"]["package_dir"]
    assert "kaudio._pretrained = pretrained" in config["options"]["package_dir"]
    assert config["options.package_data"]["kaudio._specs"].strip() == "*.yaml"
    assert config["options.package_data"]["kaudio._pretrained"].strip() == "*.yaml"
    assert (REPO / "pretrained" / "manifest.yaml").is_file()
