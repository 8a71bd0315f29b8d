"""kaudio build / validate / specs, and their errors without tracebacks (exit 2)."""
import keras
import pytest

from kaudio.cli.main import main


def test_build_prints_card_and_writes_keras_file(tmp_path, capsys):
    out = tmp_path / "m.keras"
    assert main(["build", "l3_m256", "--set", "head.embedding_size=512", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Model card: l3_m256" in text and "(None, 512)" in text and "4,689,860" in text
    assert out.is_file() and keras.models.load_model(out).output.shape == (None, 512)


def test_build_default_output_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["build", "l3_m128_512"]) == 0
    assert (tmp_path / "l3_m128_512.keras").is_file()


def test_specs_lists_bundled_specs_with_descriptions(capsys):
    assert main(["specs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert "l3_m256" in names and "l3_image" in names and "_l3_audio_base" not in names
    assert all(len(line.split(None, 1)) == 2 for line in lines)


def test_validate_prints_resolved_yaml(capsys):
    assert main(["validate", "l3_m256", "--set", "frontend.preset=openl3_v04"]) == 0
    assert "mel_scale: slaney" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needle", [
    (["build", "no_such_spec"], "no such spec file or bundled spec"),
    (["build", "l3_m256", "--set", "head.embeding_size=512"], "did you mean 'embedding_size'"),
    (["build", "l3_m256", "--set", "head.embedding_size"], "expected KEY.PATH=VALUE"),
    (["build", "l3_m256", "--no-save", "--out", "x.h5"], "must end in .keras"),
])
def test_errors_exit_2_with_message(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_build_never_replaces_an_existing_model_silently(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["build", "l3_m256_512"]) == 0
    assert 'keras.models.load_model("l3_m256_512.keras")' in capsys.readouterr().out  # the line that loads it
    before = (tmp_path / "l3_m256_512.keras").read_bytes()
    assert main(["build", "l3_m256_512", "--set", "backbone.l2_regularization=0.0"]) == 1
    err = capsys.readouterr().err
    assert "l3_m256_512.keras exists; pass --overwrite" in err and "Traceback" not in err
    assert (tmp_path / "l3_m256_512.keras").read_bytes() == before
    assert main(["build", "l3_m256_512", "--overwrite"]) == 0


def test_build_output_location_is_checked_before_building(tmp_path, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    assert main(["build", "l3_m256", "--out", str(a_file / "m.keras")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (f"kaudio build: error: cannot write to the folder of the --out file {a_file}: "
                           f"{a_file} is a file, not a folder")
    assert "Model card" not in capsys.readouterr().out  # nothing was built


def test_validate_refuses_what_build_refuses(capsys):
    assert main(["validate", "l3_m256", "--set", "frontend.n_mels=1"]) == 2
    assert "backbone: the input is (1, 199, 1): 3 max-pools" in capsys.readouterr().err
