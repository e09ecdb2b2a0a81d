"""Threads that fit the machine the process is given.

* :func:`quiet_openmp` (called by ``import madcell``, before torch loads): OpenMP threads that wait
  *passively* (``OMP_WAIT_POLICY=PASSIVE``, ``KMP_BLOCKTIME=0``) instead of spinning. A spinning
  worker on a core another process needs slows both many-fold: next to one busy process cpu-tiny
  training ran at 11 cells/s spinning and 25 passive; the price is idle speed (27 instead of 43 cells/s
  on the 2-core VM, BENCHMARKS.md "Scale"). Values the user set are kept (``OMP_WAIT_POLICY=ACTIVE``
  on a dedicated machine).
* :func:`available_cpus` — the CPUs this process may run on (its affinity mask: a container or a
  ``taskset`` slot, not the whole machine, which torch's default counts).
* :func:`set_threads` — torch intra-op threads = ``n`` (``madcell --threads N``), by default torch's
  choice capped at the available CPUs.
"""

from __future__ import annotations

import os


def quiet_openmp() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("KMP_BLOCKTIME", "0")


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads to ``n``; by default cap torch's own choice (physical cores of the
    whole machine) at the available CPUs. Returns the number in use."""
    import torch

    n = int(n) if n else min(torch.get_num_threads(), available_cpus())
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    return n
