"""Spec-driven training losses (registry kind 'loss')."""
