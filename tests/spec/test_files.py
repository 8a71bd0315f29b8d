"""Files named in specs: resolved against the spec's folder, then the working directory."""
from pathlib import Path

from kaudio.spec.files import resolve_existing_file
from kaudio.spec.validate import ValidationContext


def test_spec_folder_then_working_directory(tmp_path, monkeypatch):
    spec_dir, cwd = tmp_path / "specs", tmp_path / "cwd"
    spec_dir.mkdir(), cwd.mkdir()
    monkeypatch.chdir(cwd)
    context = ValidationContext(str(spec_dir / "s.yaml"))
    (cwd / "m.keras").write_text("x")
    assert resolve_existing_file("m.keras", context, (".keras",), "a model") == (str((cwd / "m.keras").resolve()), None)
    (spec_dir / "m.keras").write_text("x")
    assert resolve_existing_file("m.keras", context, (".keras",), "a model")[0] == str((spec_dir / "m.keras").resolve())
    path, problem = resolve_existing_file("gone.keras", context, (".keras",), "a model", hint="train one")
    assert path is None and "no such file" in problem and "spec's folder, then the working directory" in problem
    assert problem.endswith("; train one")
    assert "is not a model (a file ending in .keras)" in resolve_existing_file("m.h5", context, (".keras",), "a model")[1]
    assert "empty string" in resolve_existing_file(" ", None, (".keras",), "a model")[1]
    assert resolve_existing_file(str(Path(cwd / "m.keras")), None, (".keras",), "a model")[1] is None
