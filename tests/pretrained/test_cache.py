"""The weights cache and fetch(): file:// downloads, pinned ids, gzip, hand-placed files, nothing left on failure."""
import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kaudio.errors import WeightsError
from kaudio.pretrained.cache import cache_dir, cache_paths, fetch, file_ids, weights_dir
from kaudio.pretrained.manifest import WeightsEntry, find_entry

PAYLOAD = b"pretend HDF5 weights " * 1000
ZERO_BLOB = "0" * 40


@pytest.fixture(autouse=True)
def kaudio_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("KAUDIO_HOME", str(home))
    return home


@pytest.fixture
def served(tmp_path) -> Path:
    """The gzipped payload, as a server would offer it."""
    path = tmp_path / "server" / "w.h5.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(PAYLOAD))
    return path


@pytest.fixture
def missing_url(tmp_path) -> str:
    """A file:// URL with nothing behind it: fetch cannot download, as without network."""
    return (tmp_path / "server" / "gone.h5.gz").as_uri()


def manifest_for(*urls, git_blob_sha1=None, sha256=None, compression="gzip") -> dict:
    entry = WeightsEntry(name="tiny", spec="l3_m256", file="w.h5", urls=tuple(urls), sha256=sha256,
                         compression=compression, format="openl3_h5", licence="CC BY 4.0", source="tests",
                         git_blob_sha1=git_blob_sha1)
    return {"tiny": entry}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git_blob_sha1_of(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob " + str(len(data)).encode() + b"\0" + data).hexdigest()


def place_by_hand(source: Path, kaudio_home: Path, name: str) -> Path:
    folder = kaudio_home / "weights"
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(source, folder / name))


