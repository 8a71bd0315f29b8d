"""Exceptions raised by kaudio.

Every error a user can cause derives from :class:`KaudioError`, so callers (and the CLI) can
catch one type and print a readable message instead of a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass


class KaudioError(Exception):
    """Base class of all user-facing kaudio errors.

    ``exit_status`` is the command line's exit status for the error: 2 (a bad spec, argument or
    input: fix the call), 1 for failures of the work itself (see :class:`OutputError`).
    """

    exit_status = 2


@dataclass(frozen=True)
class SpecProblem:
    """One problem found in a spec: where it is and what is wrong.

    Attributes:
        path: the YAML key path, e.g. ``"backbone.filters[2]"`` (empty for the document root).
        message: what is wrong and, where possible, how to fix it.
        file: the file the offending value came from (or ``"--set a.b=1"`` for overrides).
        line: 1-based line number in ``file`` when known.
    """

    path: str
    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        key = f"{self.path}: " if self.path else ""
        return f"{where}{key}{self.message}"


class SpecError(KaudioError):
    """A spec could not be read or validated. Holds every problem found, not only the first."""

    def __init__(self, problems: list[SpecProblem], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        n = len(self.problems)
        head = f"invalid spec{f' {source}' if source else ''}: {n} problem{'s' if n != 1 else ''}"
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in self.problems))


class InputError(KaudioError):
    """Bad audio, image or video input (empty, NaN, wrong rank, bad sample rate, unreadable file …)."""


class WeightsError(KaudioError):
    """Pretrained weights are missing, corrupt, or do not fit the model."""


class OutputError(KaudioError):
    """An output location cannot be written (a file where a folder is needed, no permission, a
    read-only file system, an existing file that must not be replaced)."""

    exit_status = 1


class KaudioWarning(UserWarning):
    """Something worth knowing that does not stop the computation (e.g. audio shorter than a window)."""
