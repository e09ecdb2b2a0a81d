"""Atomic file output: write to a temporary sibling, rename over the target only on success.

A killed or failed run therefore never leaves a file that looks complete.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it to ``target`` if the block succeeds.

    The temporary name keeps the target's suffix (``.h5``, ``.pt``...) so libraries that dispatch on
    the extension still work. On any exception the temporary file is removed and the target is left
    untouched (an existing target survives).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sfx = suffix if suffix is not None else "".join(target.suffixes) or ".tmp"
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}{sfx}")
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_text(target: str | Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)
