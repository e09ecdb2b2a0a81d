"""Shared CLI plumbing: clear one-line errors with a non-zero exit, a rich console."""

from __future__ import annotations

import functools
from typing import Callable

import typer
from rich.console import Console

from madcell.errors import InputError, MadcellError

# soft_wrap: no line breaks inserted at the (80-column when not a terminal) width, so an error stays
# one line in a log file and progress lines are not split
console = Console(stderr=True, soft_wrap=True)


def guarded(func: Callable) -> Callable:
    """Decorator for command functions: InputError -> 'error: <file>: <problem>' and exit 2;
    other madcell errors -> exit 1. Tracebacks are kept for real bugs."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(code=2) from None
        except MadcellError as exc:
            console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(code=1) from None

    return wrapper
