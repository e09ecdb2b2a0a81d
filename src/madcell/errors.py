"""Errors that madcell reports to users.

Every problem with user input is raised as :class:`InputError`, which names the offending file and
the problem in one sentence. The CLI turns it into a one-line message and exit code 2, and writers
never leave a partial output behind (see :mod:`madcell.utils.atomic`).
"""

from __future__ import annotations

from pathlib import Path


class MadcellError(Exception):
    """Base class of madcell's own errors."""


class InputError(MadcellError):
    """Bad user input: names the file (or option) and the problem."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class TrainingDiverged(MadcellError):
    """Raised by the NaN/inf guard during training; the last good checkpoint is kept."""
