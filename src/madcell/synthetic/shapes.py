"""Cell and nucleus shapes in pixels, and rasterising them into a window of the label mask.

A cell is a star-shaped blob: an ellipse (semi-axes ``a``, ``b``, orientation ``angle``) whose radius
is modulated by a few random harmonics, ``r(φ) = 1 + Σ_k A_k cos(kφ + φ_k)`` for k = 2..5 with
``Σ A_k = irreg``. A pixel's normalised distance is ``d = ρ / r(φ)`` (ρ = elliptical radius); it is
inside the cell where ``d < 1``. Touching cells split their overlap by the smaller ``d`` (a
weighted Voronoi boundary, like a segmentation of packed cells), so masks never overlap and every
cell keeps at least its centre pixel. The nucleus is a smaller ellipse, offset along the major axis.
Proliferating cells have either a condensed nucleus (60 % of the axes) or two small daughter
chromatin blobs along the major axis (a dividing cell).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from madcell.synthetic.layout import Layout
from madcell.synthetic.params import MORPH_FIELDS, morphology_table

HARMONICS = np.arange(2, 6)


@dataclass
class CellShapes:
    cx: np.ndarray  # centre, pixels (column)
    cy: np.ndarray  # centre, pixels (row)
    a: np.ndarray  # semi-axes, pixels
    b: np.ndarray
    cos: np.ndarray
    sin: np.ndarray
    amp: np.ndarray  # (n, 4) harmonic amplitudes
    phase: np.ndarray  # (n, 4)
    nuc_off: np.ndarray  # nucleus centre offset along the major axis, pixels
    na: np.ndarray
    nb: np.ndarray
    prolif_mode: np.ndarray  # 0 none, 1 condensed, 2 dividing
    reach: np.ndarray  # radius (pixels) beyond which the cell has no pixel

    def __len__(self) -> int:
        return len(self.cx)


def make_shapes(layout: Layout, pixel_size_um: float, rng: np.random.Generator) -> CellShapes:
    n = layout.n_cells
    m = morphology_table()[layout.cell_type]
    f = {k: m[:, i] for i, k in enumerate(MORPH_FIELDS)}
    a = f["a"] * layout.size / pixel_size_um
    b = f["b"] * layout.size / pixel_size_um
    w = rng.dirichlet(np.ones(len(HARMONICS)), n)
    amp = w * f["irreg"][:, None]
    phase = rng.uniform(0, 2 * np.pi, (n, len(HARMONICS)))
    nuc_off = f["nuc_off"] * a * rng.choice([-1.0, 1.0], n)
    na, nb = f["nuc_a"] * a, f["nuc_b"] * b
    mode = np.where(layout.proliferating, rng.integers(1, 3, n), 0)
    na = np.where(mode == 1, 0.6 * na, na)
    nb = np.where(mode == 1, 0.6 * nb, nb)
    reach = a * (1 + amp.sum(axis=1)) + 1.5
    return CellShapes(
        layout.x_um / pixel_size_um, layout.y_um / pixel_size_um, a, b, np.cos(layout.angle),
        np.sin(layout.angle), amp, phase, nuc_off, na, nb, mode, reach,
    )


def paint(shapes: CellShapes, idx: np.ndarray, y0: int, x0: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise cells ``idx`` into the window at (y0, x0) of size (h, w).

    Returns the label window (int32, cell index + 1, 0 background) and a nucleus mask (bool).
    """
    best = np.ones((h, w), np.float32)
    lab = np.zeros((h, w), np.int32)
    nuc = np.zeros((h, w), bool)
    for i in idx:
        cx, cy, R = shapes.cx[i], shapes.cy[i], shapes.reach[i]
        ya, yb = max(int(np.floor(cy - R)), y0), min(int(np.ceil(cy + R)) + 1, y0 + h)
        xa, xb = max(int(np.floor(cx - R)), x0), min(int(np.ceil(cx + R)) + 1, x0 + w)
        if ya >= yb or xa >= xb:
            continue
        yy = (np.arange(ya, yb, dtype=np.float32) - np.float32(cy))[:, None]
        xx = (np.arange(xa, xb, dtype=np.float32) - np.float32(cx))[None, :]
        c, s = np.float32(shapes.cos[i]), np.float32(shapes.sin[i])
        u = xx * c + yy * s  # along the major axis
        v = yy * c - xx * s
        ua, vb = u / np.float32(shapes.a[i]), v / np.float32(shapes.b[i])
        phi = np.arctan2(vb, ua)
        r = np.ones_like(phi)
        for k, A, ph in zip(HARMONICS, shapes.amp[i], shapes.phase[i]):
            r += np.float32(A) * np.cos(k * phi + np.float32(ph))
        d = np.sqrt(ua * ua + vb * vb) / r
        sub = best[ya - y0 : yb - y0, xa - x0 : xb - x0]
        win = d < sub
        if not win.any():
            continue
        sub[win] = d[win]
        lab[ya - y0 : yb - y0, xa - x0 : xb - x0][win] = i + 1
        nu = u - np.float32(shapes.nuc_off[i])
        if shapes.prolif_mode[i] == 2:  # two daughter chromatin blobs along the major axis
            sep, rad = 0.55 * shapes.na[i], 0.45 * np.sqrt(shapes.na[i] * shapes.nb[i])
            inside = np.minimum(np.hypot(nu - sep, v), np.hypot(nu + sep, v)) < rad
        else:
            inside = (nu / np.float32(shapes.na[i])) ** 2 + (v / np.float32(shapes.nb[i])) ** 2 < 1
        nuc[ya - y0 : yb - y0, xa - x0 : xb - x0][win] = inside[win]
    return lab, nuc
