"""kaudio's one progress indicator (embedding windows, images, weight downloads).

On a terminal it redraws one line in place (at most five times a second); when the stream is not
a terminal (a log file, a pipe, CI) it writes plain lines — one every ``interval_s`` seconds and a
final one — with no carriage returns or escape codes.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

REDRAW_INTERVAL_S = 0.2
PLAIN_INTERVAL_S = 10.0


class Progress:
    """Counts work done out of ``total`` (``None`` when unknown) and shows it on ``stream``.

    Args:
        total: the amount of work, or ``None``.
        label: what is being done, e.g. ``"embedding"`` or ``"downloading x.h5.gz"``.
        unit: the unit's name (``"window"``); pluralised with an "s".
        stream: default ``sys.stderr``.
        formatter: turns an amount into text (e.g. bytes into MB); default ``str``.
        interval_s: seconds between plain lines when ``stream`` is not a terminal.
    """

    def __init__(self, total: int | None, label: str, unit: str = "", stream: TextIO | None = None,
                 formatter: Callable[[float], str] = str, interval_s: float = PLAIN_INTERVAL_S):
        self.total, self.label, self.unit = total, label, unit
        self.stream = stream or sys.stderr
        self.format = formatter
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval_s = REDRAW_INTERVAL_S if self.interactive else interval_s
        self.done = 0
        self.started = self.last_shown = time.monotonic()
        self.closed = False

    def add(self, amount: int) -> None:
        self.update(self.done + amount)

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if now - self.last_shown >= self.interval_s:
            self.last_shown = now
            self._show(final=False)

    def close(self) -> None:
        """Show the final state (once)."""
        if not self.closed:
            self.closed = True
            self._show(final=True)

    def line(self) -> str:
        units = f" {self.unit}s" if self.unit else ""
        elapsed = time.monotonic() - self.started
        if self.total:
            text = f"{self.label}: {self.format(self.done)}/{self.format(self.total)}{units} " \
                   f"({100 * self.done // self.total}%)"
        else:
            text = f"{self.label}: {self.format(self.done)}{units}"
        return f"{text}, {elapsed:.1f} s"

    def _show(self, final: bool) -> None:
        if self.interactive:
            end = "\n" if final else ""
            print(f"\r{self.line()}\x1b[K", end=end, file=self.stream, flush=True)
        else:
            print(self.line(), file=self.stream, flush=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
