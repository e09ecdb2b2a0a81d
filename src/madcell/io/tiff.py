"""Lazy windows of (OME-)TIFF files.

Whole-slide images are far larger than memory, so :class:`TiffImage` never loads a slide: it opens
the first series through ``tifffile``'s zarr store (``aszarr``) and decodes only the strips or tiles
that a window touches. The file handle is opened on first use and dropped when the object is
pickled, so sources can be shipped to worker processes.

Axes: ``Y`` and ``X`` are the plane; the channel axis is ``C``, else ``S`` (samples, e.g. RGB), else a
single unnamed ``Q``/``I`` axis (what plain multi-page TIFFs report). Every other axis (``Z``, ``T``)
is fixed to index ``z`` (Z) or 0. Pixel size and channel names come from the OME-XML when present
(pixel size also from ImageJ TIFFs whose unit is microns).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from madcell.errors import InputError

_UM_PER_UNIT = {"µm": 1.0, "um": 1.0, "micron": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6, "Å": 1e-4}


def _open_tiff(path: Path):
    import tifffile

    try:
        return tifffile.TiffFile(path)
    except Exception as exc:  # tifffile raises many types for broken files
        raise InputError(path, f"cannot read TIFF ({type(exc).__name__}: {exc})") from None


def _check_complete(tf, series, path: Path) -> None:
    """Every strip/tile of the series must lie inside the file (catches truncated files cheaply)."""
    size = Path(path).stat().st_size
    for page in series.pages:
        if page is None:
            continue
        offsets, counts = page.dataoffsets, page.databytecounts
        if len(offsets) and int(np.max(np.asarray(offsets) + np.asarray(counts))) > size:
            raise InputError(path, "TIFF is truncated: image data extends past the end of the file")


def ome_pixel_size_um(tf) -> float | None:
    """``PhysicalSizeX`` of the first OME image in µm, or None when the OME-XML does not give one."""
    if not tf.is_ome or not tf.ome_metadata:
        return None
    m = re.search(r"<Pixels\b[^>]*>", tf.ome_metadata)
    if m is None:
        return None
    size = re.search(r'PhysicalSizeX="([^"]+)"', m.group(0))
    if size is None:
        return None
    unit = re.search(r'PhysicalSizeXUnit="([^"]+)"', m.group(0))
    factor = _UM_PER_UNIT.get(unit.group(1) if unit else "µm")
    value = float(size.group(1))
    if factor is None or not np.isfinite(value) or value <= 0:
        return None
    return value * factor


def imagej_pixel_size_um(tf) -> float | None:
    """Pixel size of an ImageJ/Fiji TIFF whose ``unit`` is microns (from the XResolution tag)."""
    meta = tf.imagej_metadata or {}
    unit = str(meta.get("unit", "")).replace("\\u00B5", "µ").lower()
    if unit not in ("micron", "microns", "µm", "um"):
        return None
    tag = tf.pages[0].tags.get("XResolution")
    if tag is None:
        return None
    num, den = tag.value
    return float(den) / float(num) if num else None


def ome_channel_names(tf) -> list[str]:
    """Channel ``Name`` attributes of the first OME image (may be empty)."""
    if not tf.is_ome or not tf.ome_metadata:
        return []
    image = re.search(r"<Image\b.*?</Image>", tf.ome_metadata, flags=re.S)
    text = image.group(0) if image else tf.ome_metadata
    channels = re.findall(r"<Channel\b[^>]*>", text)
    names = [re.search(r'\bName="([^"]*)"', c) for c in channels]
    return [n.group(1) for n in names if n is not None] if all(names) else []


class TiffArray:
    """A (C, H, W) lazy view of one TIFF series; ``read`` returns zero-filled windows."""

    def __init__(self, path: str | Path, z: int = 0):
        self.path = Path(path)
        self.z = int(z)
        tf = _open_tiff(self.path)
        try:
            if not tf.series:
                raise InputError(self.path, "TIFF holds no image")
            series = tf.series[0]
            _check_complete(tf, series, self.path)
            self.axes = series.axes.upper()
            shape = dict(zip(self.axes, series.shape))
            if "Y" not in shape or "X" not in shape:
                raise InputError(self.path, f"TIFF axes {series.axes!r} have no Y/X plane")
            self.channel_axis = self._channel_axis()
            n_ch = shape[self.channel_axis] if self.channel_axis else 1
            if "Z" in shape and not 0 <= self.z < shape["Z"]:
                raise InputError(self.path, f"z plane {self.z} does not exist (the file has {shape['Z']})")
            self.shape = (int(n_ch), int(shape["Y"]), int(shape["X"]))
            self.dtype = np.dtype(series.dtype)
            self.pixel_size_um = ome_pixel_size_um(tf) or imagej_pixel_size_um(tf)
            names = ome_channel_names(tf)
            self.file_channel_names = names if len(names) == n_ch else []
        finally:
            tf.close()
        self._zarr: Any = None
        self._tf: Any = None

    def _channel_axis(self) -> str | None:
        for ax in ("C", "S"):
            if ax in self.axes:
                return ax
        extra = [a for a in self.axes if a not in "YXZT"]
        if len(extra) > 1:
            raise InputError(self.path, f"cannot tell the channel axis among TIFF axes {self.axes!r}")
        return extra[0] if extra else None

    def _array(self):
        if self._zarr is None:
            import zarr

            self._tf = _open_tiff(self.path)
            self._zarr = zarr.open(self._tf.series[0].aszarr(level=0), mode="r")
        return self._zarr

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_zarr"] = state["_tf"] = None
        return state

    def read_channel(self, c: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """(y1-y0, x1-x0) window of channel ``c``; outside the file is 0."""
        _, H, W = self.shape
        out = np.zeros((y1 - y0, x1 - x0), dtype=self.dtype)
        sy0, sy1, sx0, sx1 = max(y0, 0), min(y1, H), max(x0, 0), min(x1, W)
        if sy0 >= sy1 or sx0 >= sx1:
            return out
        index = []
        for ax in self.axes:
            if ax == "Y":
                index.append(slice(sy0, sy1))
            elif ax == "X":
                index.append(slice(sx0, sx1))
            elif ax == self.channel_axis:
                index.append(c)
            else:
                index.append(self.z if ax == "Z" else 0)
        try:
            out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = np.asarray(self._array()[tuple(index)])
        except InputError:
            raise
        except Exception as exc:
            raise InputError(self.path, f"cannot decode TIFF data ({type(exc).__name__}: {exc})") from None
        return out


class TiffImage:
    """:class:`~madcell.io.base.ImageSource` over a TIFF: channels are read window by window."""

    def __init__(self, path: str | Path, channel_names: list[str] | None = None, z: int = 0):
        self._arr = TiffArray(path, z=z)
        self.path = self._arr.path
        n_ch = self._arr.shape[0]
        rgb = n_ch == 3 and self._arr.channel_axis == "S"
        default = self._arr.file_channel_names or (["R", "G", "B"] if rgb else [f"ch{i}" for i in range(n_ch)])
        self.channel_names = list(channel_names) if channel_names is not None else default
        if len(self.channel_names) != n_ch:
            raise InputError(self.path, f"{len(self.channel_names)} channel names given for {n_ch} channels")
        self._keep = list(range(n_ch))
        self.shape = self._arr.shape
        self.dtype = self._arr.dtype
        self.pixel_size_um = self._arr.pixel_size_um

    def select(self, names: list[str]) -> "TiffImage":
        """Keep only the named channels (in that order)."""
        missing = [n for n in names if n not in self.channel_names]
        if missing:
            raise InputError(self.path, f"channel(s) {missing} not in the image (it has {self.channel_names})")
        self._keep = [self._keep[self.channel_names.index(n)] for n in names]
        self.channel_names = list(names)
        self.shape = (len(names),) + self.shape[1:]
        return self

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return np.stack([self._arr.read_channel(c, y0, y1, x0, x1) for c in self._keep])


class TiffLabels:
    """:class:`~madcell.io.base.LabelSource` over a single-channel TIFF mask (float masks are cast)."""

    def __init__(self, path: str | Path):
        self._arr = TiffArray(path)
        self.path = self._arr.path
        if self._arr.shape[0] != 1:
            raise InputError(self.path, f"label mask has a channel axis ({self._arr.shape[0]} channels); "
                             "expected one (H, W) plane")
        kind = self._arr.dtype.kind
        if kind not in "iuf" and self._arr.dtype != np.bool_:
            raise InputError(self.path, f"label mask has non-numeric dtype {self._arr.dtype}")
        self.shape = self._arr.shape[1:]

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        win = self._arr.read_channel(0, y0, y1, x0, x1)
        if win.dtype.kind == "f":
            win = float_labels(win, self.path, f"rows {y0}:{y1}, cols {x0}:{x1}")
        return win.astype(np.int32, copy=False)


def float_labels(win: np.ndarray, path, where: str = "") -> np.ndarray:
    """A float mask holding whole numbers (CosMx exports float32 masks) as integers; NaN or fractional
    values mean it is not a label image (a probability map, an interpolated mask) and rounding them
    would merge or invent cells: an InputError."""
    r = np.rint(win)
    bad = ~np.isfinite(win) | (np.abs(win - r) > 1e-3)
    if bad.any():
        v = win[bad][0]
        raise InputError(path, f"label mask holds {int(bad.sum())} non-integer value(s) (e.g. {v!r}){' in ' + where if where else ''}: "
                               "a label image has whole-number cell ids (is it a probability map or a resampled mask?)")
    return r
