"""Output-location checks: one clear OutputError naming the path and the reason."""
import errno
import tempfile

import pytest

from kaudio.errors import OutputError
from kaudio.writable import describe_os_error, ensure_writable_file, ensure_writable_folder


def test_creates_missing_folders_and_leaves_nothing_behind(tmp_path):
    folder = tmp_path / "a" / "b"
    assert ensure_writable_folder(folder) == folder and folder.is_dir() and not list(folder.iterdir())


def test_a_file_in_the_way(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for folder in (blocker, blocker / "below"):
        with pytest.raises(OutputError, match=f"cannot write to the output folder {folder}: {blocker} is a file"):
            ensure_writable_folder(folder)


@pytest.mark.parametrize("error, reason", [
    (PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
    (OSError(errno.EROFS, "Read-only file system"), "read-only file system"),
    (OSError(errno.ENOSPC, "No space left on device"), "no space left on the device"),
])
def test_os_errors_become_one_line(tmp_path, monkeypatch, error, reason):
    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError) as info:
        ensure_writable_folder(tmp_path)
    assert str(info.value) == f"cannot write to the output folder {tmp_path}: {reason}"
    assert info.value.exit_status == 1 and info.value.__cause__ is error
    assert describe_os_error(error, tmp_path) == reason


def test_files_are_not_replaced_without_overwrite(tmp_path):
    target = tmp_path / "m.keras"
    assert ensure_writable_file(target, overwrite=False) == target
    target.write_text("model")
    with pytest.raises(OutputError, match="exists; pass --overwrite"):
        ensure_writable_file(target, overwrite=False)
    assert ensure_writable_file(target, overwrite=True) == target
    with pytest.raises(OutputError, match="is a folder"):
        ensure_writable_file(tmp_path, overwrite=True)
