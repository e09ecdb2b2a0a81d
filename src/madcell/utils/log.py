"""Status lines of long library steps (evaluate, decode, niche, analyze) through ``logging``.

The library logs to the ``madcell`` logger at INFO and configures nothing; the CLI calls
:func:`enable_cli_logging`, which prints ``HH:MM:SS madcell: <message>`` lines to stderr — complete
lines, so a batch job's log file shows what is running instead of minutes of silence.
"""

from __future__ import annotations

import logging
import sys

LOGGER = logging.getLogger("madcell")


def status(msg: str, *args) -> None:
    LOGGER.info(msg, *args)


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the message (test runners swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def enable_cli_logging(level: int = logging.INFO) -> None:
    if any(getattr(h, "_madcell", False) for h in LOGGER.handlers):
        return
    h = _Stderr()
    h.setFormatter(logging.Formatter("%(asctime)s madcell: %(message)s", "%H:%M:%S"))
    h._madcell = True  # type: ignore[attr-defined]
    LOGGER.addHandler(h)
    LOGGER.setLevel(level)
