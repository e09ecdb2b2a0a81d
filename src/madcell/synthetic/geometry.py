"""Where the niches are: a tumour/stroma random field, round immune aggregates and tube-like vessels.

All geometry is in µm and analytic, so it can be evaluated for cell positions and for any pixel
window. Priority where regions overlap: vessel > immune aggregate > tumour/stroma.
"""

from __future__ import annotations

import numpy as np

from madcell.synthetic.fields import FourierField
from madcell.synthetic.params import NICHES

TUMOUR, STROMA, IMMUNE, VESSEL = (NICHES.index(n) for n in ("tumour", "stroma", "immune_aggregate", "vessel"))
_BLOCK_UM = 400.0  # points are processed in blocks so only nearby aggregates/vessels are tested


class NicheGeometry:
    """Random niche layout of a ``width_um`` x ``height_um`` slide."""

    def __init__(self, rng: np.random.Generator, width_um: float, height_um: float):
        self.width_um, self.height_um = float(width_um), float(height_um)
        area_mm2 = width_um * height_um / 1e6
        self.tumour_field = FourierField(rng, (150.0, 450.0))
        self.tumour_threshold = 0.1  # a bit under half of the area is tumour
        self.warp_field = FourierField(rng, (25.0, 80.0))
        self.fibre_angle_field = FourierField(rng, (150.0, 500.0))
        n_agg = max(1, int(round(area_mm2 * 8)))
        self.aggregates = np.column_stack([
            rng.uniform(0, width_um, n_agg), rng.uniform(0, height_um, n_agg), rng.uniform(30, 60, n_agg),
        ])
        # vessels: polylines of two segments with a bend; each row x0, y0, x1, y1, lumen, wall
        segs = []
        for _ in range(max(1, int(round(area_mm2 * 6)))):
            p = np.array([rng.uniform(0, width_um), rng.uniform(0, height_um)])
            ang = rng.uniform(0, 2 * np.pi)
            lumen, wall = rng.uniform(3, 8), rng.uniform(8, 12)
            for _ in range(2):
                q = p + rng.uniform(40, 125) * np.array([np.cos(ang), np.sin(ang)])
                segs.append([p[0], p[1], q[0], q[1], lumen, wall])
                p, ang = q, ang + rng.normal(0, 0.5)
        self.vessels = np.asarray(segs, dtype=np.float64)

    # ------------------------------------------------------------------ vessels
    def _vessel_distance(self, x: np.ndarray, y: np.ndarray):
        """Distance to the nearest vessel axis, that vessel's lumen radius, wall and axis angle."""
        dist = np.full(x.shape, np.inf)
        lumen = np.zeros(x.shape)
        wall = np.zeros(x.shape)
        angle = np.zeros(x.shape)
        if x.size == 0:
            return dist, lumen, wall, angle
        reach = self.vessels[:, 4] + self.vessels[:, 5] + 1.0
        lo_x, hi_x, lo_y, hi_y = x.min(), x.max(), y.min(), y.max()
        for x0, y0, x1, y1, lum, wal in self.vessels[
            (np.minimum(self.vessels[:, 0], self.vessels[:, 2]) - reach <= hi_x)
            & (np.maximum(self.vessels[:, 0], self.vessels[:, 2]) + reach >= lo_x)
            & (np.minimum(self.vessels[:, 1], self.vessels[:, 3]) - reach <= hi_y)
            & (np.maximum(self.vessels[:, 1], self.vessels[:, 3]) + reach >= lo_y)
        ]:
            dx, dy = x1 - x0, y1 - y0
            t = np.clip(((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
            d = np.hypot(x - x0 - t * dx, y - y0 - t * dy)
            closer = d < dist
            dist[closer], lumen[closer], wall[closer] = d[closer], lum, wal
            angle[closer] = np.arctan2(dy, dx)
        return dist, lumen, wall, angle

    def fibre_angle(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Local orientation (radians) of ECM fibres, shared by fibroblasts lying in them."""
        return 0.5 * np.pi * self.fibre_angle_field(x, y)

    def stroma_weight(self, tumour: np.ndarray) -> np.ndarray:
        """Soft tumour (0) -> stroma (1) transition across the boundary, from the tumour field."""
        z = (self.tumour_threshold - tumour) / 0.08
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def classify_local(self, x: np.ndarray, y: np.ndarray, tumour: np.ndarray | None = None,
                       warp: np.ndarray | None = None):
        """Like :meth:`classify` for points in one small area (a tile): no spatial blocking.
        ``tumour`` / ``warp``: the two fields at the points when already computed (pixel grids)."""
        tumour = self.tumour_field(x, y) if tumour is None else tumour
        niche = np.where(tumour > self.tumour_threshold, TUMOUR, STROMA).astype(np.int8)
        ax, ay, ar = self.aggregates.T
        near = (ax + 1.3 * ar >= x.min()) & (ax - 1.3 * ar <= x.max()) & (ay + 1.3 * ar >= y.min()) & (ay - 1.3 * ar <= y.max())
        if near.any():
            warp = 1.0 + 0.2 * (self.warp_field(x, y) if warp is None else warp)
            for cx, cy, r in self.aggregates[near]:
                niche[np.hypot(x - cx, y - cy) < r * warp] = IMMUNE
        dist, lumen, wall, angle = self._vessel_distance(x, y)
        niche[dist < lumen + wall] = VESSEL
        return niche, dist < lumen, angle

    def classify(self, x_um: np.ndarray, y_um: np.ndarray):
        """(niche code per point, in-lumen flag, nearest vessel axis angle) for arrays of points."""
        x = np.asarray(x_um, dtype=np.float64)
        y = np.asarray(y_um, dtype=np.float64)
        niche = np.empty(x.shape, np.int8)
        lumen = np.empty(x.shape, bool)
        angle = np.empty(x.shape)
        bx = np.floor(x / _BLOCK_UM).astype(np.int64)
        by = np.floor(y / _BLOCK_UM).astype(np.int64)
        key = by * (int(self.width_um // _BLOCK_UM) + 3) + bx
        order = np.argsort(key.ravel(), kind="stable")
        bounds = np.flatnonzero(np.diff(key.ravel()[order])) + 1
        for idx in np.split(order, bounds):
            if idx.size:
                n, lu, an = self.classify_local(x.ravel()[idx], y.ravel()[idx])
                niche.ravel()[idx], lumen.ravel()[idx], angle.ravel()[idx] = n, lu, an
        return niche, lumen, angle
