"""Benchmark `madcell prepare`: cells/s (wall and per CPU-second), bytes per cell, peak RSS.

    python benchmarks/prepare.py --cells 100000 --data /tmp/bench_tissue --runs w1-lzf w2-lzf w1-none

The slide comes from :func:`madcell.synthetic.make_tissue` (made once into ``--data`` and reused).
Each run is a fresh subprocess (so ``ru_maxrss`` is that run's own): ``wN-COMP`` = ``N`` workers,
view compression ``COMP`` (lzf | none), default view sizes 70 / 224. Reported per run: wall time,
cells/s, cells per CPU-second (user + sys of the run and its workers: the per-core rate, robust to
other jobs sharing the machine), store bytes per cell, and peak RSS of the main process and of the
largest worker (``RUSAGE_SELF`` / ``RUSAGE_CHILDREN``). Prints Markdown rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(data: Path, out: Path, workers: int, compression: str, tile: int | None) -> dict:
    from madcell.config import default_config
    from madcell.io import read_input
    from madcell.views import prepare_slides

    slides = read_input(data)
    cfg = dict(default_config()["prepare"], compression=compression)
    if tile:
        cfg["tile_size"] = tile
    t0, c0 = time.perf_counter(), os.times()
    prepare_slides(slides, out, cfg, workers=workers, progress=False)
    wall, c1 = time.perf_counter() - t0, os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) + \
        (c1.children_system - c0.children_system)
    n = sum(s.n_cells for s in slides)
    size = out.stat().st_size
    out.unlink()
    return {
        "cells": n, "workers": workers, "compression": compression, "wall_s": wall, "cpu_s": cpu,
        "cells_per_s": n / wall, "cells_per_cpu_s": n / cpu, "bytes_per_cell": size / n,
        "rss_main_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "rss_worker_gib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20,
        "image": list(slides[0].image.shape),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=100_000)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "madcell_bench_prepare" / "tissue")
    ap.add_argument("--runs", nargs="+", default=["w1-lzf", "w2-lzf", "w1-none"])
    ap.add_argument("--tile", type=int, default=None, help="prepare.tile_size (default: the config's)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: run one config, print JSON
    args = ap.parse_args()
    if args.one:
        w, comp = args.one.split("-")
        res = one_run(args.data, args.data.parent / f"bench-{args.one}.h5", int(w[1:]), comp, args.tile)
        print("RESULT " + json.dumps(res))
        return
    if not (args.data / "cells.parquet").exists():
        from madcell.synthetic import make_tissue

        t = time.perf_counter()
        make_tissue(args.data, args.cells, 0)
        print(f"synthetic tissue of {args.cells} cells made in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    print("| run | cells | image (C, H, W) | wall (s) | cells/s | cells per CPU-s (per core) | bytes/cell | "
          "peak RSS main / largest worker (GiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for run in args.runs:
        cmd = [sys.executable, __file__, "--data", str(args.data), "--one", run]
        if args.tile:
            cmd += ["--tile", str(args.tile)]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        if proc.returncode:
            sys.exit(f"run {run} failed (exit {proc.returncode})")
        out = proc.stdout
        r = json.loads(out.split("RESULT ", 1)[1])
        print(f"| {run} | {r['cells']} | {tuple(r['image'])} | {r['wall_s']:.0f} | {r['cells_per_s']:.0f} | "
              f"{r['cells_per_cpu_s']:.0f} | {r['bytes_per_cell'] / 1024:.0f} KiB | "
              f"{r['rss_main_gib']:.2f} / {r['rss_worker_gib']:.2f} |", flush=True)
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}", file=sys.stderr)


if __name__ == "__main__":
    main()
