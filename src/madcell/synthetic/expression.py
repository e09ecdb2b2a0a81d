"""Gene counts per cell: type, neighbourhood and morphology programmes, negative-binomial noise.

For cell i and gene g the log relative rate is

    log w_ig = type marker (own type's markers high, all others low) | housekeeping constant
             + tumour_context_slope * f_tumour_i   (tumour-context genes, responding types only)
             + immune_context_slope * f_immune_i   (interferon-response genes, every cell)
             + prolif_on * proliferating_i         (proliferation genes)

where f_tumour / f_immune are the fractions of tumour cells / lymphocytes+macrophages among the cell's
K nearest placed neighbours (not the niche label). The expected library size is
``library_size * area_i / median(area) * LogNormal(0, 0.3)`` (bigger cells, more transcripts), the
mean count is ``library * w_ig / Σ_g w_ig``, and counts are gamma-Poisson (negative binomial with
dispersion ``dispersion``), which gives realistic zeros.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from madcell.synthetic.params import (
    CELL_TYPES, GENE_RATES, HOUSEKEEPING_GENES, IMMUNE_CONTEXT_GENES, PROLIFERATION_GENES,
    TUMOUR_CONTEXT_GENES, TYPE_MARKER_GENES,
)


def gene_names() -> list[str]:
    markers = [g for t in CELL_TYPES for g in TYPE_MARKER_GENES[t]]
    return markers + HOUSEKEEPING_GENES + list(TUMOUR_CONTEXT_GENES) + IMMUNE_CONTEXT_GENES + PROLIFERATION_GENES


def neighbour_fractions(x_um: np.ndarray, y_um: np.ndarray, cell_type: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractions of tumour cells and of immune cells among each cell's ``k`` nearest neighbours."""
    n = len(x_um)
    k = min(k, n - 1)
    if k < 1:
        return np.zeros(n), np.zeros(n)
    _, nb = cKDTree(np.column_stack([x_um, y_um])).query(np.column_stack([x_um, y_um]), k=k + 1)
    nt = cell_type[nb[:, 1:]]
    immune = [CELL_TYPES.index("lymphocyte"), CELL_TYPES.index("macrophage")]
    return (nt == CELL_TYPES.index("tumour")).mean(axis=1), np.isin(nt, immune).mean(axis=1)


def log_rates(cell_type: np.ndarray, f_tumour: np.ndarray, f_immune: np.ndarray, proliferating: np.ndarray) -> np.ndarray:
    """(n_cells, n_genes) log relative expression rates (see module docstring)."""
    genes = gene_names()
    col = {g: j for j, g in enumerate(genes)}
    n = len(cell_type)
    out = np.zeros((n, len(genes)))
    for t_idx, t in enumerate(CELL_TYPES):
        for g in TYPE_MARKER_GENES[t]:
            out[:, col[g]] = np.where(cell_type == t_idx, GENE_RATES["marker_on"], GENE_RATES["marker_off"])
    for g in HOUSEKEEPING_GENES:
        out[:, col[g]] = GENE_RATES["housekeeping"]
    for g, responders in TUMOUR_CONTEXT_GENES.items():
        responds = np.isin(cell_type, [CELL_TYPES.index(t) for t in responders])
        out[:, col[g]] = GENE_RATES["context_base"] + GENE_RATES["tumour_context_slope"] * f_tumour * responds
    for g in IMMUNE_CONTEXT_GENES:
        out[:, col[g]] = GENE_RATES["context_base"] + GENE_RATES["immune_context_slope"] * f_immune
    for g in PROLIFERATION_GENES:
        out[:, col[g]] = GENE_RATES["prolif_base"] + GENE_RATES["prolif_on"] * proliferating
    return out


def sample_counts(rates: np.ndarray, area_px: np.ndarray, library_size: float, dispersion: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Negative-binomial counts (int32) from log rates and mask areas."""
    w = np.exp(rates - rates.max(axis=1, keepdims=True))
    p = w / w.sum(axis=1, keepdims=True)
    rel_area = area_px / max(float(np.median(area_px)), 1.0)
    lib = library_size * rel_area * np.exp(rng.normal(0.0, 0.3, len(area_px)))
    mu = lib[:, None] * p
    shape = 1.0 / dispersion
    lam = rng.gamma(shape, mu / shape)
    return rng.poisson(lam).astype(np.int32)
