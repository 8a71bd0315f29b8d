"""kaudio plot-sed RUN_DIR CLIP: a trained 2APAE run, a baseline run, and the errors."""
import csv

import numpy as np
import pytest
import yaml

import kaudio
import kaudio.training.sed_plot as sed_plot
from kaudio.cli.main import main
from tests.training.test_sed import mixture, spec_dict  # noqa: F401  (mixture: a module-scoped fixture)

CLASSES = ["tone2000", "tone3500", "tone400", "tone900"]  # the data's tags, sorted (kaudio train)


@pytest.fixture(scope="module")
def sed_run(mixture, tmp_path_factory):  # noqa: F811
    """A tiny 2APAE run trained for one epoch on the kaudio mix set."""
    root = tmp_path_factory.mktemp("plot_sed")
    spec_path = root / "tiny_sed.yaml"
    spec_path.write_text(yaml.safe_dump(spec_dict(epochs=1)))
    out = root / "run"
    assert main(["train", str(spec_path), "--data", str(mixture), "--out", str(out), "-q"]) == 0
    return out


@pytest.fixture
def captured(monkeypatch):
    """Record the keyword arguments the command hands to plot_sed (and still plot)."""
    calls = []
    original = sed_plot.plot_sed

    def record(path, *arrays, **options):
        calls.append({"arrays": arrays, **options})
        return original(path, *arrays, **options)

    monkeypatch.setattr(sed_plot, "plot_sed", record)
    return calls


def _clip_with_events(folder):
    with open(folder / "events.csv", newline="") as handle:
        row = next(csv.DictReader(handle))
    return row["file"]


def test_plot_a_2apae_run_with_its_ground_truth(sed_run, mixture, capsys, captured):  # noqa: F811
    name = _clip_with_events(mixture)
    assert main(["plot-sed", str(sed_run), str(mixture / name), "--data", str(mixture)]) == 0
    out = sed_run / f"sed_{name.rsplit('/', 1)[-1].rsplit('.', 1)[0]}.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert printed.startswith("clip: tone") and "events: tone" in printed and f"wrote {out}" in printed
    options = captured[-1]
    features, class_map, frames, clip, names = options["arrays"]
    assert list(names) == CLASSES and class_map.shape == (features.shape[0], 32, 4) and frames.shape[1] == 4
    assert options["reconstruction"].shape == features.shape and options["mel_attention"].shape == class_map.shape
    assert options["events"] and all(label in CLASSES for _, _, label in options["events"])
    assert options["frame_hop_s"] == pytest.approx(256 / 16000)
    # the input is standardised with the statistics fitted on the training split
    assert abs(float(np.mean(features))) < 1.5

    # CLIP as named in labels.csv, chosen classes, another output file
    custom = sed_run.parent / "chosen.png"
    assert main(["plot-sed", str(sed_run), name, "--data", str(mixture), "--class", "tone900", "tone400",
                 "--out", str(custom)]) == 0
    assert custom.is_file() and captured[-1]["classes"] == ["tone900", "tone400"]
    # no --data: a ground-truth panel saying there is none
    assert main(["plot-sed", str(sed_run), str(mixture / name), "--out", str(custom)]) == 0
    assert captured[-1]["events"] is None and "--data" in captured[-1]["no_events"]


def test_a_baseline_run_has_no_decoder_panel(sed_run, mixture, tmp_path, captured):  # noqa: F811
    spec = spec_dict(head="sed_gap")
    spec["head"]["classes"] = CLASSES
    run = tmp_path / "gap"
    run.mkdir()
    (run / "spec.yaml").write_text(yaml.safe_dump(spec))
    kaudio.build(spec).save(run / "best.keras")
    name = _clip_with_events(mixture)
    assert main(["plot-sed", str(run), str(mixture / name), "--data", str(mixture)]) == 0
    options = captured[-1]
    assert options["reconstruction"] is None and options["mel_attention"] is None and options["time_attention"] is None
    assert options["head_type"] == "sed_gap" and (run / f"sed_{name.rsplit('/', 1)[-1][:-4]}.png").is_file()


def test_errors(sed_run, mixture, tmp_path, capsys):  # noqa: F811
    name = _clip_with_events(mixture)
    clip = str(mixture / name)

    def error(*args):
        assert main(["plot-sed", *args]) == 2
        message = capsys.readouterr().err.strip()
        assert message.startswith("kaudio plot-sed: error: ") and "Traceback" not in message
        return message

    from tests.training import tiny_spec

    tagger = tmp_path / "tagger"
    tagger.mkdir()
    (tagger / "spec.yaml").write_text(yaml.safe_dump(tiny_spec(head="gmp")))
    assert "needs a SED run (heads: sed_2apae, sed_attention, sed_gap, sed_gmp, sed_gwrp); this run has head 'gmp'" \
        in error(str(tagger), clip)
    assert "no such run directory" in error(str(tmp_path / "norun"), clip)
    assert "none.wav: no such audio file" in error(str(sed_run), str(tmp_path / "none.wav"))
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF but not really a wav file")
    assert "broken.wav: cannot decode audio" in error(str(sed_run), str(broken))
    message = error(str(sed_run), clip, "--class", "tone40")
    assert "--class 'tone40': not a class of this run; did you mean 'tone400'?" in message
    assert "4 classes: tone2000, tone3500, tone400, tone900" in message
    assert "--out must end in .png" in error(str(sed_run), clip, "--out", str(tmp_path / "x.jpg"))
    assert "--data" in error(str(sed_run), clip, "--data", str(tmp_path / "nodata"))
