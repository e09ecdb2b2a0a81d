"""Helpers for the reader tests: real-data paths and options, hit-rate checks, a tiny synthetic folder.

A uniquely named module (not a package: ``tests/io/__init__.py`` would shadow the stdlib ``io``)."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import tifffile

from madcell.io.transcripts import labels_at

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"

XENIUM_OPTS = {"pixel_size_um": 1.7, "origin_um": (995.5, 998.9), "keep_transcripts": True}
MERSCOPE_OPTS = {"pixel_size_um": 0.108627, "origin_um": (6400.029, 4699.967), "keep_transcripts": True}
COSMX_OPTS = {"crop_offsets": {2: [4800, 3000], 3: [0, 3000]}, "keep_transcripts": True}


def real(name: str) -> Path:
    path = DATA / name
    if not path.is_dir():
        pytest.skip(f"real test data {path} is not present on this machine")
    return path


def transcript_hit_rate(slide) -> float:
    """Share of assigned transcripts whose pixel in the label source is their own cell's label."""
    tx = slide.transcripts
    assigned = tx[tx["cell_id"] != ""]
    own = assigned["cell_id"].map(dict(zip(slide.cells["cell_id"], slide.cells["label"])))
    found = labels_at(slide.labels, assigned["x_px"].to_numpy(), assigned["y_px"].to_numpy())
    return float(np.mean(found == own.fillna(-1).to_numpy()))


def centroid_hit_rate(slide, radius: int = 1) -> float:
    """Share of cells with their own label within ``radius`` px of the centroid's pixel."""
    hits = []
    for x, y, lab in slide.cells[["x_px", "y_px", "label"]].itertuples(index=False):
        c, r = int(round(x)), int(round(y))
        hits.append(bool((slide.labels.read(r - radius, r + radius + 1, c - radius, c + radius + 1) == lab).any()))
    return float(np.mean(hits))


def make_tissue(folder: Path, n_side: int = 4, cell: int = 10, channels=("DAPI", "CD3", "PanCK"),
                pixel_size: float = 0.5, tile: bool = True) -> dict:
    """A tiny generic folder: square cells on a grid, OME-TIFF image, labels.tif, cells.parquet, expression.h5ad."""
    folder.mkdir(parents=True, exist_ok=True)
    H = W = n_side * cell * 2
    labels = np.zeros((H, W), np.int32)
    rows = []
    rng = np.random.default_rng(0)
    for i in range(n_side):
        for j in range(n_side):
            lab = i * n_side + j + 1
            y0, x0 = i * 2 * cell + cell // 2, j * 2 * cell + cell // 2
            labels[y0 : y0 + cell, x0 : x0 + cell] = lab
            rows.append({"cell_id": f"c{lab}", "label": lab, "x_px": x0 + (cell - 1) / 2, "y_px": y0 + (cell - 1) / 2,
                         "cell_type": "T" if lab % 2 else "B"})
    image = rng.integers(0, 1000, size=(len(channels), H, W), dtype=np.uint16)
    tifffile.imwrite(folder / "image.ome.tif", image, tile=(16, 16) if tile else None,
                     metadata={"axes": "CYX", "PhysicalSizeX": pixel_size, "PhysicalSizeY": pixel_size,
                               "Channel": {"Name": list(channels)}})
    tifffile.imwrite(folder / "labels.tif", labels)
    cells = pd.DataFrame(rows)
    cells.to_parquet(folder / "cells.parquet")
    X = rng.poisson(2.0, size=(len(cells), 5)).astype(np.float32)
    expr = ad.AnnData(X=X, obs=pd.DataFrame(index=cells["cell_id"].to_numpy()[::-1]),
                      var=pd.DataFrame(index=[f"g{i}" for i in range(5)]))
    expr.X = X[::-1].copy()  # stored in reverse order: the reader must realign
    expr.write_h5ad(folder / "expression.h5ad")
    return {"image": image, "labels": labels, "cells": cells, "X": X}
