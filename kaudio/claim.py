"""Claims on work folders, so that several processes can share one list of runs.

A process that starts a run writes its pid into ``<folder>/.claim``; another process skips the run
while that pid is alive, and takes a claim over once its process has ended (killed, crashed or
finished without releasing). The example scripts that train many runs (the hierarchical recipe
study, the once-for-all example) let two ``run`` processes share one output folder this way.
"""
from __future__ import annotations

import os
from pathlib import Path


class Claim:
    """A run folder claimed by this process: ``<folder>/.claim`` holds the pid; a claim by a dead
    process is taken over."""

    def __init__(self, folder: "str | os.PathLike"):
        self.path = Path(folder) / ".claim"

    def holder(self) -> "int | None":
        """The pid of the live process that holds the claim, or None."""
        try:
            pid = int(self.path.read_text())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def acquire(self) -> bool:
        """Claim the folder; False when another live process holds it."""
        holder = self.holder()
        if holder is not None and holder != os.getpid():
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(str(os.getpid()))
        return True

    def release(self) -> None:
        self.path.unlink(missing_ok=True)
