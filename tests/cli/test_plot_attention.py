"""kaudio plot-attention RUN_DIR AUDIO."""
import pytest

from kaudio.cli.main import main
from tests.training import write_tiny_spec, write_toy_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_toy_folder(tmp_path_factory.mktemp("plot") / "toy", n=20)


def _train(tmp_path, folder, **spec):
    out = tmp_path / "run"
    assert main(["train", str(write_tiny_spec(tmp_path / "spec.yaml", **spec)), "--data", str(folder),
                 "--out", str(out), "--epochs", "1", "-q"]) == 0
    return out


def test_plot_from_a_resatt_run_saved_without_attention(tmp_path, folder, capsys):
    run = _train(tmp_path, folder, head="resatt")
    spec_text = (run / "spec.yaml").read_text().replace("output_attention: true", "output_attention: false")
    # rebuild the run as if trained without the attention output
    import keras

    import kaudio
    from kaudio.spec import load_spec

    spec = load_spec(str(run / "spec.yaml"), ["head.output_attention=false"])
    plain = kaudio.build(spec)
    plain.set_weights(keras.models.load_model(run / "best.keras").get_weights())
    plain.save(run / "best.keras")
    (run / "spec.yaml").write_text(spec_text)
    assert main(["plot-attention", str(run), str(folder / "clip003.wav")]) == 0
    out = run / "attention_clip003.png"
    assert out.read_bytes()[:4] == b"\x89PNG" and "coarse:" in capsys.readouterr().out
    custom = tmp_path / "w.png"
    assert main(["plot-attention", str(run), str(folder / "clip001.wav"), "--out", str(custom)]) == 0
    assert custom.is_file()


def test_plot_errors(tmp_path, folder, capsys):
    run = _train(tmp_path, folder, head="gmp")
    assert main(["plot-attention", str(run), str(folder / "clip003.wav")]) == 2
    assert "needs a resatt head" in capsys.readouterr().err
    assert main(["plot-attention", str(run), str(tmp_path / "none.wav")]) == 2
    assert main(["plot-attention", str(tmp_path / "norun"), str(folder / "clip003.wav")]) == 2
