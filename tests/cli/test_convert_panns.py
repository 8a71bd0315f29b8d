"""kaudio convert panns: a torch.save'd checkpoint becomes a .keras tagger; bad input exits 2 readably."""
import re
import sys

import keras
import numpy as np
import pytest
import yaml

from kaudio.cli.main import main
from tests.models.panns import numpy_panns_forward, synthetic_state_dict, tiny_panns_spec


def save_checkpoint(path, state, **extra):
    torch = pytest.importorskip("torch")
    torch.save({"iteration": 5, "model": {k: torch.from_numpy(np.array(v)) for k, v in state.items()}, **extra}, path)
    return path


def test_convert_tiny_checkpoint_with_spec(tmp_path, capsys):
    state = synthetic_state_dict((4, 8), 8, 5, prefix="module.")
    src = save_checkpoint(tmp_path / "Tiny_mAP=0.2.pth", state)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_panns_spec()))
    out = tmp_path / "tiny.keras"
    assert main(["convert", "panns", str(src), "--spec", str(spec), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"{src} -> spec tiny_panns, 28 tensors matched by name" in text
    assert re.search(r"\nconv_block2\.conv1\.weight +-> backbone/conv_block2_conv1_conv/kernel  "
                     r"\(8, 4, 3, 3\) -> \(3, 3, 4, 8\)\n", text)
    assert f"saved: {out}" in text
    model = keras.models.load_model(out)
    state = {k[len("module."):]: v for k, v in state.items()}
    logmel = np.random.default_rng(3).standard_normal((1, 51, 64)).astype(np.float32) * 10 - 30
    _, ref = numpy_panns_forward(state, logmel, 2)
    got = model.head(model.backbone(logmel[..., None]))
    np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-4, atol=1e-5)


def test_convert_cnn10_by_arch_default_output_name(tmp_path, monkeypatch, capsys):
    state = synthetic_state_dict((64, 128, 256, 512), 512, 527, n_fft=1024, sample_rate=32000, f_max=14000.0)
    src = save_checkpoint(tmp_path / "Cnn10_mAP=0.380.pth", state)
    monkeypatch.chdir(tmp_path)
    assert main(["convert", "panns", str(src), "--arch", "cnn10"]) == 0
    assert "-> spec panns_cnn10, 48 tensors matched by name" in capsys.readouterr().out
    model = keras.models.load_model(tmp_path / "Cnn10_mAP=0.380.keras")
    np.testing.assert_array_equal(model.head.get_layer("classifier").kernel.numpy(), state["fc_audioset.weight"].T)


@pytest.mark.parametrize("case, argv_tail, needle", [
    ("none", [], "give exactly one of --arch (cnn14, cnn10, cnn14_16k) or --spec"),
    ("missing", ["--arch", "cnn10"], "no such checkpoint file"),
    ("junk", ["--arch", "cnn10"], "as a PyTorch checkpoint"),
    ("wrong_arch", ["--arch", "cnn10"], "not used by the model (20): conv_block5.conv1.weight"),
    ("out", ["--arch", "cnn10", "--out", "x.h5"], "--out must end in .keras"),
])
def test_bad_input_exits_2_with_a_readable_message(tmp_path, capsys, case, argv_tail, needle):
    src = tmp_path / "ckpt.pth"
    if case in ("junk", "wrong_arch"):
        pytest.importorskip("torch")  # without torch the error is the extra's (next test)
    if case == "junk":
        src.write_text("junk")
    elif case == "wrong_arch":
        save_checkpoint(src, synthetic_state_dict((64, 128, 256, 512, 8, 8), 512, 527, n_fft=1024,
                                                  sample_rate=32000, f_max=14000.0))
    argv = ["convert", "panns", str(src), "--out", str(tmp_path / "o.keras"), *argv_tail]
    if case == "out":
        argv = ["convert", "panns", str(src), *argv_tail]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("kaudio convert: error: ") and needle in err and "Traceback" not in err


def test_without_torch_the_error_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)
    (tmp_path / "a.pth").write_bytes(b"not read without torch")
    assert main(["convert", "panns", str(tmp_path / "a.pth"), "--arch", "cnn14", "--out", str(tmp_path / "a.keras")]) == 2
    assert "pip install kaudio[torch]" in capsys.readouterr().err
