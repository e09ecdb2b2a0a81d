"""A synthetic tissue generator with known ground truth: madcell's built-in default dataset.

``make_tissue(out_dir, n_cells, seed, modality, difficulty, pixel_size_um)`` writes the same kind of
folder a user has (``image.ome.tif``, ``labels.tif``, ``cells.parquet``, ``expression.h5ad``, and
``synth.json`` with every parameter; plus ``truth.parquet``, features no real folder has), so every madcell stage can be run and checked end to end
without downloading data. Nothing here is tuned to make any method win; the signals are these:

Tissue layout (:mod:`.geometry`, :mod:`.layout`)
    Four niches in µm space: ``tumour`` vs ``stroma`` from thresholding a smooth random field
    (plane waves, 150-450 µm wavelengths); round ``immune_aggregate`` patches (radius 30-60 µm,
    boundary warped, ~8 per mm²); tube-like ``vessel`` (two-segment polylines with an empty lumen,
    3-8 µm, and a 8-12 µm wall, ~6 per mm²). Candidate cells are a Poisson process whose intensity
    depends on the niche (dense tumour nests and aggregates, sparse stroma), each draws a type from
    its niche's composition (``params.COMPOSITION``) and a size, and a random-priority maximal
    independent set removes crowded candidates, so cells never sit on top of each other. The square
    slide is enlarged until enough cells fit, then cropped to exactly ``n_cells`` centres.
Cell types and morphology (:mod:`.params`, :mod:`.shapes`)
    tumour, fibroblast, macrophage, lymphocyte, endothelial, pericyte differ in size, elongation,
    boundary irregularity, nucleus size/shape/offset, chromatin and cytoplasm texture
    (``params.MORPHOLOGY``). Fibroblasts lie along the local ECM fibre orientation; endothelial
    cells and pericytes along their vessel. Overlapping cell bodies are split along a weighted
    Voronoi boundary, so masks tile like a segmentation of packed cells.
Markers and ``difficulty``
    ``easy``: every type has its own marker signature (membrane / cytoplasm / ECM channel levels)
    plus its shape. ``hard``: every type gets the mean signature, so types differ only by shape,
    size and texture. Per-cell log-normal intensity jitter (sd 0.15) in both.
Subtypes (``subtype``), built so that neither source alone suffices
    (a) context only: macrophages are ``macrophage_TAM`` in the tumour niche, else
    ``macrophage_stromal``; fibroblasts are ``CAF`` in the tumour niche, else ``fibroblast_stromal``
    — the split subtypes are drawn from identical morphology. (b) morphology only: each cell is
    independently (of type and niche) ``<type>_proliferating`` with probability
    ``proliferating_frac``: a condensed, brighter nucleus or two daughter chromatin blobs.
    Proliferation takes precedence over (a). All other cells: subtype = cell type.
Genes (:mod:`.expression`)
    ~60 genes: 6 markers per type, housekeeping, a tumour-proximity programme (rises with the
    fraction of tumour cells among the K nearest placed cells, in macrophages / fibroblasts / all
    for VEGFA), an interferon programme (rises with the immune fraction of the K neighbours), and
    proliferation genes (MKI67-like, on in proliferating cells). Library size scales with the mask
    area; counts are negative binomial (gamma-Poisson).
Pixels (:mod:`.render`, :mod:`.writer`)
    Fluorescence channels ``nucleus, membrane, cytoplasm, ecm`` (uint16) or H&E RGB (uint8, named
    R, G, B; Beer-Lambert haematoxylin/eosin). ECM fibres fill stroma and vessel walls, a smooth
    illumination field varies brightness by about ±25 % (something for flat-field correction to
    fix), then optical blur, Poisson shot noise and read noise. Rendering is tile by tile with a
    halo and written through tifffile's tile iterator, so memory does not grow with the slide.
    Both images are (C, Y, X) OME-TIFFs of separate planes (H&E too, so the channel names R, G, B
    survive in the OME metadata), tiled 256 x 256, zlib-compressed.
Ground truth (:mod:`.truth`)
    ``truth.parquet``: per-cell morphology parameters as drawn and the type composition of the
    K = 25 nearest cells (what the microenvironment view holds) — features for oracle embeddings,
    never label columns.
Determinism
    Every random draw comes from a generator keyed by the seed (and by block position for noise),
    so the same seed gives identical arrays whatever ``workers`` (labels and noise-free signal do not
    depend on the block size either; the shot-noise draws are keyed per block). The OME UUID in the
    TIFF header differs between runs; ``synth.json`` records the settings and version.
"""

from __future__ import annotations

from madcell.synthetic.params import CELL_TYPES, CHANNELS, HE_CHANNELS, NICHES
from madcell.synthetic.tissue import make_tissue

LABEL_COLUMNS = ["cell_type", "niche", "subtype"]
OUTPUT_FILES = ["image.ome.tif", "labels.tif", "cells.parquet", "expression.h5ad", "truth.parquet", "synth.json"]

__all__ = ["make_tissue", "LABEL_COLUMNS", "OUTPUT_FILES", "CELL_TYPES", "NICHES", "CHANNELS", "HE_CHANNELS"]
