"""Polygon segmentations as a label source that rasterises on demand.

Xenium and MERSCOPE ship cell boundaries as polygons in µm, not masks; a full-slide mask of a
large section would not fit in memory, so :class:`PolygonLabels` keeps the vertices (in pixel
coordinates) and rasterises only the polygons whose bounding box meets the requested window
(polygons are sorted by their top edge, so finding them is a binary search plus a bounds test).

Pixel convention used throughout :mod:`madcell.io`: pixel (row r, column c) is centred on the
continuous pixel coordinate (x=c, y=r), and a polygon owns the pixels whose centre lies inside it
(even-odd rule) — the rule of ``skimage.draw.polygon``. :func:`fill_polygon` gives the same pixels
(tested against skimage) with a row scanline instead of a point-in-polygon test per pixel of the
bounding box, which is ~10x faster on cell-sized rings and matters for slides with 10^5-10^6 cells. Later polygons overwrite earlier ones where
they overlap. A polygon that covers no pixel centre at all (sub-pixel or zero-area rings, which
vendor files do contain) still owns the one pixel under its vertex mean, so every cell has a mask.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.io.cells import read_table


def fill_polygon(ring: np.ndarray, y0: float, x0: float, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) in an (h, w) window at (y0, x0) of the pixels whose centre is inside ``ring`` (x, y)."""
    x, y = ring[:, 0] - x0, ring[:, 1] - y0
    x2, y2 = np.roll(x, -1), np.roll(y, -1)
    r_lo, r_hi = max(int(np.ceil(y.min())), 0), min(int(np.floor(y.max())), h - 1)
    c_lo, c_hi = max(int(np.ceil(x.min())), 0), min(int(np.floor(x.max())), w - 1)
    if r_hi < r_lo or c_hi < c_lo:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    rows = np.arange(r_lo, r_hi + 1, dtype=np.float64)[:, None]
    crosses = ((y <= rows) & (rows < y2)) | ((y2 <= rows) & (rows < y))  # half-open: each vertex counted once
    ri, ei = np.nonzero(crosses)
    xs = x[ei] + (rows[ri, 0] - y[ei]) * (x2[ei] - x[ei]) / (y2[ei] - y[ei])
    # only the polygon's own columns (no pixel centre outside x.min-x.max is inside): the work is the
    # polygon's box, not the window's width. A crossing at x toggles inside/outside from column floor(x)+1.
    wc = c_hi - c_lo + 1
    toggles = np.zeros((len(rows), wc + 1), np.int32)
    np.add.at(toggles, (ri, np.clip(np.floor(xs).astype(np.int64) + 1 - c_lo, 0, wc)), 1)
    rr, cc = np.nonzero(np.cumsum(toggles, axis=1)[:, :wc] & 1)
    return rr + r_lo, cc + c_lo


