"""Argument types shared by the subcommands (argparse ``type=`` callables; a bad value is a usage error)."""
from __future__ import annotations

import argparse
import math


def positive(kind):
    """An argparse type: ``kind`` (int or float) parsed from the text, finite and greater than 0."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
        return value

    return parse
