"""Loader throughput: cells/s that a training DataLoader gets from a view source, lazy vs materialised.

    python benchmarks/loader.py STORE_A.h5 STORE_B.h5 [...] --cells 4000 --workers 2

Every store is read through :class:`madcell.data.dataset.ViewDataset` in a ``torch.utils.data.DataLoader``
(shuffled, batch 64, ``--workers`` processes, one torch thread each) in two ways: ``batched`` (the
dataset's ``__getitems__``: one read of the whole batch, as ``madcell pretrain`` reads a store that does
not fit in memory) and ``per-cell`` (one read per cell, the dataset without ``__getitems__``). The first two batches are not timed (worker start-up, file
opening). Stores are read one after the other (alternating, ``--repeats`` rounds) so that they see
the same machine state. Prints one Markdown row per store with the median cells/s over the rounds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch


def _init_worker(_):
    torch.set_num_threads(1)


def _per_cell():
    from madcell.data.dataset import ViewDataset

    class PerCell(ViewDataset):
        __getitems__ = None  # DataLoader falls back to one __getitem__ per cell

    return PerCell


def cells_per_s(store: Path, n_cells: int, workers: int, batch: int, seed: int, mode: str = "batched") -> float:
    from madcell.data.dataset import ViewDataset

    ds = (ViewDataset if mode == "batched" else _per_cell())(str(store), raw=True)  # uint8, as pretrain reads
    g = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, generator=g,
                                         worker_init_fn=_init_worker if workers else None, persistent_workers=False)
    it = iter(loader)
    for _ in range(2):
        next(it)
    t0, done = time.perf_counter(), 0
    for b in it:
        done += len(b["index"])
        if done >= n_cells:
            break
    return done / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stores", type=Path, nargs="+")
    ap.add_argument("--cells", type=int, default=4000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modes", nargs="+", default=["batched", "per-cell"], choices=["batched", "per-cell"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    from madcell.data.store import ViewStore

    rates: dict[tuple[Path, str], list[float]] = {(s, m): [] for m in args.modes for s in args.stores}
    for r in range(args.repeats):
        for key in rates:
            rates[key].append(cells_per_s(key[0], args.cells, args.workers, args.batch, seed=r, mode=key[1]))
    print("| store | views | sizes | cells | reads | loader workers | cells/s (median of rounds) | rounds |")
    print("|---|---|---|---|---|---|---|---|")
    for (s, mode), v in rates.items():
        vs = ViewStore(s)
        kind = vs.params.get("views", "materialised") + f", compression {vs.params.get('compression')}"
        print(f"| {s.name} | {kind} | {vs.morph_size} / {vs.micro_size} | {len(vs)} | {mode} | {args.workers} | "
              f"{statistics.median(v):.0f} | {', '.join(f'{x:.0f}' for x in v)} |")
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


if __name__ == "__main__":
    main()
