"""Errors that madcell reports to users.

Every problem with user input is raised as :class:`InputError`, which names the offending file and
the problem in one sentence. The CLI turns each class into a one-line message and its own exit code
(:data:`EXIT_CODES`: 2 bad input, 3 numerical failure, 1 any other madcell error; a traceback means a
bug), and writers never leave a partial output behind (see :mod:`madcell.utils.atomic`).
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


class NumericalError(MadcellError):
    """The numbers went wrong (non-finite loss, gradients or weights; a model that outputs NaN)."""


class TrainingDiverged(NumericalError):
    """Raised by the NaN/inf guard during training; the last good checkpoint is kept."""

class TrainingCollapsed(NumericalError):
    """Raised when the teacher has collapsed (one prototype for every cell, or a uniform output) for
    several logs in a row; the checkpoints written so far are kept."""


EXIT_CODES = {InputError: 2, NumericalError: 3, MadcellError: 1}


def exit_code(exc: BaseException) -> int:
    """The CLI exit code of a madcell error (the most specific class wins)."""
    for cls in type(exc).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1
