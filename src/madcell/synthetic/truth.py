"""The generator's per-cell ground truth as features: what a perfect encoder of each view could know.

``truth.parquet`` (one row per cell, ``cell_id`` plus numeric columns) holds two groups, prefixed
``morph.`` and ``context.``; ``prepare`` carries them into the view store and ``embed`` into the
embedding AnnData (``obsm['truth_morph']``, ``obsm['truth_context']``), where the benchmark's
``oracle`` methods turn them into ceiling embeddings. They are features, not labels: they never
become ``obs`` columns (so ``labels: null`` does not score them).

morph (drawn per cell by :mod:`.shapes`, :mod:`.layout` and ``make_tissue``)
    ``size`` (log-normal size factor), ``a_um``/``b_um`` (cell semi-axes), ``irreg`` (sum of the
    boundary harmonics) and ``harmonic_2..5`` (their amplitudes), ``nuc_a_um``/``nuc_b_um``
    (nucleus semi-axes, after the proliferating condensation), ``nuc_off_um`` (|nucleus offset|),
    ``nuc_tex``/``cyto_tex`` (the type's texture amplitudes), ``level_<channel>`` (marker abundance
    per fluorescence channel, with jitter and the proliferating nucleus gain; used for H&E too),
    ``prolif_condensed``/``prolif_dividing`` (the nucleus mode, one-hot). Left out as nuisance:
    orientation, harmonic phases, the sign of the nucleus offset, position.
context (from the placed cells' positions, not the images)
    ``n_<type>``: how many of the cell's ``CONTEXT_K`` nearest placed cells are of each type, and
    ``d_k_um``: the distance to the K-th of them. The microenvironment view is sized to hold about
    that many cells (side = sqrt(pi) * d_K, ``prepare.k_neighbors`` = 25 by default), so this is
    the composition of what the micro view shows. The cell's own type and niche are not included.

Nothing here draws a random number: writing the truth changes no pixel, label or count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from madcell.synthetic.layout import Layout
from madcell.synthetic.params import CELL_TYPES, CHANNELS, MORPH_FIELDS, morphology_table
from madcell.synthetic.shapes import HARMONICS, CellShapes

CONTEXT_K = 25
TRUTH_FILE = "truth.parquet"


def context_counts(x_um: np.ndarray, y_um: np.ndarray, cell_type: np.ndarray, k: int = CONTEXT_K) -> tuple[np.ndarray, np.ndarray]:
    """(n, n_types) type counts among each cell's ``k`` nearest other cells, and (n,) the k-th distance."""
    n = len(x_um)
    k = min(k, n - 1)
    counts = np.zeros((n, len(CELL_TYPES)))
    if k < 1:
        return counts, np.zeros(n)
    pts = np.column_stack([x_um, y_um])
    dist, nb = cKDTree(pts).query(pts, k=k + 1)
    for t in range(len(CELL_TYPES)):
        counts[:, t] = (cell_type[nb[:, 1:]] == t).sum(axis=1)
    return counts, dist[:, -1]


def truth_table(cell_ids, layout: Layout, shapes: CellShapes, levels: np.ndarray, pixel_size_um: float) -> pd.DataFrame:
    """The ``truth.parquet`` table (module docstring)."""
    ps = float(pixel_size_um)
    tex = morphology_table()[layout.cell_type]
    cols: dict[str, np.ndarray] = {
        "morph.size": layout.size, "morph.a_um": shapes.a * ps, "morph.b_um": shapes.b * ps,
        "morph.irreg": shapes.amp.sum(axis=1),
        **{f"morph.harmonic_{h}": shapes.amp[:, j] for j, h in enumerate(HARMONICS)},
        "morph.nuc_a_um": shapes.na * ps, "morph.nuc_b_um": shapes.nb * ps,
        "morph.nuc_off_um": np.abs(shapes.nuc_off) * ps,
        "morph.nuc_tex": tex[:, MORPH_FIELDS.index("nuc_tex")], "morph.cyto_tex": tex[:, MORPH_FIELDS.index("cyto_tex")],
        **{f"morph.level_{c}": levels[:, j] for j, c in enumerate(CHANNELS)},
        "morph.prolif_condensed": (shapes.prolif_mode == 1).astype(np.float64),
        "morph.prolif_dividing": (shapes.prolif_mode == 2).astype(np.float64),
    }
    counts, dk = context_counts(layout.x_um, layout.y_um, layout.cell_type)
    cols.update({f"context.n_{t}": counts[:, j] for j, t in enumerate(CELL_TYPES)})
    cols["context.d_k_um"] = dk
    df = pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in cols.items()})
    df.insert(0, "cell_id", list(cell_ids))
    return df