def test_cache_dir_is_kaudio_home_or_dot_cache(kaudio_home, tmp_path, monkeypatch):
    assert cache_dir() == kaudio_home and weights_dir() == kaudio_home / "weights"
    monkeypatch.delenv("KAUDIO_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert cache_dir() == tmp_path / "user" / ".cache" / "kaudio"


def test_cache_layout_keeps_the_download_beside_the_unpacked_file(kaudio_home):
    gzipped = cache_paths(manifest_for("file:///x")["tiny"])
    weights = kaudio_home / "weights"
    assert (gzipped.download, gzipped.unpacked, gzipped.record) == (
        weights / "w.h5.gz", weights / "w.h5", weights / "w.h5.unpacked.json")
    plain = cache_paths(manifest_for("file:///x", compression="none")["tiny"])
    assert (plain.download, plain.unpacked, plain.record) == (weights / "w.h5", weights / "w.h5", None)


def test_file_ids_are_the_git_blob_sha1_and_the_sha256(served):
    ids = file_ids(served)
    assert (ids.git_blob_sha1, ids.sha256) == (git_blob_sha1_of(served), sha256_of(served))
    if shutil.which("git"):
        hashed = subprocess.run(["git", "hash-object", str(served)], capture_output=True, text=True, check=True)
        assert hashed.stdout.strip() == ids.git_blob_sha1


def test_fetch_downloads_verifies_and_unpacks_once(served, kaudio_home, capsys):
    manifest = manifest_for(served.as_uri(), git_blob_sha1=git_blob_sha1_of(served))
    path = fetch("tiny", manifest=manifest)
    weights = kaudio_home / "weights"
    assert path == weights / "w.h5" and path.read_bytes() == PAYLOAD
    assert sorted(os.listdir(weights)) == ["w.h5", "w.h5.gz", "w.h5.unpacked.json"]  # no temporary files left
    assert (weights / "w.h5.gz").read_bytes() == served.read_bytes()  # kept as downloaded
    record = json.loads((weights / "w.h5.unpacked.json").read_text())
    assert record["download_git_blob_sha1"] == git_blob_sha1_of(served)
    assert record["unpacked_sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
    err = capsys.readouterr().err
    assert "downloading w.h5.gz:" in err and "(100%)" in err and "sha256" not in err
    served.unlink()
    assert fetch("tiny", manifest=manifest, progress=False) == path  # from the cache, no download
    assert capsys.readouterr().err == ""


def test_git_blob_sha1_mismatch_is_refused_naming_both_ids_and_leaves_nothing(served, kaudio_home):
    url = served.as_uri()
    with pytest.raises(WeightsError) as err:
        fetch("tiny", progress=False, manifest=manifest_for(url, git_blob_sha1=ZERO_BLOB))
    message = str(err.value)
    assert f"the download of 'tiny' from {url} is not the file the manifest pins" in message
    assert f"git blob SHA-1 {git_blob_sha1_of(served)}, the manifest expects {ZERO_BLOB}" in message
    assert f"nothing was written to {kaudio_home / 'weights' / 'w.h5.gz'}" in message
    assert os.listdir(kaudio_home / "weights") == []


def test_sha256_is_still_checked_beside_the_git_blob_sha1(served, kaudio_home):
    manifest = manifest_for(served.as_uri(), git_blob_sha1=git_blob_sha1_of(served), sha256="0" * 64)
    with pytest.raises(WeightsError) as err:
        fetch("tiny", progress=False, manifest=manifest)
    message = str(err.value)
    assert f"sha256 {sha256_of(served)}, the manifest expects {'0' * 64}" in message
    assert "git blob SHA-1" not in message  # that one matched
    assert os.listdir(kaudio_home / "weights") == []
    both = manifest_for(served.as_uri(), git_blob_sha1=git_blob_sha1_of(served), sha256=sha256_of(served))
    assert fetch("tiny", progress=False, manifest=both).read_bytes() == PAYLOAD


def test_sha256_is_checked_on_a_hand_placed_archive_too(served, kaudio_home, missing_url):
    placed = place_by_hand(served, kaudio_home, "w.h5.gz")
    manifest = manifest_for(missing_url, git_blob_sha1=git_blob_sha1_of(served), sha256="0" * 64)
    with pytest.raises(WeightsError) as err:
        fetch("tiny", progress=False, manifest=manifest)
    assert str(err.value) == (f"{placed} is not the file the manifest pins for 'tiny': sha256 {sha256_of(served)}, "
                              f"the manifest expects {'0' * 64}. Delete it and kaudio downloads it again, or replace "
                              f"it with the file as downloaded (still gzipped) from {missing_url}")


def test_sha256_mismatch_leaves_nothing_in_the_cache(served, kaudio_home):
    with pytest.raises(WeightsError) as err:
        fetch("tiny", progress=False, manifest=manifest_for(served.as_uri(), sha256="0" * 64))
    message = str(err.value)
    assert f"sha256 {sha256_of(served)}, the manifest expects {'0' * 64}" in message
    assert f"nothing was written to {kaudio_home / 'weights' / 'w.h5.gz'}" in message
    assert os.listdir(kaudio_home / "weights") == []


def test_hand_placed_archive_with_the_pinned_id_is_accepted(served, kaudio_home, missing_url, capsys):
    place_by_hand(served, kaudio_home, "w.h5.gz")
    manifest = manifest_for(missing_url, git_blob_sha1=git_blob_sha1_of(served))
    path = fetch("tiny", progress=False, manifest=manifest)
    assert path == kaudio_home / "weights" / "w.h5" and path.read_bytes() == PAYLOAD
    assert sorted(os.listdir(path.parent)) == ["w.h5", "w.h5.gz", "w.h5.unpacked.json"]
    assert capsys.readouterr().err == ""


def test_hand_placed_archive_with_another_id_is_refused(served, kaudio_home, missing_url):
    placed = place_by_hand(served, kaudio_home, "w.h5.gz")
    with pytest.raises(WeightsError) as err:
        fetch("tiny", progress=False, manifest=manifest_for(missing_url, git_blob_sha1=ZERO_BLOB))
    message = str(err.value)
    assert message.startswith(f"{placed} is not the file the manifest pins for 'tiny': ")
    assert f"git blob SHA-1 {git_blob_sha1_of(served)}, the manifest expects {ZERO_BLOB}" in message
    assert "Delete it and kaudio downloads it again" in message
    assert os.listdir(placed.parent) == ["w.h5.gz"]  # refused: not unpacked, not deleted


def test_unpacked_file_without_its_archive_is_refused(served, kaudio_home, missing_url):
    placed = place_by_hand(served, kaudio_home, "w.h5")  # any bytes: it cannot be verified
    with pytest.raises(WeightsError) as err:
        fetch("tiny", progress=False, manifest=manifest_for(missing_url, git_blob_sha1=git_blob_sha1_of(served)))
    message = str(err.value)
    assert f"{placed} is in the cache but cannot be verified" in message
    archive = kaudio_home / "weights" / "w.h5.gz"
    assert f"put the file, as downloaded (still gzipped: do not gunzip it), at\n  {archive}\n" in message
    assert "weights=PATH in Python" in message and "a file passed by path is not verified" in message
    assert os.listdir(placed.parent) == ["w.h5"]


def test_shipped_entries_refuse_an_unpacked_file_without_its_archive(kaudio_home, missing_url):
    entry = dataclasses.replace(find_entry("openl3_audio_mel256_music"), urls=(missing_url,))
    placed = place_by_hand(Path(__file__), kaudio_home, entry.file)
    with pytest.raises(WeightsError, match="cannot be verified") as err:
        fetch(entry.name, progress=False, manifest={entry.name: entry})
    assert str(kaudio_home / "weights" / "openl3_audio_mel256_music-v0_4_0.h5.gz") in str(err.value)
    assert placed.is_file()


def test_unverified_unpacked_file_is_replaced_by_a_verified_download(served, kaudio_home, capsys):
    placed = place_by_hand(served, kaudio_home, "w.h5")
    path = fetch("tiny", progress=False, manifest=manifest_for(served.as_uri(), git_blob_sha1=git_blob_sha1_of(served)))
    assert path == placed and path.read_bytes() == PAYLOAD
    assert f"replaced {placed}, which had no download to verify it against" in capsys.readouterr().err


def test_record_detects_an_altered_unpacked_file(served, kaudio_home, capsys):
    manifest = manifest_for(served.as_uri(), git_blob_sha1=git_blob_sha1_of(served))
    path = fetch("tiny", progress=False, manifest=manifest)
    served.unlink()  # from now on, everything comes from the cache
    path.write_bytes(b"altered " + PAYLOAD)
    assert fetch("tiny", progress=False, manifest=manifest).read_bytes() == PAYLOAD
    err = capsys.readouterr().err
    assert f"{path} was changed after it was unpacked" in err and "unpacking it again from" in err
    (kaudio_home / "weights" / "w.h5.unpacked.json").unlink()
    assert fetch("tiny", progress=False, manifest=manifest).read_bytes() == PAYLOAD
    assert "has no readable record (w.h5.unpacked.json)" in capsys.readouterr().err
    path.unlink()
    assert fetch("tiny", progress=False, manifest=manifest).read_bytes() == PAYLOAD
    assert capsys.readouterr().err == ""  # a missing unpacked file is simply unpacked again


def test_unpinned_download_prints_its_ids(served, kaudio_home, capsys):
    fetch("tiny", progress=False, manifest=manifest_for(served.as_uri()))
    err = capsys.readouterr().err
    assert f"git blob SHA-1 {git_blob_sha1_of(served)}, sha256 {sha256_of(served)}" in err
    assert "not pinned in the manifest" in err and "downloading" not in err
    assert sorted(os.listdir(kaudio_home / "weights")) == ["w.h5", "w.h5.gz", "w.h5.unpacked.json"]


def test_unpinned_entries_use_the_cached_file_as_is(served, kaudio_home, missing_url):
    placed = place_by_hand(served, kaudio_home, "w.h5")
    assert fetch("tiny", progress=False, manifest=manifest_for(missing_url)) == placed  # checked when loaded
    placed.unlink()
    place_by_hand(served, kaudio_home, "w.h5.gz")
    assert fetch("tiny", progress=False, manifest=manifest_for(missing_url)).read_bytes() == PAYLOAD


def test_truncated_gzip_leaves_nothing_in_the_cache(served, kaudio_home):
    served.write_bytes(served.read_bytes()[:-40])
    with pytest.raises(WeightsError, match="is not a complete gzip file"):
        fetch("tiny", progress=False, manifest=manifest_for(served.as_uri()))
    assert os.listdir(kaudio_home / "weights") == []


def test_hand_placed_truncated_gzip_says_to_delete_it(served, kaudio_home, missing_url):
    served.write_bytes(served.read_bytes()[:-40])
    placed = place_by_hand(served, kaudio_home, "w.h5.gz")
    with pytest.raises(WeightsError, match=f"{placed} is not a complete gzip file .*delete it"):
        fetch("tiny", progress=False, manifest=manifest_for(missing_url))
    assert os.listdir(placed.parent) == ["w.h5.gz"]


def test_connection_closed_early_is_a_failed_download(kaudio_home, monkeypatch):
    class ShortResponse:
        headers = {"Content-Length": "1000"}
        chunks = [b"x" * 10, b""]

        def read(self, size):
            return self.chunks.pop(0)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: ShortResponse())
    with pytest.raises(WeightsError, match="the connection closed after 10 of 1000 bytes"):
        fetch("tiny", progress=False, manifest=manifest_for("https://example.org/w.h5.gz"))
    assert os.listdir(kaudio_home / "weights") == []


def test_offline_error_says_what_to_download_and_where_to_put_it(kaudio_home, monkeypatch):
    def no_network(url, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    url = "https://github.com/marl/openl3/raw/models/w.h5.gz"
    with pytest.raises(WeightsError) as err:
        fetch("tiny", progress=False, manifest=manifest_for(url, git_blob_sha1=ZERO_BLOB))
    message = str(err.value)
    assert message.startswith("pretrained weights 'tiny' are not in the cache and could not be downloaded:")
    assert f"{url}: [Errno -3] Temporary failure in name resolution" in message
    archive = kaudio_home / "weights" / "w.h5.gz"
    assert (f"download\n  {url}\nand put the file, as downloaded (still gzipped: do not gunzip it), at\n  {archive}\n"
            in message)
    assert "kaudio checks it against the manifest's ids and unpacks it" in message
    assert "kaudio convert openl3 FILE.h5 --out NAME.weights.h5 --spec l3_m256" in message
    assert message.endswith("or try the tool with random weights: --weights none on the command line, "
                            "weights=None in Python.")
    assert os.listdir(kaudio_home / "weights") == []


def test_the_next_url_is_tried_when_one_fails(served, missing_url):
    manifest = manifest_for(missing_url, served.as_uri(), git_blob_sha1=git_blob_sha1_of(served))
    assert fetch("tiny", progress=False, manifest=manifest).read_bytes() == PAYLOAD


def test_uncompressed_download(tmp_path, kaudio_home):
    plain = tmp_path / "w.h5"
    plain.write_bytes(PAYLOAD)
    manifest = manifest_for(plain.as_uri(), git_blob_sha1=git_blob_sha1_of(plain), compression="none")
    assert fetch("tiny", progress=False, manifest=manifest).read_bytes() == PAYLOAD
    assert os.listdir(kaudio_home / "weights") == ["w.h5"]


def test_uncompressed_cached_file_is_verified_on_every_fetch(tmp_path, kaudio_home, missing_url):
    plain = tmp_path / "w.h5"
    plain.write_bytes(PAYLOAD)
    manifest = manifest_for(missing_url, git_blob_sha1=git_blob_sha1_of(plain), compression="none")
    placed = place_by_hand(plain, kaudio_home, "w.h5")
    assert fetch("tiny", progress=False, manifest=manifest) == placed
    placed.write_bytes(b"altered")
    with pytest.raises(WeightsError, match=f"{placed} is not the file the manifest pins for 'tiny': git blob SHA-1"):
        fetch("tiny", progress=False, manifest=manifest)


def test_unknown_name():
    with pytest.raises(WeightsError, match="no pretrained weights called 'tin'; did you mean 'tiny'"):
        fetch("tin", manifest=manifest_for("file:///nowhere"))
