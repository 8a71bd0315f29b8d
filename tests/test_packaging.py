"""Packaging: every package is found automatically; the bundled specs install as kaudio._specs and the
weights manifest as kaudio._pretrained; what the code imports is declared."""
import ast
import configparser
import runpy
import sys

import setuptools

from tests.conftest import REPO


def test_setup_py_finds_every_package(monkeypatch):
    captured = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: captured.update(kwargs))
    monkeypatch.chdir(REPO)
    runpy.run_path(str(REPO / "setup.py"))
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "kaudio").rglob("__init__.py")}
    assert set(captured["packages"]) == on_disk | {"kaudio._specs", "kaudio._pretrained"}
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    assert "packages" not in config["options"]  # one place: setup.py
    assert "kaudio._specs = specs" in config["options"]["package_dir"]
    assert "kaudio._pretrained = pretrained" in config["options"]["package_dir"]
    assert config["options.package_data"]["kaudio._specs"].strip() == "*.yaml"
    assert config["options.package_data"]["kaudio._pretrained"].strip() == "*.yaml"
    assert (REPO / "pretrained" / "manifest.yaml").is_file()


def _imported_top_level_modules() -> set[str]:
    names = set()
    for path in (REPO / "kaudio").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


#: Distribution names of the modules kaudio imports (where they differ).
DISTRIBUTIONS = {"yaml": "pyyaml", "sklearn": "scikit-learn", "skmultilearn": "scikit-multilearn",
                 "keras_tuner": "keras-tuner", "PIL": "pillow", "soundfile": "soundfile",
                 "tensorflow_io": "tensorflow-io"}
OPTIONAL = {"torch", "hearvalidator"}  # imported on use, in the `torch` extra


def test_every_imported_library_is_declared():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    declared = {line.split()[0].lower() for line in config["options"]["install_requires"].split("\n") if line.strip()}
    for extra in config["options.extras_require"].values():
        declared |= {line.split()[0].lower() for line in extra.split("\n") if line.strip()}
    third_party = {name for name in _imported_top_level_modules()
                   if name not in sys.stdlib_module_names and name not in ("kaudio", "__future__")}
    missing = sorted(name for name in third_party if DISTRIBUTIONS.get(name, name).lower() not in declared)
    assert missing == [], f"imported but not declared in setup.cfg: {missing}"
