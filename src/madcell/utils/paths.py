"""Output paths checked against the inputs *before* any work: an output never replaces an input.

Every writer renames a finished temporary file over its target, so ``--out`` naming an input (or a
file inside an input folder) would silently destroy that input at the very end of the run. The check
also catches an output whose parent is a file or is not writable, which would otherwise fail only
after all the work is done.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from madcell.errors import InputError


def check_output(out: str | Path, inputs: Iterable[str | Path | None], option: str = "--out", folder: bool = False) -> Path:
    """Raise :class:`InputError` when ``out`` is an input, is an existing file inside an input folder
    (file outputs), is a directory where a file is written (or the reverse), or cannot be created;
    returns ``out`` resolved."""
    out_r = Path(out).expanduser().resolve()
    for given in inputs:
        if given is None:
            continue
        inp = Path(given).expanduser().resolve()
        if out_r == inp or (out_r.exists() and inp.exists() and os.path.samefile(out_r, inp)):
            raise InputError(out, f"{option} is the input {given}: writing it would destroy the input")
        if not folder and inp.is_dir() and out_r.is_relative_to(inp) and out_r.is_file():
            raise InputError(out, f"{option} is a file of the input folder {given}: writing it would replace it")
    if out_r.exists() and out_r.is_dir() and not folder:
        raise InputError(out, f"{option} is a directory; give a file path")
    if out_r.exists() and not out_r.is_dir() and folder:
        raise InputError(out, f"{option} is a file; give a folder")
    parent = out_r.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(out, f"{option}: {parent} is a file, so the output cannot be created")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(out, f"{option}: {parent} is not writable")
    return out_r
