"""load_backbone_weights: by manifest name (cache / download) or from an OpenL3 .h5 or a kaudio .weights.h5 file."""
import dataclasses
import gzip
import hashlib

import h5py
import numpy as np
import pytest

from kaudio.convert.openl3 import read_openl3_h5
from kaudio.errors import WeightsError
from kaudio.models.l3.l3_backbone import L3AudioBackbone
from kaudio.pretrained.loading import load_backbone_weights, weights_file_format
from kaudio.pretrained.manifest import WeightsEntry, load_manifest
from tests.convert import write_openl3_file

SMALL = (4, 8)


@pytest.fixture(autouse=True)
def kaudio_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KAUDIO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def small_backbone():
    return L3AudioBackbone(feature_shape=(16, 16, 1), filters=SMALL)


def file_arrays(path):
    return [array for _, arrays in read_openl3_h5(path) for array in arrays]


def assert_weights_equal(backbone, arrays):
    weights = backbone.get_weights()
    assert len(weights) == len(arrays) and all(np.array_equal(a, b) for a, b in zip(weights, arrays))


def test_openl3_file(tmp_path):
    path = write_openl3_file(tmp_path / "openl3.h5", filters=SMALL)
    backbone = small_backbone()
    assert load_backbone_weights(backbone, path) == path
    assert_weights_equal(backbone, file_arrays(path))


def test_kaudio_weights_file_round_trip(tmp_path):
    saved = small_backbone()
    path = tmp_path / "b.weights.h5"
    saved.save_weights(path)
    backbone = small_backbone()
    load_backbone_weights(backbone, str(path))
    assert_weights_equal(backbone, saved.get_weights())


def test_kaudio_weights_that_do_not_fit_leave_the_backbone_unchanged(tmp_path):
    path = tmp_path / "other.weights.h5"
    L3AudioBackbone(feature_shape=(16, 16, 1), filters=(4, 16)).save_weights(path)
    backbone = small_backbone()
    before = backbone.get_weights()
    with pytest.raises(WeightsError) as err:
        load_backbone_weights(backbone, path)
    assert str(err.value).startswith(f"{path}: does not fit the kaudio backbone")
    assert "variable.shape=" in str(err.value) and "Target variable" not in str(err.value)
    assert_weights_equal(backbone, before)


def test_name_uses_a_hand_placed_verified_archive(tmp_path, kaudio_home):
    source = write_openl3_file(tmp_path / "w.h5", filters=SMALL)
    archive = kaudio_home / "weights" / "w.h5.gz"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(gzip.compress(source.read_bytes()))
    manifest = _manifest((tmp_path / "offline" / "w.h5.gz").as_uri(), git_blob_sha1=_git_blob_sha1(archive))
    backbone = small_backbone()
    path = load_backbone_weights(backbone, "tiny", manifest=manifest, progress=False)
    assert path == kaudio_home / "weights" / "w.h5"
    assert_weights_equal(backbone, file_arrays(source))


def test_shipped_name_refuses_an_unpacked_file_without_its_archive(tmp_path, kaudio_home):
    entry = dataclasses.replace(load_manifest()["openl3_audio_mel256_music"],
                                urls=((tmp_path / "offline.h5.gz").as_uri(),))
    cached = kaudio_home / "weights" / entry.file
    cached.parent.mkdir(parents=True)
    write_openl3_file(cached)
    with pytest.raises(WeightsError) as err:
        load_backbone_weights(L3AudioBackbone(feature_shape=(16, 16, 1)), entry.name, manifest={entry.name: entry},
                              progress=False)
    assert f"{cached} is in the cache but cannot be verified" in str(err.value)
    assert f"still gzipped: do not gunzip it), at\n  {cached}.gz\n" in str(err.value)


def test_name_downloads_into_the_cache(tmp_path, kaudio_home):
    source = write_openl3_file(tmp_path / "w.h5", filters=SMALL)
    served = tmp_path / "w.h5.gz"
    served.write_bytes(gzip.compress(source.read_bytes()))
    backbone = small_backbone()
    path = load_backbone_weights(backbone, "tiny", manifest=_manifest(served.as_uri()), progress=False)
    assert path == kaudio_home / "weights" / "w.h5"
    assert_weights_equal(backbone, file_arrays(source))


def test_cached_file_that_does_not_fit_says_how_to_download_again(tmp_path, kaudio_home):
    source = write_openl3_file(tmp_path / "w.h5", filters=(4, 16))
    with pytest.raises(WeightsError) as err:
        load_backbone_weights(small_backbone(), "tiny", manifest=_manifest(source.as_uri(), compression="none"),
                              progress=False)
    cached = kaudio_home / "weights" / "w.h5"
    assert "differ in shape" in str(err.value) and f"delete {cached} to download it again" in str(err.value)


def test_cached_archive_that_does_not_fit_says_to_delete_both_files(tmp_path, kaudio_home):
    source = write_openl3_file(tmp_path / "w.h5", filters=(4, 16))
    served = tmp_path / "w.h5.gz"
    served.write_bytes(gzip.compress(source.read_bytes()))
    with pytest.raises(WeightsError) as err:
        load_backbone_weights(small_backbone(), "tiny", manifest=_manifest(served.as_uri()), progress=False)
    weights = kaudio_home / "weights"
    assert (f"delete {weights / 'w.h5.gz'} and {weights / 'w.h5'} and {weights / 'w.h5.unpacked.json'} to download "
            f"it again") in str(err.value)


def test_manifest_format_is_checked(tmp_path):
    source = write_openl3_file(tmp_path / "w.h5", filters=SMALL)
    manifest = _manifest(source.as_uri(), compression="none", file="w.weights.h5", file_format="kaudio_weights_h5")
    with pytest.raises(WeightsError, match="the manifest says kaudio_weights_h5, the file is openl3_h5"):
        load_backbone_weights(small_backbone(), "tiny", manifest=manifest, progress=False)


def test_unknown_name_and_missing_file(tmp_path):
    with pytest.raises(WeightsError, match="no pretrained weights called 'openl3_audio_mel256_musik'; did you mean "
                                           "'openl3_audio_mel256_music'"):
        load_backbone_weights(small_backbone(), "openl3_audio_mel256_musik")
    with pytest.raises(WeightsError, match="no such weights file: .*absent.h5"):
        load_backbone_weights(small_backbone(), tmp_path / "absent.h5")


def test_wrong_kinds_of_file(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(WeightsError, match=f"{text}: not a readable HDF5 file"):
        weights_file_format(text)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as file:
        file.create_dataset("x", data=np.zeros(3))
    with pytest.raises(WeightsError, match=f"{other}: neither an OpenL3 .h5 weights file"):
        weights_file_format(other)
    renamed = tmp_path / "backbone.h5"
    small_backbone().save_weights(tmp_path / "backbone.weights.h5")
    (tmp_path / "backbone.weights.h5").rename(renamed)
    with pytest.raises(WeightsError, match=f"{renamed}: a Keras 3 weights file, .* ending in .weights.h5; rename it"):
        load_backbone_weights(small_backbone(), renamed)


def _manifest(url, compression="gzip", file="w.h5", file_format="openl3_h5", git_blob_sha1=None):
    return {"tiny": WeightsEntry(name="tiny", spec="l3_m256", file=file, urls=(url,), sha256=None,
                                 compression=compression, format=file_format, licence="CC BY 4.0", source="tests",
                                 git_blob_sha1=git_blob_sha1)}


def _git_blob_sha1(path):
    data = path.read_bytes()
    return hashlib.sha1(b"blob " + str(len(data)).encode() + b"\0" + data).hexdigest()
