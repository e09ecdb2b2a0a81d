"""Atomic writes: a killed writer's temporary file is removed by the next write of the same target."""

from __future__ import annotations

import os
import subprocess
import sys

from madcell.utils.atomic import atomic_path, atomic_write_text


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid  # finished and reaped: no such process now


def test_stale_partials_of_killed_writers_are_removed(tmp_path):
    target = tmp_path / "store.h5"
    stale = tmp_path / f".store.h5.partial-{_dead_pid()}.h5"
    stale.write_bytes(b"x" * 1000)
    live = tmp_path / f".store.h5.partial-{os.getppid()}.h5"  # a running process (this test's parent)
    live.write_bytes(b"y")
    other = tmp_path / f".other.h5.partial-{_dead_pid()}.h5"  # another target's: not ours to touch
    other.write_bytes(b"z")
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new store")
    assert target.read_bytes() == b"new store"
    assert not stale.exists() and live.exists() and other.exists()


def test_failed_write_keeps_the_old_target(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "old")
    try:
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    except RuntimeError:
        pass
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]
