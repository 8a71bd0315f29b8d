"""Make ``import kaudio`` enough for ``keras.models.load_model`` without importing TensorFlow eagerly.

``import kaudio`` is light (the command line's ``--help`` must not pay for TensorFlow), but a
saved ``.keras`` file names kaudio classes (``kaudio>KaudioModel``) that Keras can only find once
the modules defining them are imported. So:

* if Keras is already imported when kaudio is, the components are imported right away (cheap:
  TensorFlow is loaded already);
* otherwise a one-shot import watcher waits for ``keras`` to be imported and imports the
  components right after it (``import kaudio; import keras; keras.models.load_model(...)``).

When the first ``import keras`` happens inside one of kaudio's own modules (which are still
initialising), importing the components there would be circular; they are then imported by the
first registry lookup instead, which every kaudio entry point (build, load_spec, fit, embed, the
CLI) performs.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys

from kaudio import registry


def _kaudio_module_initialising() -> bool:
    for name, module in list(sys.modules.items()):
        if name.startswith("kaudio.") and getattr(getattr(module, "__spec__", None), "_initializing", False):
            return True
    return False


def _register_now_if_safe() -> None:
    if _kaudio_module_initialising():
        return
    try:
        registry.load_components()
    except ImportError as err:  # never break the user's `import keras`; the first kaudio call reports it again
        import warnings

        from kaudio.errors import KaudioWarning

        warnings.warn(f"kaudio could not register its classes with Keras ({err}); saved kaudio models will not load",
                      KaudioWarning, stacklevel=3)


class _KerasImportWatcher(importlib.abc.MetaPathFinder):
    """Finds nothing itself; when ``keras`` is first looked up it asks the other finders and wraps
    the found loader's ``exec_module`` so that kaudio's components are imported right after Keras."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)  # one-shot; also keeps the lookup below from finding us again
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            _register_now_if_safe()

        spec.loader.exec_module = exec_module  # this loader instance serves this one import only
        return spec


def register_with_keras() -> None:
    """Register kaudio's classes with Keras now (Keras already imported) or when Keras is imported."""
    if "keras" in sys.modules:
        _register_now_if_safe()
    elif not any(isinstance(finder, _KerasImportWatcher) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KerasImportWatcher())
