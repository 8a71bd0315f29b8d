"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<script>.py``)."""
from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def progress(message) -> None:
    """A progress line on stderr (the tables go to stdout)."""
    print(message, file=sys.stderr, flush=True)


def announce(info: dict, baseline_path: "str | None"):
    """Print the machine line (``info`` as JSON) and, with ``baseline_path``, load that earlier
    ``--json`` output to compare against. Returns the baseline (or None)."""
    print(f"machine: {json.dumps(info)}", flush=True)
    if not baseline_path:
        return None
    with open(baseline_path) as handle:
        baseline = json.load(handle)
    print(f"baseline: {baseline_path}", flush=True)
    return baseline


def maxrss_mb(who=resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MiB (Linux reports KiB, macOS bytes)."""
    value = resource.getrusage(who).ru_maxrss
    return value / (1024 * 1024) if sys.platform == "darwin" else value / 1024


def peak_rss_own_mb() -> float:
    """Peak RSS of this process's own address space (``VmHWM``), in MiB.

    Unlike ``ru_maxrss``, which a child started by ``fork``+``exec`` inherits from its parent's
    pre-``exec`` image (so a small child reports the parent's peak), ``VmHWM`` belongs to the
    current address space only. Falls back to ``ru_maxrss`` where ``/proc`` is missing.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return maxrss_mb()
