"""The ``kaudio`` console script."""
from kaudio.cli.main import main

__all__ = ["main"]
