"""Progress of long work, for a person at a terminal and for a log file alike.

:class:`Progress` has ``update(completed, info="")``, ``advance(n)`` and ``close()`` (also a context
manager):

* on a terminal: a rich bar (count, elapsed, ETA, ``info``) on stderr;
* otherwise (a batch job writing to a log file): plain lines, at most one every ``every_s`` seconds
  (``MADCELL_PROGRESS_EVERY_S``, default 30) plus one at the end, e.g.
  ``embed mad: 4096/19717 cells (20.8 %), 412.3 cells/s, elapsed 0:00:10, ETA 0:00:38`` — each line
  complete, so ``tail -f`` and ``grep`` work, never a wrapped or redrawn bar.

:data:`console` is the library's stderr console (``soft_wrap``: no breaks at 80 columns in a log).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta

from rich.console import Console

console = Console(stderr=True, soft_wrap=True)


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=int(max(seconds, 0))))


def progress_line(name: str, done: int, total: int, start: int, elapsed: float, unit: str, info: str = "") -> str:
    """One plain progress line: count, percent, rate (of this session's work), elapsed and ETA."""
    rate = (done - start) / elapsed if elapsed > 0 else 0.0
    pct = f" ({100.0 * done / total:.1f} %)" if total else ""
    eta = _clock((total - done) / rate) if rate > 0 and total else "?"
    line = f"{name}: {done}/{total} {unit}{pct}, {rate:.1f} {unit}/s, elapsed {_clock(elapsed)}, ETA {eta}"
    return line + (f"  {info}" if info else "")


class Progress:
    """Progress of ``total`` units from ``start``; a no-op when not ``enabled`` (other ranks, tests)."""

    def __init__(self, name: str, total: int, start: int = 0, unit: str = "cells", enabled: bool = True,
                 every_s: float | None = None, tty: bool | None = None):
        self.name, self.total, self.start, self.unit, self.enabled = name, int(total), int(start), unit, enabled
        self.done, self.info = int(start), ""
        self.every_s = float(os.environ.get("MADCELL_PROGRESS_EVERY_S", 30)) if every_s is None else every_s
        self.tty = console.is_terminal if tty is None else tty
        self.t0 = self.last = time.perf_counter()
        self.bar = None
        if enabled and self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            self.bar = Bar(TextColumn(f"[bold]{name}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                           TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                           TextColumn("{task.fields[info]}"), console=console, transient=False)
            self.task = self.bar.add_task(name, total=self.total, completed=self.start, info="")
            self.bar.start()

    def line(self) -> str:
        return progress_line(self.name, self.done, self.total, self.start, time.perf_counter() - self.t0,
                             self.unit, self.info)

    def update(self, completed: int, info: str = "") -> None:
        if not self.enabled:
            return
        self.done, self.info = int(completed), info
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, info=info)
        elif time.perf_counter() - self.last >= self.every_s:
            self.last = time.perf_counter()
            self._print()

    def advance(self, n: int, info: str = "") -> None:
        self.update(self.done + int(n), info)

    def _print(self) -> None:
        print(self.line(), file=sys.stderr, flush=True)

    def close(self) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        else:
            self._print()
        self.enabled = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

