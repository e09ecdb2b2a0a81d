"""Which container for a lazy store's slide: random-window reads from HDF5 (contiguous + memory map, the
default; chunked LZF), zarr (chunked, raw or LZ4) and a tiled TIFF (raw or zlib, read through
tifffile's zarr view).

    python benchmarks/slide_formats.py LAZY_STORE.h5 [--level micro|0] [--windows 224 40] [--reads 3000]

Takes one slide of a lazy store (``lazy/micro/0``, the micro level that micro views are cropped from, or
``lazy/slides/0/0``), writes it once in every format (chunks / tiles of 256 px, all channels in one
chunk), then reads ``--reads`` windows at random places in one thread, one format after the other and
alternating over ``--repeats`` rounds, as the loader reads crops (with zero fill past the edges:
``madcell.io.base.read_window``). Prints one Markdown row per format and window side: size on disk,
write seconds, windows/s (median of rounds). zarr is optional (``madcell[spatialdata]`` installs it).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from madcell.io.base import read_window

TILE = 256


def _h5(path: Path, img: np.ndarray, chunked: bool):
    with h5py.File(path, "w") as f:
        if chunked:
            f.create_dataset("s", data=img, chunks=(img.shape[0], TILE, TILE), compression="lzf")
        else:
            f.create_dataset("s", data=img)

    def opener():
        f = h5py.File(path, "r")
        ds = f["s"]
        if chunked:
            return ds
        return np.memmap(path, np.uint8, "r", ds.id.get_offset(), ds.shape)
    return opener


def _zarr(path: Path, img: np.ndarray, lz4: bool):
    import zarr
    from zarr.codecs import BloscCodec

    comp = [BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle")] if lz4 else None
    z = zarr.create_array(str(path), shape=img.shape, chunks=(img.shape[0], TILE, TILE), dtype=np.uint8,
                          compressors=comp, zarr_format=3)
    z[:] = img
    return lambda: zarr.open_array(str(path), mode="r")


def _tiff(path: Path, img: np.ndarray, zlib: bool):
    import tifffile
    import zarr

    tifffile.imwrite(path, img, tile=(TILE, TILE), compression="zlib" if zlib else None, photometric="minisblack",
                     planarconfig="separate")

    def opener():
        store = tifffile.imread(path, aszarr=True)
        return zarr.open(store, mode="r")
    return opener


FORMATS = {  # name: (file name, writer returning an opener)
    "HDF5 contiguous, memory map (madcell default)": ("a.h5", lambda p, x: _h5(p, x, False)),
    "HDF5 chunked 256, LZF (lazy_compression: lzf)": ("b.h5", lambda p, x: _h5(p, x, True)),
    "zarr v3 chunked 256, raw": ("c.zarr", lambda p, x: _zarr(p, x, False)),
    "zarr v3 chunked 256, blosc-lz4": ("d.zarr", lambda p, x: _zarr(p, x, True)),
    "tiled TIFF 256, raw (tifffile zarr view)": ("e.tif", lambda p, x: _tiff(p, x, False)),
    "tiled TIFF 256, zlib (tifffile zarr view)": ("f.tif", lambda p, x: _tiff(p, x, True)),
}


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def windows_per_s(arr, starts: np.ndarray, side: int) -> float:
    t = time.perf_counter()
    for y, x in starts:
        read_window(arr, int(y), int(y) + side, int(x), int(x) + side)
    return len(starts) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", type=Path)
    ap.add_argument("--level", default="micro", choices=["micro", "0"])
    ap.add_argument("--windows", type=int, nargs="+", default=[224, 40])
    ap.add_argument("--reads", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tmp", type=Path, default=None)
    args = ap.parse_args()
    with h5py.File(args.store, "r") as f:
        img = f["lazy"]["micro"]["0"][:] if args.level == "micro" else f["lazy"]["slides"]["0"]["0"][:]
    work = Path(tempfile.mkdtemp(dir=args.tmp))
    try:
        openers, meta = {}, {}
        for name, (file, make) in FORMATS.items():
            if "zarr" in name or "TIFF" in name:
                try:
                    import zarr  # noqa: F401
                except ImportError:
                    continue
            t = time.perf_counter()
            openers[name] = make(work / file, img)
            meta[name] = (_size(work / file), time.perf_counter() - t)
        rng = np.random.default_rng(0)
        C, H, W = img.shape
        rates = {(n, s): [] for s in args.windows for n in openers}
        for r in range(args.repeats):
            for (name, side) in rates:
                starts = np.stack([rng.integers(-side // 2, H - side // 2, args.reads),
                                   rng.integers(-side // 2, W - side // 2, args.reads)], 1)
                arr = openers[name]()  # a fresh handle per round, as a loader worker opens its own
                rates[(name, side)].append(windows_per_s(arr, starts, side))
        print(f"slide: {args.store.name} level {args.level}, (C, H, W) = {img.shape}, {img.nbytes / 2**20:.0f} MiB raw")
        print("| format | on disk (MiB) | write (s) | window side | windows/s (median) | rounds |")
        print("|---|---|---|---|---|---|")
        for (name, side), v in rates.items():
            size, written = meta[name]
            print(f"| {name} | {size / 2**20:.0f} | {written:.1f} | {side} | {statistics.median(v):,.0f} | "
                  f"{', '.join(f'{x:,.0f}' for x in v)} |")
        print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
              f"one thread, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
