"""The weights cache and fetch(): file:// downloads, checksums, gzip, and nothing left behind on failure."""
import gzip
import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kaudio.errors import WeightsError
from kaudio.pretrained.cache import cache_dir, fetch, weights_dir
from kaudio.pretrained.manifest import WeightsEntry

PAYLOAD = b"pretend HDF5 weights " * 1000


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


def manifest_for(*urls, sha256=None, compression="gzip") -> dict:
    entry = WeightsEntry(name="tiny", spec="l3_m256", file="w.h5", urls=tuple(urls), sha256=sha256,
                         compression=compression, format="openl3_h5", licence="CC BY 4.0", source="tests")
    return {"tiny": entry}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cache_dir_is_kaudio_home_or_dot_cache(kaudio_home, tmp_path, monkeypatch):
    assert cache_dir() == kaudio_home and weights_dir() == kaudio_home / "weights"
    monkeypatch.delenv("KAUDIO_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert cache_dir() == tmp_path / "user" / ".cache" / "kaudio"


def test_fetch_downloads_checks_and_unpacks_once(served, kaudio_home, capsys):
    manifest = manifest_for(served.as_uri(), sha256=sha256_of(served))
    path = fetch("tiny", manifest=manifest)
    assert path == kaudio_home / "weights" / "w.h5" and path.read_bytes() == PAYLOAD
    assert os.listdir(path.parent) == ["w.h5"]  # no temporary files left
    err = capsys.readouterr().err
    assert "downloading w.h5.gz:" in err and "(100%)" in err and "sha256" not in err
    served.unlink()
    assert fetch("tiny", manifest=manifest, progress=False) == path  # from the cache, no download
    assert capsys.readouterr().err == ""


def test_unpinned_download_prints_its_sha256(served, capsys):
    fetch("tiny", progress=False, manifest=manifest_for(served.as_uri()))
    err = capsys.readouterr().err
    assert f"sha256 {sha256_of(served)}" in err and "not pinned in the manifest" in err
    assert "downloading" not in err


def test_sha256_mismatch_leaves_nothing_in_the_cache(served, kaudio_home):
    with pytest.raises(WeightsError) as err:
        fetch("tiny", progress=False, manifest=manifest_for(served.as_uri(), sha256="0" * 64))
    message = str(err.value)
    assert f"sha256 {sha256_of(served)}, the manifest expects {'0' * 64}" in message
    assert f"nothing was written to {kaudio_home / 'weights' / 'w.h5'}" in message
    assert os.listdir(kaudio_home / "weights") == []


def test_truncated_gzip_leaves_nothing_in_the_cache(served, kaudio_home):
    served.write_bytes(served.read_bytes()[:-40])
    with pytest.raises(WeightsError, match="is not a complete gzip file"):
        fetch("tiny", progress=False, manifest=manifest_for(served.as_uri()))
    assert os.listdir(kaudio_home / "weights") == []


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
        fetch("tiny", progress=False, manifest=manifest_for(url))
    message = str(err.value)
    assert f"{url}: [Errno -3] Temporary failure in name resolution" in message
    assert f"download\n  {url}\ngunzip it and put the file at\n  {kaudio_home / 'weights' / 'w.h5'}\n" in message
    assert "kaudio convert openl3 FILE.h5 --out NAME.weights.h5 --spec l3_m256" in message
    assert not (kaudio_home / "weights" / "w.h5").exists()


def test_the_next_url_is_tried_when_one_fails(served, tmp_path):
    missing = (tmp_path / "server" / "gone.h5.gz").as_uri()
    assert fetch("tiny", progress=False, manifest=manifest_for(missing, served.as_uri())).read_bytes() == PAYLOAD


def test_uncompressed_download(tmp_path):
    plain = tmp_path / "w.h5"
    plain.write_bytes(PAYLOAD)
    manifest = manifest_for(plain.as_uri(), sha256=sha256_of(plain), compression="none")
    assert fetch("tiny", progress=False, manifest=manifest).read_bytes() == PAYLOAD


def test_unknown_name():
    with pytest.raises(WeightsError, match="no pretrained weights called 'tin'; did you mean 'tiny'"):
        fetch("tin", manifest=manifest_for("file:///nowhere"))
