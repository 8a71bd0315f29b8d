"""Specs: YAML documents that describe a model, validated before anything is built."""
from kaudio.spec.schema import REQUIRED, Field, Schema
from kaudio.spec.validate import Spec, load_spec, validate

__all__ = ["Field", "REQUIRED", "Schema", "Spec", "load_spec", "validate"]
