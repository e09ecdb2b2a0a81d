"""Tile-wise output: a raw tile spool, then tiled OME-TIFF / TIFF written from it.

tifffile's tile-iterator interface wants every tile of channel 0, then of channel 1, ..., while the
renderer produces all channels of one block at once. Blocks are therefore first written into a raw
spool file at fixed offsets (``os.pwrite``; the page cache, not the process, holds them), then
streamed channel by channel into the TIFF with ``os.pread``. Peak memory stays at one block, whatever
the slide size.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import tifffile

from madcell.utils.atomic import atomic_path


class TileSpool:
    """Fixed-layout raw file of (plane, tile row, tile col) tiles of one dtype."""

    def __init__(self, path: Path, n_planes: int, height: int, width: int, tile: int, dtype):
        self.path, self.n_planes, self.tile = Path(path), n_planes, tile
        self.height, self.width, self.dtype = height, width, np.dtype(dtype)
        self.nty, self.ntx = -(-height // tile), -(-width // tile)
        self.tile_bytes = tile * tile * self.dtype.itemsize
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)

    def _offset(self, plane: int, ty: int, tx: int) -> int:
        return ((plane * self.nty + ty) * self.ntx + tx) * self.tile_bytes

    def put_block(self, y0: int, x0: int, block: np.ndarray) -> None:
        """Store a (n_planes, h, w) block whose corner (y0, x0) is tile-aligned."""
        t = self.tile
        for p in range(self.n_planes):
            for ty in range(0, block.shape[1], t):
                for tx in range(0, block.shape[2], t):
                    tile = np.zeros((t, t), self.dtype)
                    part = block[p, ty : ty + t, tx : tx + t]
                    tile[: part.shape[0], : part.shape[1]] = part
                    os.pwrite(self.fd, tile.tobytes(), self._offset(p, (y0 + ty) // t, (x0 + tx) // t))

    def read_tile(self, plane: int, ty: int, tx: int) -> np.ndarray:
        raw = os.pread(self.fd, self.tile_bytes, self._offset(plane, ty, tx))
        return np.frombuffer(raw, self.dtype).reshape(self.tile, self.tile)

    def tiles(self) -> Iterator[np.ndarray]:
        for p in range(self.n_planes):
            for ty in range(self.nty):
                for tx in range(self.ntx):
                    yield self.read_tile(p, ty, tx)

    def close(self) -> None:
        os.close(self.fd)
        self.path.unlink(missing_ok=True)


def write_tiff(target: Path, spool: TileSpool, channel_names: Sequence[str] | None, pixel_size_um: float) -> None:
    """Write the spool as a tiled, zlib-compressed TIFF: OME (C, Y, X) with channel names and
    physical pixel size when ``channel_names`` is given, else a plain (Y, X) label image."""
    shape = (spool.n_planes, spool.height, spool.width)
    kwargs = dict(tile=(spool.tile, spool.tile), dtype=spool.dtype, photometric="minisblack",
                  compression="zlib", compressionargs={"level": 1})
    with atomic_path(target) as tmp:
        if channel_names is not None:
            meta = {"axes": "CYX", "PhysicalSizeX": pixel_size_um, "PhysicalSizeY": pixel_size_um,
                    "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm", "Channel": {"Name": list(channel_names)}}
            with tifffile.TiffWriter(tmp, ome=True, bigtiff=spool.n_planes * spool.height * spool.width * spool.dtype.itemsize > 2**31) as tw:
                tw.write(spool.tiles(), shape=shape, metadata=meta, **kwargs)
        else:
            res = 1e4 / pixel_size_um  # pixels per cm
            with tifffile.TiffWriter(tmp, bigtiff=spool.height * spool.width * 4 > 2**31) as tw:
                tw.write(spool.tiles(), shape=shape[1:], resolution=(res, res), resolutionunit="CENTIMETER",
                         metadata=None, **kwargs)
