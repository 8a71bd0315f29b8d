"""examples/weak_sed: the synthetic sounds are deterministic and kaudio mix reads them; the example
specs validate (the comparison itself is run by hand: examples/weak_sed/README.md)."""
import numpy as np
import soundfile as sf

import kaudio
from tests.conftest import REPO
from tests.examples import load_example

HERE = REPO / "examples" / "weak_sed"


def load(name):
    return load_example("weak_sed", name)


def test_sounds_are_deterministic_and_mixable(tmp_path):
    make_sounds = load("make_sounds")
    assert make_sounds.main(["--out", str(tmp_path / "a"), "--per-class", "2", "--backgrounds", "2"]) == 0
    assert make_sounds.main(["--out", str(tmp_path / "b"), "--per-class", "2", "--backgrounds", "2"]) == 0
    a, _ = sf.read(tmp_path / "a" / "events" / "chirp_up" / "chirp_up_01.wav")
    b, _ = sf.read(tmp_path / "b" / "events" / "chirp_up" / "chirp_up_01.wav")
    np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in (tmp_path / "a" / "events").iterdir()) == sorted(make_sounds.CLASSES)
    from kaudio.cli.main import main

    assert main(["mix", str(tmp_path / "a" / "events"), str(tmp_path / "a" / "backgrounds"), "--out",
                 str(tmp_path / "set"), "--clips", "4", "--clip-seconds", "4", "--sample-rate", "16000",
                 "--events-per-clip", "2", "--max-event-seconds", "1", "--mono", "--quiet"]) == 0


def test_example_specs_validate():
    for model in ("2apae", "2apae_conv", "gap", "gmp"):
        spec = kaudio.load_spec(HERE / "specs" / f"weak_sed_{model}.yaml")
        assert spec.train["type"] == "sed" and spec.input["samples"] == 64000
        assert spec.shapes["frontend"] == (124, 64, 1)
