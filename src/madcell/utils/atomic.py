"""Atomic file output: write to a temporary sibling, rename over the target only on success.

A killed or failed run therefore never leaves a file that looks complete, and the temporary files a
killed run (SIGKILL) could not remove are deleted by the next write of the same target.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_partials(target: str | Path) -> list[Path]:
    """Delete ``target``'s temporary files left by killed writers (their process is gone): a SIGKILL
    skips the clean-up below, and such a file can be tens of MB. Files of live writers are kept."""
    target = Path(target)
    removed = []
    for p in target.parent.glob(f".{target.name}.partial-*"):
        pid = p.name[len(f".{target.name}.partial-"):].split(".")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(p) if p.is_dir() else p.unlink()
                removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it to ``target`` if the block succeeds.

    The temporary name keeps the target's suffix (``.h5``, ``.pt``...) so libraries that dispatch on
    the extension still work. The target may be a folder (a zarr store) that does not exist yet. On any exception the temporary file is removed and the target is left
    untouched (an existing target survives).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sfx = suffix if suffix is not None else "".join(target.suffixes) or ".tmp"
    remove_stale_partials(target)
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}{sfx}")
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
        raise


def atomic_write_text(target: str | Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)
