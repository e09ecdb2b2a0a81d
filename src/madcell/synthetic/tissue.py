"""``make_tissue``: lay out, render tile by tile, sample genes, write the output folder."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from madcell.config import load_config
from madcell.errors import InputError
from madcell.synthetic.expression import gene_names, log_rates, neighbour_fractions, sample_counts
from madcell.synthetic.layout import make_layout, subtype_labels
from madcell.synthetic.params import (
    CELL_TYPES, CHANNELS, HE_CHANNELS, MARKER_JITTER, NICHES, PROLIF_NUC_GAIN, marker_table,
)
from madcell.synthetic.render import Renderer
from madcell.synthetic.shapes import make_shapes
from madcell.synthetic.truth import TRUTH_FILE, truth_table
from madcell.synthetic.writer import TileSpool, write_tiff
from madcell.utils.atomic import atomic_path, atomic_write_text


def _settings(n_cells, seed, modality, difficulty, pixel_size_um, overrides) -> dict:
    s = dict(load_config()["synth"])
    for key, value in dict(cells=n_cells, seed=seed, modality=modality, difficulty=difficulty,
                           pixel_size_um=pixel_size_um, **(overrides or {})).items():
        if key not in s:
            raise InputError(None, f"unknown synth setting '{key}'")
        if value is not None:
            s[key] = value
    if int(s["cells"]) < 1:
        raise InputError("--cells", f"must be at least 1, got {s['cells']}")
    if s["modality"] not in ("fluorescence", "he"):
        raise InputError("--modality", f"must be 'fluorescence' or 'he', got {s['modality']!r}")
    if s["difficulty"] not in ("easy", "hard"):
        raise InputError("--difficulty", f"must be 'easy' or 'hard', got {s['difficulty']!r}")
    if not float(s["pixel_size_um"]) > 0:
        raise InputError("--pixel-size", f"must be positive, got {s['pixel_size_um']}")
    if int(s["workers"]) < 1:
        raise InputError("--workers", f"must be at least 1, got {s['workers']}")
    if int(s["tile_size"]) % 16 or int(s["block_tiles"]) < 1:
        raise InputError("synth.tile_size", "must be a multiple of 16 (and block_tiles >= 1)")
    return s


def _centroids_in_mask(spool: TileSpool, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """Whether each cell's (rounded) centroid pixel carries that cell's own label."""
    r = np.clip(np.rint(cy).astype(np.int64), 0, spool.height - 1)
    c = np.clip(np.rint(cx).astype(np.int64), 0, spool.width - 1)
    key = (r // spool.tile) * spool.ntx + c // spool.tile
    ok = np.zeros(len(cx), bool)
    order = np.argsort(key, kind="stable")
    for idx in np.split(order, np.flatnonzero(np.diff(key[order])) + 1):
        if idx.size:
            t = spool.read_tile(0, int(r[idx[0]] // spool.tile), int(c[idx[0]] // spool.tile))
            ok[idx] = t[r[idx] % spool.tile, c[idx] % spool.tile] == idx + 1
    return ok


_WORKER_RENDERER: Renderer | None = None


def _init_worker(renderer: Renderer) -> None:
    global _WORKER_RENDERER
    _WORKER_RENDERER = renderer


def _render_block(block: tuple[int, int, int, int]):
    return _WORKER_RENDERER.render(*block)


def _render_all(renderer: Renderer, blocks: list, workers: int) -> Iterator:
    """Rendered blocks in order; with ``workers > 1`` from a process pool (results are identical:
    every random draw is keyed by the seed and the block position, not by the process)."""
    if workers <= 1 or len(blocks) < 2:
        yield from (renderer.render(*b) for b in blocks)
        return
    with multiprocessing.get_context().Pool(workers, initializer=_init_worker, initargs=(renderer,)) as pool:
        yield from pool.imap(_render_block, blocks, chunksize=1)


def make_tissue(out_dir: str | Path, n_cells: int | None = None, seed: int | None = None,
                modality: str | None = None, difficulty: str | None = None,
                pixel_size_um: float | None = None, **overrides) -> Path:
    """Generate a synthetic slide into ``out_dir``; ``None`` arguments take the ``synth:`` defaults
    of ``default.yaml`` (``overrides`` may set any other key of that section). Returns ``out_dir``."""
    from madcell import __version__

    s = _settings(n_cells, seed, modality, difficulty, pixel_size_um, overrides)
    n, seed, ps = int(s["cells"]), int(s["seed"]), float(s["pixel_size_um"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    layout = make_layout(n, seed, float(s["proliferating_frac"]))
    rng = np.random.default_rng([seed, 2])
    shapes = make_shapes(layout, ps, rng)
    levels = marker_table(s["difficulty"])[layout.cell_type] * np.exp(rng.normal(0, MARKER_JITTER, (n, len(CHANNELS))))
    levels[layout.proliferating, 0] *= PROLIF_NUC_GAIN
    renderer = Renderer(layout.geometry, shapes, layout.cell_type, levels, s["modality"], ps, seed, rng)

    H = int(np.floor(layout.geometry.height_um / ps)) + 1
    W = int(np.floor(layout.geometry.width_um / ps)) + 1
    tile = int(s["tile_size"])
    names = CHANNELS if s["modality"] == "fluorescence" else HE_CHANNELS
    dtype = np.uint16 if s["modality"] == "fluorescence" else np.uint8
    img = TileSpool(out / f".synth-image-{seed}.spool", len(names), H, W, tile, dtype)
    lab = TileSpool(out / f".synth-labels-{seed}.spool", 1, H, W, tile, np.int32)
    try:
        area, sx, sy = np.zeros(n + 1), np.zeros(n + 1), np.zeros(n + 1)
        B = tile * int(s["block_tiles"])
        blocks = [(y0, min(y0 + B, H), x0, min(x0 + B, W)) for y0 in range(0, H, B) for x0 in range(0, W, B)]
        for (y0, y1, x0, x1), (pixels, labels) in zip(blocks, _render_all(renderer, blocks, int(s["workers"]))):
            img.put_block(y0, x0, pixels)
            lab.put_block(y0, x0, labels[None])
            rows, cols = np.indices(labels.shape)
            area += np.bincount(labels.ravel(), minlength=n + 1)
            sy += np.bincount(labels.ravel(), weights=(rows + y0).ravel(), minlength=n + 1)
            sx += np.bincount(labels.ravel(), weights=(cols + x0).ravel(), minlength=n + 1)
        write_tiff(out / "image.ome.tif", img, names, ps)
        write_tiff(out / "labels.tif", lab, None, ps)
        area = area[1:]
        cx, cy = sx[1:] / np.maximum(area, 1), sy[1:] / np.maximum(area, 1)
        # a non-convex mask's centroid can fall outside it: use the cell's seed point (always inside)
        bad = (area == 0) | ~_centroids_in_mask(lab, cx, cy)
        cx[bad], cy[bad] = np.rint(shapes.cx[bad]), np.rint(shapes.cy[bad])
    finally:
        img.close()
        lab.close()

    ids = [f"cell_{i:06d}" for i in range(1, n + 1)]
    cells = pd.DataFrame({
        "cell_id": ids, "label": np.arange(1, n + 1, dtype=np.int64), "x_px": cx, "y_px": cy,
        "x_um": cx * ps, "y_um": cy * ps,
        "cell_type": np.array(CELL_TYPES)[layout.cell_type], "niche": np.array(NICHES)[layout.niche],
        "subtype": subtype_labels(layout), "proliferating": layout.proliferating,
    })
    f_t, f_i = neighbour_fractions(layout.x_um, layout.y_um, layout.cell_type, int(s["gene_k_neighbors"]))
    rates = log_rates(layout.cell_type, f_t, f_i, layout.proliferating)
    counts = sample_counts(rates, area, float(s["library_size"]), float(s["dispersion"]), np.random.default_rng([seed, 3]))
    with atomic_path(out / TRUTH_FILE) as tmp:  # ground-truth features (no random draw: see .truth)
        truth_table(ids, layout, shapes, levels, ps).to_parquet(tmp, index=False)
    _write_tables(out, cells, counts, s, {"n_cells": n, "width_px": W, "height_px": H,
                                          "width_um": layout.geometry.width_um, "madcell_version": __version__,
                                          "channels": list(names), "genes": gene_names(),
                                          "cells_with_seed_point_centroid": int(bad.sum())})
    return out


def _write_tables(out: Path, cells: pd.DataFrame, counts: np.ndarray, settings: dict, info: dict) -> None:
    import anndata as ad

    with atomic_path(out / "cells.parquet") as tmp:
        cells.to_parquet(tmp, index=False)
    obs = cells[["cell_type", "niche", "subtype", "proliferating"]].copy()
    obs.index = pd.Index(cells["cell_id"].to_numpy(), name=None)
    adata = ad.AnnData(X=counts, obs=obs, var=pd.DataFrame(index=gene_names()))
    adata.obsm["spatial"] = cells[["x_um", "y_um"]].to_numpy()
    with atomic_path(out / "expression.h5ad") as tmp:
        adata.write_h5ad(tmp)
    atomic_write_text(out / "synth.json", json.dumps({"generator": "madcell.synthetic", **settings, **info}, indent=2))