class PolygonLabels:
    """:class:`~madcell.io.base.LabelSource` rasterising polygons (pixel x, y vertices) per window."""

    def __init__(self, rings: list[np.ndarray], labels: np.ndarray, shape: tuple[int, int]):
        if len(rings) != len(labels):
            raise ValueError("one label per polygon is needed")
        self.shape = (int(shape[0]), int(shape[1]))
        sizes = np.array([len(r) for r in rings], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(sizes)])
        self._xy = np.concatenate(rings).astype(np.float64) if len(rings) else np.zeros((0, 2))
        self._labels = np.asarray(labels, dtype=np.int32)
        lo = [r.min(axis=0) if len(r) else np.zeros(2) for r in rings]
        hi = [r.max(axis=0) if len(r) else np.zeros(2) for r in rings]
        lo = np.array(lo).reshape(-1, 2)
        hi = np.array(hi).reshape(-1, 2)
        order = np.argsort(lo[:, 1], kind="stable")
        # keep the original order among the candidates of a window (overlap rule), search by top edge
        self._order = order
        self._ymin_sorted = lo[order, 1]
        self._lo, self._hi = lo, hi
        self._max_h = float((hi[:, 1] - lo[:, 1]).max()) if len(rings) else 0.0
        self.anchors = np.array([r.mean(axis=0) if len(r) else np.zeros(2) for r in rings]).reshape(-1, 2)
        self.tiny = np.zeros(len(rings), bool)
        for i in np.flatnonzero((hi - lo).min(axis=1) < 3):  # only small boxes can miss every pixel centre
            r = rings[i]
            oy, ox = np.floor(lo[i, 1]), np.floor(lo[i, 0])
            rr, _ = fill_polygon(r, oy, ox, int(hi[i, 1] - oy) + 2, int(hi[i, 0] - ox) + 2)
            self.tiny[i] = len(rr) == 0

    def __len__(self) -> int:
        return len(self._labels)

    def ring(self, i: int) -> np.ndarray:
        return self._xy[self._offsets[i] : self._offsets[i + 1]]

    def candidates(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Indices (original order) of polygons whose bounding box meets the window."""
        a = np.searchsorted(self._ymin_sorted, y0 - 1 - self._max_h, side="left")
        b = np.searchsorted(self._ymin_sorted, y1 + 1, side="right")
        idx = self._order[a:b]
        lo, hi = self._lo[idx], self._hi[idx]
        keep = (hi[:, 1] >= y0 - 1) & (lo[:, 1] <= y1) & (hi[:, 0] >= x0 - 1) & (lo[:, 0] <= x1)
        return np.sort(idx[keep])

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        h, w = y1 - y0, x1 - x0
        out = np.zeros((h, w), dtype=np.int32)
        for i in self.candidates(y0, y1, x0, x1):
            ring = self.ring(i)
            if self.tiny[i]:
                c, r = np.rint(self.anchors[i]).astype(int)
                if y0 <= r < y1 and x0 <= c < x1:
                    out[r - y0, c - x0] = self._labels[i]
                continue
            rr, cc = fill_polygon(ring, y0, x0, h, w)
            out[rr, cc] = self._labels[i]
        H, W = self.shape  # outside the slide is background
        if y0 < 0:
            out[: min(-y0, h)] = 0
        if x0 < 0:
            out[:, : min(-x0, w)] = 0
        if y1 > H:
            out[max(H - y0, 0) :] = 0
        if x1 > W:
            out[:, max(W - x0, 0) :] = 0
        return out


def rings_from_vertices(ids: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[list[str], list[np.ndarray]]:
    """Group vertex rows (one polygon per id, vertices in file order) into (ids, rings)."""
    ids = pd.Series(ids).astype(str).to_numpy()
    codes, uniques = pd.factorize(ids, sort=False)
    order = np.argsort(codes, kind="stable")
    xy = np.column_stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])[order]
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    rings = [xy[bounds[i] : bounds[i + 1]] for i in range(len(uniques))]
    return [str(u) for u in uniques], rings


def shapely_polygons(rings: list[np.ndarray]):
    """Vectorised shapely Polygon array (one per ring); rings with < 3 vertices become empty."""
    import shapely

    return np.array([shapely.Polygon(r) if len(r) >= 3 else shapely.Polygon() for r in rings], dtype=object)


def polygon_centroids(rings: list[np.ndarray]) -> np.ndarray:
    """(N, 2) area centroids (x, y) of the rings, in the rings' own units."""
    import shapely

    cent = shapely.centroid(shapely_polygons(rings))
    return np.column_stack([shapely.get_x(cent), shapely.get_y(cent)])


def polygon_cells(ids: list[str], rings_px: list[np.ndarray], shape: tuple[int, int]):
    """Label source + cell table for polygons already in pixel coordinates.

    Polygons with fewer than 3 vertices or lying wholly outside the slide are dropped (their ids are
    returned as the third value). Labels are 1..N in the order of the kept polygons; centroids are
    the polygons' area centroids.
    """
    H, W = shape
    keep, dropped = [], []
    for i, r in enumerate(rings_px):
        ok = len(r) >= 3 and r[:, 0].max() >= -0.5 and r[:, 0].min() <= W - 0.5 and r[:, 1].max() >= -0.5 \
            and r[:, 1].min() <= H - 0.5
        (keep if ok else dropped).append(i)
    rings = [rings_px[i] for i in keep]
    labels = np.arange(1, len(rings) + 1, dtype=np.int32)
    source = PolygonLabels(rings, labels, shape)
    cent = polygon_centroids(rings) if rings else np.zeros((0, 2))
    bad = source.tiny | ~np.isfinite(cent).all(axis=1)
    cent[bad] = source.anchors[bad]
    cells = pd.DataFrame({"cell_id": [ids[i] for i in keep], "label": labels.astype(np.int64),
                          "x_px": cent[:, 0], "y_px": cent[:, 1]})
    return source, cells, [ids[i] for i in dropped]


def read_polygon_file(path: str | Path) -> tuple[list[str], list[np.ndarray]]:
    """(ids, rings) from a vertex table (parquet/CSV: ``cell_id`` + ``x``,``y`` or ``vertex_x``,``vertex_y``)
    or a GeoJSON FeatureCollection (id from ``properties.cell_id``, else ``properties.id``, else the
    feature ``id``; a MultiPolygon contributes its largest part). Coordinates stay in file units."""
    path = Path(path)
    if path.name.lower().endswith((".geojson", ".json")):
        import shapely.geometry

        try:
            doc = json.loads(path.read_text())
            ids, rings = [], []
            for i, feat in enumerate(doc["features"]):
                props = feat.get("properties") or {}
                cid = props.get("cell_id", props.get("id", feat.get("id", i + 1)))
                geom = shapely.geometry.shape(feat["geometry"])
                if geom.geom_type == "MultiPolygon":
                    geom = max(geom.geoms, key=lambda g: g.area)
                ids.append(str(cid))
                rings.append(np.asarray(geom.exterior.coords, dtype=np.float64)[:, :2])
        except Exception as exc:
            raise InputError(path, f"cannot read GeoJSON polygons ({type(exc).__name__}: {exc})") from None
        return ids, rings
    df = read_table(path)
    xcol = "x" if "x" in df else "vertex_x"
    ycol = "y" if "y" in df else "vertex_y"
    for col in ("cell_id", xcol, ycol):
        if col not in df:
            raise InputError(path, f"polygon table needs columns cell_id, x, y (or vertex_x, vertex_y); no '{col}'")
    ids = df["cell_id"].map(lambda v: v.decode() if isinstance(v, bytes) else str(v)).to_numpy()
    return rings_from_vertices(ids, df[xcol].to_numpy(), df[ycol].to_numpy())
