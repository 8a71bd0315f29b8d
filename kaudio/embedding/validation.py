"""Argument checks shared by the audio, image and video embedding functions."""
from __future__ import annotations

import numbers

from kaudio.errors import InputError


def check_batch_size(batch_size) -> int:
    """``batch_size`` as an ``int``; :class:`~kaudio.errors.InputError` unless it is a positive integer (not a bool)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)
