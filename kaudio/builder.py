"""The one builder: spec (file, bundled name, dict or Spec) → Keras model."""
from __future__ import annotations

import os
from typing import Any, Mapping

from kaudio.models.kaudio_model import KaudioModel
from kaudio.spec.validate import Spec, load_spec


def build(spec: "str | os.PathLike | Spec | Mapping[str, Any]", overrides: list[str] | dict | None = None) -> KaudioModel:
    """Validate ``spec`` (with optional ``overrides``) and build its model.

    Examples::

        model = kaudio.build("l3_m256")                                # bundled spec by name
        model = kaudio.build("specs/l3_m256.yaml", ["head.embedding_size=512"])
        model = kaudio.build({"name": ..., "input": ..., ...})        # plain data

    Raises:
        kaudio.SpecError: every problem in the spec, with YAML paths and file:line, before any
            layer is built.
    """
    return KaudioModel(load_spec(spec, overrides))
