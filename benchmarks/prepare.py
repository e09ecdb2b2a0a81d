"""Benchmark `madcell prepare`: cells/s (wall and per CPU-second), bytes per cell, peak RSS.

    python benchmarks/prepare.py --cells 100000 --data /tmp/bench_tissue --runs w1-lzf w1-none w1-none-lazy
    python benchmarks/prepare.py --big 5120 10240 20480 --data /tmp/bench_big     # lazy RSS vs slide size

The slide comes from :func:`madcell.synthetic.make_tissue` (made once into ``--data`` and reused).
Each run is a fresh subprocess (so ``ru_maxrss`` is that run's own): ``wN-COMP`` = ``N`` workers,
view compression ``COMP`` (lzf | none), default view sizes 70 / 224; a ``-lazy`` suffix writes lazy
views (``prepare.views: lazy``: the normalised slide + geometry; COMP is then ``prepare.lazy_compression``),
``-lazy-resize`` lazy views without the stored micro level (``prepare.lazy_micro_level: false``). Reported per run: wall time,
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


def one_run(data: Path, out: Path, workers: int, compression: str, tile: int | None, views: str = "materialised",
            sizes: tuple[int, int] | None = None, keep: bool | None = None, micro_level: bool = True) -> dict:
    from madcell.config import default_config
    from madcell.io import read_input
    from madcell.views import prepare_slides

    slides = read_input(data)
    cfg = dict(default_config()["prepare"], compression=compression, views=views, lazy_compression=compression,
               lazy_micro_level=micro_level)
    if sizes:
        cfg["morph_size"], cfg["micro_size"] = sizes
    if tile:
        cfg["tile_size"] = tile
    t0, c0 = time.perf_counter(), os.times()
    prepare_slides(slides, out, cfg, workers=workers, progress=False)
    wall, c1 = time.perf_counter() - t0, os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) + \
        (c1.children_system - c0.children_system)
    n = sum(s.n_cells for s in slides)
    size = out.stat().st_size
    if keep is None:
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
    ap.add_argument("--sizes", type=int, nargs=2, default=None, help="morph / micro view sides (default: the config's)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the stores in this folder (named after the runs)")
    ap.add_argument("--big", type=int, nargs="+", default=None,
                    help="lazy prepare of square 4-channel lattice slides of these sides: peak RSS vs slide size")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: run one config, print JSON
    args = ap.parse_args()
    if args.one:
        w, comp, *lazy = args.one.split("-")  # e.g. w1-lzf, w1-none-lazy, w1-none-lazy-resize (no micro level)
        out = (args.keep or args.data.parent) / f"bench-{args.one}.h5"
        res = one_run(args.data, out, int(w[1:]), comp, args.tile, "lazy" if lazy else "materialised",
                      tuple(args.sizes) if args.sizes else None, keep=True if args.keep else None,
                      micro_level="resize" not in lazy)
        print("RESULT " + json.dumps(res))
        return
    if args.big:
        return big_slides(args)
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
        if args.sizes:
            cmd += ["--sizes", *map(str, args.sizes)]
        if args.keep:
            cmd += ["--keep", str(args.keep)]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        if proc.returncode:
            sys.exit(f"run {run} failed (exit {proc.returncode})")
        out = proc.stdout
        r = json.loads(out.split("RESULT ", 1)[1])
        print(f"| {run} | {r['cells']} | {tuple(r['image'])} | {r['wall_s']:.0f} | {r['cells_per_s']:.0f} | "
              f"{r['cells_per_cpu_s']:.0f} | {r['bytes_per_cell'] / 1024:.0f} KiB | "
              f"{r['rss_main_gib']:.2f} / {r['rss_worker_gib']:.2f} |", flush=True)
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}", file=sys.stderr)


def lattice_slide(folder: Path, side: int, spacing: int = 48, block: int = 1024) -> None:
    """A ``side`` x ``side`` x 4 uint8 slide (tiled TIFF) of disc cells on a jittered lattice, labels (uint32,
    tiled, zlib) and a cell table, written block by block (memory ~ one block row)."""
    import numpy as np
    import pandas as pd
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    g = np.arange(spacing // 2, block, spacing)
    cy, cx = [a.ravel() + rng.uniform(-6, 6, a.size) for a in np.meshgrid(g, g, indexing="ij")]
    r = rng.uniform(7, 11, cy.size)
    yy, xx = np.mgrid[0:block, 0:block]
    lab = np.zeros((block, block), np.uint32)
    img = rng.integers(0, 20, (4, block, block)).astype(np.uint8)
    for i in range(cy.size):
        y0, x0 = int(cy[i]) - 12, int(cx[i]) - 12
        sub = (yy[y0:y0 + 25, x0:x0 + 25] - cy[i]) ** 2 + (xx[y0:y0 + 25, x0:x0 + 25] - cx[i]) ** 2 <= r[i] ** 2
        lab[y0:y0 + 25, x0:x0 + 25][sub] = i + 1
        img[i % 4, y0:y0 + 25, x0:x0 + 25][sub] += 120
        img[0, y0:y0 + 25, x0:x0 + 25][sub] += 60
    nb = side // block
    per = cy.size

    # tiles in the row-major order of the whole image; block (by, bx) is the block pattern, relabelled
    def ordered(plane):  # one plane's tiles in row-major order (plane None: the relabelled mask)
        for ty in range(side // 256):
            by, ly = divmod(ty * 256, block)
            for tx in range(side // 256):
                bx, lx = divmod(tx * 256, block)
                if plane is not None:
                    yield img[plane, ly:ly + 256, lx:lx + 256]
                else:
                    t = lab[ly:ly + 256, lx:lx + 256]
                    yield np.where(t > 0, t + (by * nb + bx) * per, 0).astype(np.uint32)

    tifffile.imwrite(folder / "image.ome.tif", (t for c in range(4) for t in ordered(c)), shape=(4, side, side), dtype=np.uint8, tile=(256, 256),
                     photometric="minisblack", planarconfig="separate", metadata={"axes": "CYX", "PhysicalSizeX": 0.5,
                                                                                 "PhysicalSizeY": 0.5})
    tifffile.imwrite(folder / "labels.tif", ordered(None), shape=(side, side), dtype=np.uint32, tile=(256, 256),
                     compression="zlib")
    by, bx = np.meshgrid(np.arange(nb), np.arange(nb), indexing="ij")
    k = (by * nb + bx).ravel()
    pd.DataFrame({"cell_id": (np.arange(per)[None] + k[:, None] * per + 1).ravel().astype(str),
                  "label": (np.arange(per)[None] + k[:, None] * per + 1).ravel(),
                  "x_px": (cx[None] + bx.ravel()[:, None] * block).ravel(),
                  "y_px": (cy[None] + by.ravel()[:, None] * block).ravel()}).to_parquet(folder / "cells.parquet")


def big_slides(args) -> None:
    print("| slide (C, H, W) | cells | wall (s) | cells per CPU-s | bytes/cell | peak RSS (GiB) |")
    print("|---|---|---|---|---|---|")
    for side in args.big:
        folder = args.data / f"lattice_{side}"
        if not (folder / "cells.parquet").exists():
            t = time.perf_counter()
            lattice_slide(folder, side)
            print(f"lattice slide {side} made in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        cmd = [sys.executable, __file__, "--data", str(folder), "--one", "w1-none-lazy"]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        if proc.returncode:
            sys.exit(f"slide {side} failed (exit {proc.returncode})")
        r = json.loads(proc.stdout.split("RESULT ", 1)[1])
        print(f"| {tuple(r['image'])} | {r['cells']} | {r['wall_s']:.0f} | {r['cells_per_cpu_s']:.0f} | "
              f"{r['bytes_per_cell'] / 1024:.1f} KiB | {r['rss_main_gib']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
