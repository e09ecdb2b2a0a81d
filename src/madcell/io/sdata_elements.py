"""Pieces of a SpatialData object that the SpatialData reader needs: element choice, affine maps and
window reads straight from the element's zarr arrays.

Conventions. SpatialData puts the *corner* of pixel (0, 0) at intrinsic (0, 0); madcell puts its
*centre* at pixel (0, 0). So ``madcell px = intrinsic - 0.5``. An element's transformation to a
coordinate system is read as a 3x3 affine on (x, y, 1). Coordinate systems carry no unit in
SpatialData; madcell takes them as µm unless the reader is given ``pixel_size_um``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from madcell.errors import InputError
from madcell.io.base import read_window
from madcell.io.options import MicronToPixel


def affine(element, cs: str) -> np.ndarray:
    """(3, 3) affine from the element's intrinsic (x, y) to coordinate system ``cs``."""
    from spatialdata.transformations import get_transformation

    t = get_transformation(element, to_coordinate_system=cs)
    return np.asarray(t.to_affine_matrix(input_axes=("x", "y"), output_axes=("x", "y")), dtype=np.float64)


def is_axis_aligned(m: np.ndarray, tol: float = 1e-9) -> bool:
    return abs(m[0, 1]) < tol and abs(m[1, 0]) < tol and m[0, 0] > 0 and m[1, 1] > 0


def cs_to_pixels(a_level: np.ndarray) -> MicronToPixel:
    """Coordinate system -> madcell pixels (centre convention) of an image level whose intrinsic
    (corner) coordinates map to the system by ``a_level``. Axis-aligned maps are built as
    ``(x - o) * (1 / scale)`` with ``o`` the position of pixel (0, 0)'s centre — the arithmetic of the
    vendor readers, so that polygon vertices lying exactly on pixel centres (segmentations traced on
    the pixel grid) rasterise to the same pixels and not to ulp-shifted neighbours."""
    if not is_axis_aligned(a_level):
        m = np.linalg.inv(a_level)
        m[:2, 2] -= 0.5
        return MicronToPixel(m)
    sx, sy = 1.0 / a_level[0, 0], 1.0 / a_level[1, 1]
    ox, oy = a_level[0, 0] * 0.5 + a_level[0, 2], a_level[1, 1] * 0.5 + a_level[1, 2]
    return MicronToPixel(np.array([[sx, 0.0, -ox * sx], [0.0, sy, -oy * sy], [0.0, 0.0, 1.0]]))


def pick(kind: str, names: list[str], given: str | None, path: Path, hint: str = "") -> str | None:
    """The element named by the option, else the only one; an ambiguous choice is an InputError."""
    if given is not None:
        if given not in names:
            raise InputError(path, f"no {kind} element {given!r} (it has: {', '.join(names) or 'none'})")
        return given
    if len(names) == 1:
        return names[0]
    if len(names) > 1:
        raise InputError(path, f"{len(names)} {kind} elements ({', '.join(names)}); name one with --option {hint or kind}=NAME")
    return None


def level0(element):
    """The finest scale of an image or labels element as a DataArray."""
    if hasattr(element, "children") and len(element.children):
        return next(iter(element["scale0"].data_vars.values()))
    return element


def zarr_levels(root: Path, group: str, name: str) -> list[tuple[str, tuple[float, float]]]:
    """(array path, (sx, sy) scale of that level relative to its intrinsic grid) of each level, finest
    first, from the element's OME-NGFF ``multiscales.datasets``."""
    folder = root / group / name
    attrs = {}
    if (folder / "zarr.json").is_file():
        attrs = json.loads((folder / "zarr.json").read_text()).get("attributes", {}).get("ome", {})
    elif (folder / ".zattrs").is_file():
        attrs = json.loads((folder / ".zattrs").read_text())
    try:
        out = []
        for d in attrs["multiscales"][0]["datasets"]:
            scale = next((t["scale"] for t in d.get("coordinateTransformations", []) if t.get("type") == "scale"),
                         [1.0, 1.0])
            out.append((f"{group}/{name}/{d['path']}", (float(scale[-1]), float(scale[-2]))))
        return out
    except (KeyError, IndexError, TypeError):
        raise InputError(folder, "no OME-NGFF multiscales metadata for this element") from None


class ZarrWindows:
    """Windows of one zarr array of a store, opened on first use (picklable for worker processes)."""

    def __init__(self, root: Path, array_path: str):
        self.root, self.array_path = Path(root), array_path
        self._arr = None

    @property
    def array(self):
        if self._arr is None:
            import zarr

            self._arr = zarr.open_array(str(self.root / self.array_path), mode="r")
        return self._arr

    def __getstate__(self):
        return {"root": self.root, "array_path": self.array_path, "_arr": None}

    def window(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return read_window(self.array, y0, y1, x0, x1)


class ZarrImage:
    """(C, H, W) ImageSource over one level of a SpatialData image."""

    def __init__(self, root: Path, array_path: str, shape, dtype, channel_names: list[str]):
        self._win = ZarrWindows(root, array_path)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.channel_names = list(channel_names)

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return self._win.window(y0, y1, x0, x1)


class ZarrLabels:
    """(H, W) LabelSource over a SpatialData labels array, mapped onto the image level's pixel grid.

    ``to_labels`` is the axis-aligned affine from the image level's intrinsic (x, y) to the labels'
    intrinsic (x, y); each image pixel takes the label under its centre (nearest neighbour)."""

    def __init__(self, root: Path, array_path: str, labels_shape, to_labels: np.ndarray, shape: tuple[int, int]):
        self._win = ZarrWindows(root, array_path)
        self.labels_shape = tuple(int(s) for s in labels_shape)
        self.m = np.asarray(to_labels, dtype=np.float64)
        self.shape = tuple(int(s) for s in shape)
        self.identity = np.allclose(self.m, np.eye(3), atol=1e-9) and self.labels_shape == self.shape

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        if self.identity:
            return self._win.window(y0, y1, x0, x1).astype(np.int32, copy=False)
        cols = np.floor(self.m[0, 0] * (np.arange(x0, x1) + 0.5) + self.m[0, 2]).astype(np.int64)
        rows = np.floor(self.m[1, 1] * (np.arange(y0, y1) + 0.5) + self.m[1, 2]).astype(np.int64)
        if not len(rows) or not len(cols):
            return np.zeros((len(rows), len(cols)), np.int32)
        r0, c0 = int(rows.min()), int(cols.min())
        src = self._win.window(r0, int(rows.max()) + 1, c0, int(cols.max()) + 1)
        out = src[np.ix_(rows - r0, cols - c0)].astype(np.int32, copy=False)
        H, W = self.shape  # outside the image grid is background too
        out[(np.arange(y0, y1) < 0) | (np.arange(y0, y1) >= H)] = 0
        out[:, (np.arange(x0, x1) < 0) | (np.arange(x0, x1) >= W)] = 0
        return out
