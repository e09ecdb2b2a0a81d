"""Cell placement and ground-truth labels.

Cells are placed by thinning a dense Poisson process of candidates: candidate intensity depends on the
niche, each candidate draws a cell type from its niche's composition and a size, and a random-priority
maximal independent set (Luby's algorithm, equivalent to random sequential adsorption) keeps only
candidates that do not crowd a kept neighbour (centre distance >= p_i r_i + p_j r_j, see PACKING). If that gives
fewer than the requested cells the slide is enlarged and the layout redrawn; the square slide is then
cropped (from its top-left corner) to the side that holds exactly ``n_cells`` cell centres, so cell
density is what the thinning produced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from madcell.synthetic.geometry import TUMOUR, VESSEL, NicheGeometry
from madcell.synthetic.params import (
    CELL_TYPES, COMPOSITION, NICHE_CANDIDATE_DENSITY, NICHES, PACKING, SIZE_JITTER, morphology_table,
)

AREA_PER_CELL_UM2 = 200.0  # first guess of the slide area per placed cell


@dataclass
class Layout:
    geometry: NicheGeometry
    x_um: np.ndarray
    y_um: np.ndarray
    cell_type: np.ndarray  # int index into CELL_TYPES
    niche: np.ndarray  # int index into NICHES
    size: np.ndarray  # per-cell size factor (multiplies the type's semi-axes)
    angle: np.ndarray  # major-axis orientation (radians)
    proliferating: np.ndarray  # bool

    @property
    def n_cells(self) -> int:
        return len(self.x_um)


def _luby_mis(n: int, i: np.ndarray, j: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Maximal independent set of the conflict graph (edges i-j): keep local priority maxima, drop
    their neighbours, repeat."""
    prio = rng.random(n)
    active = np.ones(n, bool)
    keep = np.zeros(n, bool)
    while active.any():
        e = active[i] & active[j]
        i, j = i[e], j[e]
        nb_max = np.full(n, -1.0)
        np.maximum.at(nb_max, i, prio[j])
        np.maximum.at(nb_max, j, prio[i])
        win = active & (prio > nb_max)
        keep |= win
        active &= ~win
        active[i[win[j]]] = False
        active[j[win[i]]] = False
    return keep


def _candidates(geom: NicheGeometry, rng: np.random.Generator):
    dens = np.array([NICHE_CANDIDATE_DENSITY[n] for n in NICHES])
    n = rng.poisson(dens.max() * geom.width_um * geom.height_um)
    x = rng.uniform(0, geom.width_um, n)
    y = rng.uniform(0, geom.height_um, n)
    niche, lumen, vangle = geom.classify(x, y)
    ok = (rng.random(n) < dens[niche] / dens.max()) & ~lumen
    x, y, niche, vangle = x[ok], y[ok], niche[ok], vangle[ok]
    comp = np.array([COMPOSITION[n] for n in NICHES])
    cum = np.cumsum(comp, axis=1)
    ctype = (rng.random(len(x))[:, None] > cum[niche]).sum(axis=1).clip(0, len(CELL_TYPES) - 1)
    size = np.exp(rng.normal(0.0, SIZE_JITTER, len(x)))
    return x, y, niche, vangle, ctype, size


def _thin(x, y, ctype, size, rng) -> np.ndarray:
    morph = morphology_table()
    pack = np.array([PACKING[t] for t in CELL_TYPES])[ctype]
    r = np.sqrt(morph[ctype, 0] * morph[ctype, 1]) * size * pack
    pts = np.column_stack([x, y])
    pairs = cKDTree(pts).query_pairs(r=2 * r.max(), output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    close = np.hypot(x[i] - x[j], y[i] - y[j]) < r[i] + r[j]
    return _luby_mis(len(x), i[close], j[close], rng)


def make_layout(n_cells: int, seed: int, proliferating_frac: float, max_tries: int = 8) -> Layout:
    """Lay out exactly ``n_cells`` cells on a square slide sized for them."""
    if n_cells < 1:
        raise ValueError("n_cells must be >= 1")
    area = max(n_cells, 50) * AREA_PER_CELL_UM2
    for attempt in range(max_tries):
        rng = np.random.default_rng([seed, 1, attempt])
        side = float(np.sqrt(area))
        geom = NicheGeometry(rng, side, side)
        x, y, niche, vangle, ctype, size = _candidates(geom, rng)
        keep = np.flatnonzero(_thin(x, y, ctype, size, rng))
        if len(keep) >= n_cells:
            break
        area *= 1.15 * n_cells / max(len(keep), 1)
    else:
        raise RuntimeError(f"could not place {n_cells} cells in {max_tries} attempts")
    # crop the square slide down to the side that holds exactly n_cells centres (density unchanged)
    first = np.argsort(np.maximum(x[keep], y[keep]), kind="stable")[:n_cells]
    keep = keep[first]
    side = float(np.maximum(x[keep], y[keep]).max()) + 0.5
    geom.width_um = geom.height_um = side
    order = np.lexsort((x[keep], y[keep]))  # raster order: labels grow top-left to bottom-right
    k = keep[order]
    x, y, niche, vangle, ctype, size = x[k], y[k], niche[k], vangle[k], ctype[k], size[k]

    angle = rng.uniform(0, np.pi, n_cells)
    fib = ctype == CELL_TYPES.index("fibroblast")
    angle[fib] = geom.fibre_angle(x[fib], y[fib]) + rng.normal(0, 0.2, fib.sum())
    wall = np.isin(ctype, [CELL_TYPES.index("endothelial"), CELL_TYPES.index("pericyte")]) & (niche == VESSEL)
    angle[wall] = vangle[wall] + rng.normal(0, 0.15, wall.sum())
    prolif = rng.random(n_cells) < proliferating_frac  # independent of type and niche
    return Layout(geom, x, y, ctype.astype(np.int16), niche.astype(np.int16), size, angle, prolif)


def subtype_labels(layout: Layout) -> np.ndarray:
    """Subtype strings: neighbourhood splits (TAM/CAF in the tumour niche) and the proliferating state.

    * macrophage -> ``macrophage_TAM`` in the tumour niche, else ``macrophage_stromal``;
      fibroblast -> ``CAF`` in the tumour niche, else ``fibroblast_stromal``. The split changes no
      morphological parameter, so only the context (or genes) can tell them apart.
    * proliferating cells (any type, any niche) -> ``<type>_proliferating`` (takes precedence); this
      changes only the nucleus, so the context alone cannot tell.
    * everything else: the cell type.
    """
    types = np.array(CELL_TYPES, dtype=object)[layout.cell_type]
    out = types.copy()
    in_tumour = layout.niche == TUMOUR
    mac = types == "macrophage"
    fib = types == "fibroblast"
    out[mac & in_tumour] = "macrophage_TAM"
    out[mac & ~in_tumour] = "macrophage_stromal"
    out[fib & in_tumour] = "CAF"
    out[fib & ~in_tumour] = "fibroblast_stromal"
    out[layout.proliferating] = types[layout.proliferating] + "_proliferating"
    return out.astype(str)
