"""Tests of the example scripts under examples/ (imported as modules, run on tiny settings)."""
import importlib.util
import sys
from contextlib import contextmanager

from tests.conftest import REPO

EXAMPLES = REPO / "examples"


@contextmanager
def example_on_path(folder: str):
    """``examples/<folder>`` on ``sys.path`` inside the block (scripts that import their sibling scripts)."""
    path = str(EXAMPLES / folder)
    sys.path.insert(0, path)
    try:
        yield
    finally:
        sys.path.remove(path)


def load_example(folder: str, name: str, module_name: str | None = None):
    """``examples/<folder>/<name>.py`` imported as a module and registered in ``sys.modules`` (dataclasses
    look their module up while the class is made)."""
    module_name = module_name or f"{folder}_{name}"
    with example_on_path(folder):
        spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return module
