"""The shipped weights manifest, and manifest validation errors (with file:line)."""
import re
from pathlib import Path

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
    git_blob_sha1: null
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
        assert re.fullmatch(r"[0-9a-f]{40}", entry.git_blob_sha1) and entry.pinned
    assert len({entry.git_blob_sha1 for entry in manifest.values()}) == len(manifest)


def published_git_blob_ids() -> dict[str, str]:
    """{released .h5.gz file name: git blob SHA-1} from the architecture notes beside the checkout."""
    notes = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "architectures.md"
    if not notes.is_file():
        pytest.skip(f"{notes} is not available")
    section = notes.read_text(encoding="utf-8").split("1.15 Git blob ids", 1)[-1].split("\n## ", 1)[0]
    return dict(re.findall(r"\| `(openl3_\w+-v0_4_0\.h5\.gz)` \| `([0-9a-f]{40})` \|", section))


def test_shipped_manifest_pins_the_published_git_blob_ids():
    published = published_git_blob_ids()
    manifest = load_manifest()
    assert len(published) == len(manifest) == 12
    assert {entry.file + ".gz": entry.git_blob_sha1 for entry in manifest.values()} == published


def test_manifest_header_documents_pinning_and_unpinned_entries():
    text = manifest_path().read_text()
    assert "git_blob_sha1" in text and "AS DOWNLOADED" in text and "git hash-object FILE" in text
    assert "structurally" in text and "prints its git blob SHA-1 and sha256" in text


def test_a_valid_manifest_file(write_spec):
    entry = load_manifest(write_spec(GOOD_ENTRY, "manifest.yaml"))["tiny_weights"]
    assert entry.urls == ("file:///tmp/tiny.h5.gz",) and entry.sha256 is None and entry.git_blob_sha1 is None
    assert not entry.pinned
    blob = "0123456789abcdef0123456789abcdef01234567"
    pinned = load_manifest(write_spec(GOOD_ENTRY.replace("git_blob_sha1: null", f'git_blob_sha1: "{blob}"'),
                                      "pinned.yaml"))["tiny_weights"]
    assert pinned.git_blob_sha1 == blob and pinned.pinned


@pytest.mark.parametrize("old, new, needle", [
    ("    licence: CC BY 4.0\n", "    license: CC BY 4.0\n", ":10: weights.tiny_weights.license: unknown key; did you mean 'licence'?"),
    ("    spec: l3_m256\n", "", "weights.tiny_weights.spec: missing required key"),
    ("sha256: null", "sha256: abc123", ":7: weights.tiny_weights.sha256: expected 64 lower-case hex digits"),
    ("git_blob_sha1: null", "git_blob_sha1: abc123", ":6: weights.tiny_weights.git_blob_sha1: expected 40 lower-case "
                                                     "hex digits, as printed by `git hash-object FILE`"),
    ("git_blob_sha1: null", "git_blob_sha1: " + "A" * 40, "weights.tiny_weights.git_blob_sha1: expected 40 lower-case"),
    ("    git_blob_sha1: null\n", "", "weights.tiny_weights.git_blob_sha1: missing required key (git blob SHA-1"),
    ("sha256: null", "sha256: " + "A" * 64, "weights.tiny_weights.sha256: expected 64 lower-case hex digits"),
    ("compression: gzip", "compression: zip", "weights.tiny_weights.compression: got 'zip', expected one of 'gzip', 'none'"),
    ("file:///tmp/tiny.h5.gz", "ftp://x/tiny.h5.gz", "weights.tiny_weights.urls[0]: expected a URL starting with"),
    ("spec: l3_m256", "spec: l3_m265", "no bundled spec 'l3_m265'; did you mean 'l3_m256'?"),
    ("format: openl3_h5", "format: kaudio_weights_h5", "weights.tiny_weights.file: a kaudio_weights_h5 file is a plain file name ending in .weights.h5"),
    ("  tiny_weights:", "  Tiny-Weights:", "weights.Tiny-Weights: a weights name uses only lower-case letters"),
    ("source: tests\n", "source: tests\nversion: 2\n", ":12: version: unknown key (valid keys: weights)"),
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
