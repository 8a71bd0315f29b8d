"""The shipped weights manifest, and manifest validation errors (with file:line)."""
import pytest

from kaudio.embedding.models import MODELS
from kaudio.errors import WeightsError
from kaudio.pretrained.manifest import find_entry, load_manifest, manifest_path

GOOD_ENTRY = """\
weights:
  tiny_weights:
    spec: l3_m256
    file: tiny.h5
    urls: [file:///tmp/tiny.h5.gz]
    sha256: null
    compression: gzip
    format: openl3_h5
    licence: CC BY 4.0
    source: tests
"""


def test_shipped_manifest_covers_every_embedding_model():
    manifest = load_manifest()
    assert set(manifest) == {info.pretrained for info in MODELS.values()}
    assert manifest_path().name == "manifest.yaml" and manifest_path().parent.name == "pretrained"
    for info in MODELS.values():
        entry = manifest[info.pretrained]
        assert entry.spec == info.spec
        modality = "image" if info.modality == "image" else "audio"
        stem = f"openl3_{modality}_{info.input_repr}_{info.content_type}-v0_4_0.h5"
        assert entry.file == stem and entry.urls == (f"https://github.com/marl/openl3/raw/models/{stem}.gz",)
        assert (entry.sha256, entry.compression, entry.format, entry.licence) == (None, "gzip", "openl3_h5", "CC BY 4.0")
        assert "github.com/marl/openl3" in entry.source and "models" in entry.source


def test_manifest_header_documents_unpinned_checksums():
    text = manifest_path().read_text()
    assert "sha256: null" in text and "structurally" in text and "prints its sha256" in text


def test_a_valid_manifest_file(write_spec):
    entry = load_manifest(write_spec(GOOD_ENTRY, "manifest.yaml"))["tiny_weights"]
    assert entry.urls == ("file:///tmp/tiny.h5.gz",) and entry.sha256 is None


@pytest.mark.parametrize("old, new, needle", [
    ("    licence: CC BY 4.0\n", "    license: CC BY 4.0\n", ":9: weights.tiny_weights.license: unknown key; did you mean 'licence'?"),
    ("    spec: l3_m256\n", "", "weights.tiny_weights.spec: missing required key"),
    ("sha256: null", "sha256: abc123", ":6: weights.tiny_weights.sha256: expected 64 lower-case hex digits"),
    ("sha256: null", "sha256: " + "A" * 64, "weights.tiny_weights.sha256: expected 64 lower-case hex digits"),
    ("compression: gzip", "compression: zip", "weights.tiny_weights.compression: got 'zip', expected one of 'gzip', 'none'"),
    ("file:///tmp/tiny.h5.gz", "ftp://x/tiny.h5.gz", "weights.tiny_weights.urls[0]: expected a URL starting with"),
    ("spec: l3_m256", "spec: l3_m265", "no bundled spec 'l3_m265'; did you mean 'l3_m256'?"),
    ("format: openl3_h5", "format: kaudio_weights_h5", "weights.tiny_weights.file: a kaudio_weights_h5 file is a plain file name ending in .weights.h5"),
    ("  tiny_weights:", "  Tiny-Weights:", "weights.Tiny-Weights: a weights name uses only lower-case letters"),
    ("source: tests\n", "source: tests\nversion: 2\n", ":11: version: unknown key (valid keys: weights)"),
])
def test_manifest_problems_are_reported_with_their_line(write_spec, old, new, needle):
    path = write_spec(GOOD_ENTRY.replace(old, new), "manifest.yaml")
    with pytest.raises(WeightsError) as err:
        load_manifest(path)
    assert str(err.value).startswith(f"invalid weights manifest {path}")
    assert needle in str(err.value)


def test_unreadable_and_malformed_manifests(write_spec, tmp_path):
    with pytest.raises(WeightsError, match="cannot read the weights manifest"):
        load_manifest(tmp_path / "absent.yaml")
    with pytest.raises(WeightsError, match="YAML syntax error"):
        load_manifest(write_spec("weights: [\n", "broken.yaml"))
    with pytest.raises(WeightsError, match="weights: expected a mapping"):
        load_manifest(write_spec("weights: 3\n", "scalar.yaml"))


def test_find_entry_suggests_a_close_name():
    assert find_entry("openl3_audio_mel256_music").spec == "l3_m256"
    with pytest.raises(WeightsError, match="did you mean 'openl3_audio_mel256_music'"):
        find_entry("openl3_audio_mel256_musik")
