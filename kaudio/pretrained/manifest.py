"""The manifest of pretrained weights: top-level ``pretrained/manifest.yaml``, installed as ``kaudio._pretrained``.

Each entry says which bundled spec the weights fit, where to download them, which ids pin the
download (``git_blob_sha1``: the git blob SHA-1 of the file as downloaded, as listed by the tree
of the ``models`` branch of https://github.com/marl/openl3; ``sha256``), how to unpack it, and
how to read the file (``openl3_h5``: the released OpenL3 Keras-2 ``save_weights`` files, mapped
by weighted-layer position). The manifest is validated like a spec: unknown keys, missing keys,
bad values are all reported at once, with ``file:line``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from kaudio.errors import SpecError, WeightsError
from kaudio.spec import bundled
from kaudio.spec.schema import Field, Schema, did_you_mean
from kaudio.spec.source import parse_yaml

FORMATS = ("openl3_h5", "kaudio_weights_h5")
COMPRESSIONS = ("gzip", "none")
URL_SCHEMES = ("https://", "http://", "file://")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_GIT_BLOB_SHA1 = re.compile(r"[0-9a-f]{40}")
_NAME = re.compile(r"[a-z0-9_]+")

MANIFEST_SCHEMA = Schema((
    Field("weights", dict, doc="{name: entry} of the pretrained weights"),
))
ENTRY_SCHEMA = Schema((
    Field("spec", str, doc="bundled spec whose backbone the weights fit, e.g. l3_m256"),
    Field("file", str, doc="name of the ready-to-load (decompressed) file in the cache"),
    Field("urls", list, doc="download URLs, tried in order", item_kind=str),
    Field("git_blob_sha1", str, nullable=True,
          doc="git blob SHA-1 of the file as downloaded (`git hash-object FILE`); null = not pinned"),
    Field("sha256", str, nullable=True, doc="sha256 of the file as downloaded; null = not pinned yet"),
    Field("compression", str, choices=COMPRESSIONS, doc="how the download is compressed"),
    Field("format", str, choices=FORMATS, doc="layout of the weight file"),
    Field("licence", str, doc="licence of the weights"),
    Field("source", str, doc="where the weights are published"),
))


@dataclass(frozen=True)
class WeightsEntry:
    """One manifest entry (see the header of ``pretrained/manifest.yaml`` for each field).

    ``git_blob_sha1`` comes last, with a default of ``None`` (not pinned by it), so that entries
    built in code without it keep working.
    """

    name: str
    spec: str
    file: str
    urls: tuple[str, ...]
    sha256: str | None
    compression: str
    format: str
    licence: str
    source: str
    git_blob_sha1: str | None = None

    @property
    def pinned(self) -> bool:
        """Whether the download is pinned by at least one id (``git_blob_sha1`` or ``sha256``)."""
        return self.git_blob_sha1 is not None or self.sha256 is not None


Manifest = Mapping[str, WeightsEntry]


@lru_cache(maxsize=1)
def manifest_path() -> Path:
    """The shipped manifest: the installed ``kaudio._pretrained`` package, else the source checkout's ``pretrained/``."""
    try:
        from importlib.resources import files

        path = Path(str(files("kaudio._pretrained"))) / "manifest.yaml"
        if path.is_file():
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    import kaudio

    return Path(kaudio.__file__).resolve().parents[1] / "pretrained" / "manifest.yaml"


def load_manifest(path: str | os.PathLike | None = None) -> dict[str, WeightsEntry]:
    """Read and validate a manifest (default: the shipped one) into ``{name: WeightsEntry}``.

    Raises:
        WeightsError: the file is unreadable, or every problem found in it, each with ``file:line``.
    """
    path = Path(path) if path is not None else manifest_path()
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    except OSError as err:
        raise WeightsError(f"cannot read the weights manifest {path}: {err}") from err
    except SpecError as err:
        raise WeightsError(_invalid(path, [str(p) for p in err.problems])) from err
    top, problems = MANIFEST_SCHEMA.validate(raw.data, ())
    weights = top.get("weights")
    entries = {}
    for name, entry in weights.items() if isinstance(weights, dict) else ():
        values, entry_problems = _validate_entry(name, entry)
        problems += entry_problems
        if not entry_problems:
            entries[name] = WeightsEntry(name=name, **{**values, "urls": tuple(values["urls"])})
    if problems:
        raise WeightsError(_invalid(path, [str(raw.problem(where, message)) for where, message in problems]))
    return entries


def find_entry(name: str, manifest: Manifest | None = None) -> WeightsEntry:
    """The entry called ``name``; the error lists the valid names."""
    manifest = load_manifest() if manifest is None else manifest
    if name not in manifest:
        raise WeightsError(f"no pretrained weights called {name!r}{did_you_mean(name, manifest)}; "
                           f"available: {', '.join(manifest)} (see {manifest_path()})")
    return manifest[name]


def _validate_entry(name, entry) -> tuple[dict, list[tuple[tuple, str]]]:
    """The entry's values and its problems (schema first; the cross-checks only on well-typed values)."""
    path = ("weights", name)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return {}, [(path, "a weights name uses only lower-case letters, digits and '_'")]
    if not isinstance(entry, dict):
        return {}, [(path, "expected a mapping with the keys " + ", ".join(ENTRY_SCHEMA.names))]
    values, problems = ENTRY_SCHEMA.validate(entry, path)
    if problems:
        return values, problems
    if bundled.find(values["spec"]) is None:
        problems.append((path + ("spec",), f"no bundled spec {values['spec']!r}"
                                           f"{did_you_mean(values['spec'], bundled.names())}"))
    if values["sha256"] is not None and not _SHA256.fullmatch(values["sha256"]):
        problems.append((path + ("sha256",), "expected 64 lower-case hex digits (or null while not pinned)"))
    if values["git_blob_sha1"] is not None and not _GIT_BLOB_SHA1.fullmatch(values["git_blob_sha1"]):
        problems.append((path + ("git_blob_sha1",), "expected 40 lower-case hex digits, as printed by "
                                                    "`git hash-object FILE` (or null while not pinned)"))
    for i, url in enumerate(values["urls"]):
        if not url.startswith(URL_SCHEMES):
            problems.append((path + ("urls", i), f"expected a URL starting with {', '.join(URL_SCHEMES)}"))
    suffix = ".weights.h5" if values["format"] == "kaudio_weights_h5" else ".h5"
    if not values["file"].endswith(suffix) or "/" in values["file"] or "\\" in values["file"]:
        problems.append((path + ("file",), f"a {values['format']} file is a plain file name ending in {suffix}"))
    return values, problems


def _invalid(path: Path, problems: list[str]) -> str:
    n = len(problems)
    return f"invalid weights manifest {path}: {n} problem{'s' if n != 1 else ''}\n" + "\n".join(f"  - {p}" for p in problems)
