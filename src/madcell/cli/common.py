"""Shared CLI plumbing: clear one-line errors with a non-zero exit, a rich console."""

from __future__ import annotations

import functools
from typing import Callable

import typer
from rich.console import Console

from madcell.errors import MadcellError, exit_code

# soft_wrap: no line breaks inserted at the (80-column when not a terminal) width, so an error stays
# one line in a log file and progress lines are not split
console = Console(stderr=True, soft_wrap=True)


def guarded(func: Callable) -> Callable:
    """Decorator for command functions: a madcell error -> 'error: <file>: <problem>' and its class's
    exit code (bad input 2, numerical failure 3, other 1). Tracebacks are kept for real bugs."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except MadcellError as exc:
            console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(code=exit_code(exc)) from None

    return wrapper
