"""kaudio.atomic: writes that readers never see half done, and the clean-up of a killed run's temporaries."""
import os
import subprocess
import sys
import time

import pytest

from kaudio.atomic import (LEGACY_TEMPORARY_AGE_S, atomic_output, is_temporary, remove_stale_temporaries,
                           write_atomic, write_text_atomic)
from kaudio.errors import OutputError


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_write_replaces_the_target_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    write_text_atomic(target, "old")
    assert write_atomic(target, lambda handle: handle.write(b"new")) == target
    assert target.read_text() == "new" and os.listdir(target.parent) == ["a.txt"]


def test_a_failing_writer_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    target = tmp_path / "a.txt"
    write_text_atomic(target, "old")

    def fail(handle):
        handle.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, fail)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]


def test_a_writer_that_needs_a_file_name(tmp_path):
    with atomic_output(tmp_path / "b.bin") as name:
        assert is_temporary(name) and name.parent == tmp_path
        name.write_bytes(b"data")
    assert (tmp_path / "b.bin").read_bytes() == b"data" and not is_temporary(tmp_path / "b.bin")


def test_an_unwritable_location_is_an_output_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot write .*file/a.txt"):
        write_text_atomic(tmp_path / "file" / "a.txt", "never")


def test_stale_temporaries_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    dead = tmp_path / f".x.wav.{dead_pid()}-0123456789ab.tmp"
    alive = tmp_path / f".y.wav.{os.getpid()}-0123456789ab.tmp"
    legacy_npz = tmp_path / ".z.npz.0123456789ab.tmp"
    legacy_other = tmp_path / ".z.wav.0123456789ab.tmp"
    user_file = tmp_path / "notes.tmp"
    for path in (dead, alive, legacy_npz, legacy_other, user_file):
        path.write_bytes(b"")
    old = time.time() - LEGACY_TEMPORARY_AGE_S - 10
    os.utime(legacy_npz, (old, old))
    os.utime(legacy_other, (old, old))
    assert remove_stale_temporaries(tmp_path) == 1  # only the dead process's file
    assert not dead.exists() and alive.exists() and legacy_npz.exists()
    assert remove_stale_temporaries(tmp_path, legacy_suffixes=(".npz",)) == 1  # the old id-less .npz temporary
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, legacy_other.name, user_file.name])
    assert remove_stale_temporaries(tmp_path / "missing") == 0
