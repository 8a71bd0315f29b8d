"""kaudio convert openl3: writes a .weights.h5 the backbone loads; bad input exits 2 without a traceback."""
import numpy as np
import pytest

from kaudio.cli.main import main
from kaudio.convert.openl3 import read_openl3_h5
from kaudio.models.l3.l3_backbone import L3AudioBackbone
from tests.convert import write_openl3_file


def test_convert_infers_the_spec_and_prints_the_mapping(tmp_path, monkeypatch, capsys):
    src = write_openl3_file(tmp_path / "openl3_audio_mel128_env-v0_4_0.h5")
    monkeypatch.chdir(tmp_path)
    assert main(["convert", "openl3", str(src)]) == 0
    out = capsys.readouterr().out
    assert f"{src} -> spec l3_m128, 16 weighted layers matched by position" in out
    assert " 16  audio_embedding_layer -> audio_embedding_layer  [(3, 3, 512, 512), (512,)]" in out
    written = tmp_path / "openl3_audio_mel128_env-v0_4_0.weights.h5"
    assert f"saved: {written.name}" in out
    backbone = L3AudioBackbone(feature_shape=(128, 199, 1))
    backbone.load_weights(written)
    expected = [a for _, arrays in read_openl3_h5(src) for a in arrays]
    assert all(np.array_equal(a, b) for a, b in zip(backbone.get_weights(), expected))


@pytest.mark.parametrize("setup, argv_tail, needle", [
    ("text", [], "not a readable HDF5 file"),
    ("image", ["--spec", "l3_m256"], "2 weighted layers differ in shape"),
    ("unnamed", [], "cannot tell the network from the file name 'weights.h5'; pass --spec (l3_image, l3_linear, l3_m128, l3_m256)"),
    ("unnamed", ["--spec", "l3_m256", "--out", "x.h5"], "must end in .weights.h5"),
])
def test_bad_input_exits_2_with_a_readable_message(tmp_path, capsys, setup, argv_tail, needle):
    src = tmp_path / ("openl3_audio_mel256_music.h5" if setup == "text" else "weights.h5")
    if setup == "text":
        src.write_text("not weights")
    else:
        write_openl3_file(src, modality="image") if setup == "image" else write_openl3_file(src, filters=(4, 8))
    assert main(["convert", "openl3", str(src), "--out", str(tmp_path / "o.weights.h5"), *argv_tail]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kaudio convert: error: ") and needle in err and "Traceback" not in err
    if setup != "unnamed":
        assert str(src) in err
