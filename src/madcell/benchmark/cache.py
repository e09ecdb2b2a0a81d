"""Content-keyed artefact cache: a rerun recomputes only what changed.

Every artefact (tissue folder, view store, training run, embedding, metrics) gets a key: the hash of
the config that produced it plus the keys of its inputs, so a change anywhere upstream changes every
key downstream. A finished artefact is recorded by a ``<name>.key`` sidecar written *after* it (both
atomically): an artefact without a matching sidecar — missing, stale or left by a killed run — is
rebuilt from scratch. External inputs (a store path) are keyed by path, size and mtime.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from madcell.utils.atomic import atomic_write_text


def make_key(*parts: Any) -> str:
    """Stable 16-hex-digit hash of JSON-serialisable parts (dict order does not matter)."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def file_key(path: str | Path) -> str:
    """Key of an external input file: resolved path, size and modification time."""
    p = Path(path).resolve()
    st = p.stat()
    return make_key("file", str(p), st.st_size, st.st_mtime_ns)


class ArtefactCache:
    """Runs ``build(path)`` only when ``path``'s sidecar key differs; logs what was built or reused."""

    def __init__(self) -> None:
        self.log: list[dict] = []

    @staticmethod
    def sidecar(path: Path) -> Path:
        return path.with_name(path.name + ".key")

    def is_fresh(self, path: Path, key: str) -> bool:
        side = self.sidecar(path)
        return path.exists() and side.exists() and side.read_text().strip() == key

    def get(self, path: str | Path, key: str, build: Callable[[Path], Any], what: str) -> Path:
        path = Path(path)
        if self.is_fresh(path, key):
            self.log.append({"artefact": what, "path": str(path), "key": key, "status": "cached", "seconds": 0.0})
            return path
        side = self.sidecar(path)
        side.unlink(missing_ok=True)
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        build(path)
        atomic_write_text(side, key)
        self.log.append({"artefact": what, "path": str(path), "key": key, "status": "built",
                         "seconds": round(time.monotonic() - t0, 2)})
        return path
