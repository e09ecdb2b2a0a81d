"""The fixed tables of the synthetic tissue: niches, cell types, their morphology and markers, genes.

Everything here is data, kept in one place so the generative model can be read (and cited) at a
glance. Lengths are in µm; intensities are relative marker abundances (1.0 ~ a bright stain).
"""

from __future__ import annotations

import numpy as np

NICHES = ["tumour", "stroma", "immune_aggregate", "vessel"]
CELL_TYPES = ["tumour", "fibroblast", "macrophage", "lymphocyte", "endothelial", "pericyte"]
CHANNELS = ["nucleus", "membrane", "cytoplasm", "ecm"]
HE_CHANNELS = ["R", "G", "B"]

# Candidate density (cells per µm², before the no-overlap thinning) and ECM background per niche.
NICHE_CANDIDATE_DENSITY = {"tumour": 1 / 22, "stroma": 1 / 550, "immune_aggregate": 1 / 25, "vessel": 1 / 120}
NICHE_ECM = {"tumour": 0.12, "stroma": 1.0, "immune_aggregate": 0.2, "vessel": 0.7}

# Niche -> cell-type composition (rows sum to 1, columns in CELL_TYPES order).
COMPOSITION = {
    "tumour": [0.80, 0.06, 0.10, 0.04, 0.00, 0.00],
    "stroma": [0.00, 0.62, 0.16, 0.10, 0.06, 0.06],
    "immune_aggregate": [0.00, 0.04, 0.16, 0.76, 0.04, 0.00],
    "vessel": [0.00, 0.10, 0.05, 0.00, 0.55, 0.30],
}

# Morphology per cell type:
#   a, b      semi-axes of the cell (µm); per-cell log-normal size jitter on top
#   irreg     amplitude of the boundary's radial harmonics (0 = perfect ellipse)
#   nuc_a/b   nucleus semi-axes as fractions of the cell's
#   nuc_off   nucleus offset from the cell centre along the major axis (fraction of a)
#   nuc_tex   chromatin texture amplitude (fine-scale noise) inside the nucleus
#   cyto_tex  cytoplasm texture amplitude (medium-scale noise: granules, fibrils)
MORPHOLOGY = {
    #               a     b   irreg nuc_a nuc_b nuc_off nuc_tex cyto_tex
    "tumour":      (7.6, 6.6, 0.10, 0.55, 0.58, 0.10, 0.35, 0.15),
    "fibroblast":  (11.0, 3.2, 0.06, 0.42, 0.72, 0.00, 0.10, 0.35),
    "macrophage":  (7.4, 6.4, 0.22, 0.42, 0.50, 0.35, 0.15, 0.60),
    "lymphocyte":  (3.9, 3.6, 0.04, 0.84, 0.86, 0.05, 0.45, 0.05),
    "endothelial": (9.0, 2.6, 0.05, 0.48, 0.80, 0.00, 0.10, 0.10),
    "pericyte":    (6.0, 3.8, 0.10, 0.55, 0.70, 0.15, 0.20, 0.20),
}
MORPH_FIELDS = ["a", "b", "irreg", "nuc_a", "nuc_b", "nuc_off", "nuc_tex", "cyto_tex"]
SIZE_JITTER = 0.10  # sd of the log size factor per cell
# Two cells conflict when their centres are closer than p_i r_i + p_j r_j (r = sqrt(a b) * size):
# p < 1 lets neighbours touch and share a boundary (epithelial nests pack tighter than stroma).
PACKING = {"tumour": 0.68, "fibroblast": 0.85, "macrophage": 0.8, "lymphocyte": 0.8,
           "endothelial": 0.85, "pericyte": 0.85}

# Marker abundance per type in the "easy" difficulty (CHANNELS order). "hard" replaces every row by
# the column means, so all types share one marker profile and differ only in shape, size, texture.
MARKERS_EASY = {
    "tumour":      [0.80, 0.85, 0.45, 0.00],
    "fibroblast":  [0.80, 0.15, 0.85, 0.30],
    "macrophage":  [0.80, 0.55, 0.25, 0.05],
    "lymphocyte":  [0.80, 1.00, 0.08, 0.00],
    "endothelial": [0.80, 0.35, 0.60, 0.15],
    "pericyte":    [0.80, 0.05, 0.35, 0.60],
}
MARKER_JITTER = 0.15  # sd of per-cell, per-channel log-normal intensity variation
PROLIF_NUC_GAIN = 1.8  # condensed chromatin of proliferating (mitotic) nuclei is brighter


def morphology_table() -> np.ndarray:
    """(n_types, len(MORPH_FIELDS)) float array in CELL_TYPES order."""
    return np.array([MORPHOLOGY[t] for t in CELL_TYPES], dtype=np.float64)


def marker_table(difficulty: str) -> np.ndarray:
    """(n_types, n_channels) marker abundances for ``easy`` or ``hard``."""
    easy = np.array([MARKERS_EASY[t] for t in CELL_TYPES], dtype=np.float64)
    if difficulty == "easy":
        return easy
    if difficulty == "hard":
        return np.repeat(easy.mean(axis=0, keepdims=True), len(CELL_TYPES), axis=0)
    raise ValueError(f"difficulty must be 'easy' or 'hard', got {difficulty!r}")


# Genes. Type markers (6 per type), housekeeping, and three context/state programmes.
TYPE_MARKER_GENES = {
    "tumour": ["EPCAM", "KRT8", "KRT18", "CDH1", "MUC1", "CEACAM5"],
    "fibroblast": ["COL1A1", "COL1A2", "DCN", "LUM", "PDGFRA", "FAP"],
    "macrophage": ["CD68", "CD163", "CSF1R", "C1QA", "LYZ", "MRC1"],
    "lymphocyte": ["PTPRC", "CD3E", "CD2", "MS4A1", "CD79A", "CCR7"],
    "endothelial": ["PECAM1", "VWF", "CDH5", "KDR", "CLDN5", "EMCN"],
    "pericyte": ["RGS5", "PDGFRB", "ACTA2", "MCAM", "NOTCH3", "KCNJ8"],
}
HOUSEKEEPING_GENES = ["ACTB", "GAPDH", "B2M", "RPLP0", "EEF1A1", "MALAT1", "TPT1", "UBC"]
# Tumour-proximity programme: log-rate rises with the fraction of tumour cells among the K nearest
# neighbours, in the listed responding cell types only (TAM-like, CAF-like, hypoxia).
TUMOUR_CONTEXT_GENES = {
    "SPP1": ["macrophage"], "APOE": ["macrophage"], "MMP9": ["macrophage"],
    "POSTN": ["fibroblast"], "INHBA": ["fibroblast"], "COL11A1": ["fibroblast"],
    "VEGFA": CELL_TYPES,
}
# Immune-proximity (interferon-response) programme: rises with the lymphocyte+macrophage fraction.
IMMUNE_CONTEXT_GENES = ["CXCL9", "CXCL10", "STAT1", "IDO1", "HLA-DRA", "GBP1"]
PROLIFERATION_GENES = ["MKI67", "TOP2A", "CCNB1", "CDK1", "BIRC5", "TYMS"]

GENE_RATES = {  # log-scale effects used by madcell.synthetic.expression
    "marker_on": np.log(8.0), "marker_off": np.log(0.04), "housekeeping": np.log(3.0),
    "context_base": np.log(0.25), "tumour_context_slope": 3.0, "immune_context_slope": 2.5,
    "prolif_base": np.log(0.08), "prolif_on": 3.2,
}
