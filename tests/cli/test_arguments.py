"""Argument types shared by the subcommands."""
import argparse

import pytest

from kaudio.cli.arguments import positive


def test_positive_numbers():
    assert positive(int)("3") == 3 and positive(float)("0.5") == 0.5
    for kind, text, message in ((int, "0", "'0' must be greater than 0"), (int, "2.5", "'2.5' is not an integer"),
                                (float, "-1", "'-1' must be greater than 0"), (float, "nan", "'nan' must be greater"),
                                (float, "x", "'x' is not a number")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            positive(kind)(text)
