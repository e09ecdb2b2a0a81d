"""Shared CLI plumbing: clear one-line errors with a non-zero exit, a rich console."""

from __future__ import annotations

import functools
from typing import Callable

import typer

from madcell.errors import MadcellError, exit_code
from madcell.utils.progress import console  # soft_wrap: an error stays one line in a log file


def guarded(func: Callable) -> Callable:
    """Decorator for command functions: a madcell error -> 'error: <file>: <problem>' and its class's
    exit code (bad input 2, numerical failure 3, other 1). Tracebacks are kept for real bugs."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from madcell.utils.log import enable_cli_logging

        enable_cli_logging()  # the library's status lines ("evaluate: label ...") to stderr
        try:
            return func(*args, **kwargs)
        except MadcellError as exc:
            console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(code=exit_code(exc)) from None

    return wrapper


LABELS_HELP = ("Table of cell annotations (CSV/TSV/parquet): a cell_id column plus label columns, joined "
               "onto obs by cell id; unknown ids are counted, duplicates are an error.")


def add_labels(adata, labels) -> None:
    """``--labels FILE``: join the file's label columns onto ``adata.obs`` and say how many cells matched."""
    if labels is None:
        return
    from madcell.io.annotations import annotate_anndata

    report_labels(labels, annotate_anndata(adata, labels))


def report_labels(labels, rep: dict) -> None:
    console.print(f"labels from {labels}: {', '.join(rep['columns'])} for {rep['matched']} of {rep['cells']} cells"
                  + (f"; {rep['unknown_ids']} ids in the file match no cell" if rep["unknown_ids"] else ""),
                  highlight=False, markup=False)
