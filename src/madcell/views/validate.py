"""Checks that run before anything is written, so bad input fails fast with one clear message.

Everything that can be decided from the config, the shapes and the cell table is checked here; one
pass over each label mask (:mod:`madcell.views.coverage`) then skips or refuses cells absent from the
mask and refuses coordinates that miss their own labels. What needs the image pixels (NaN values) or
a mask label absent from the table is only known while streaming; :mod:`madcell.views.extract` raises
those, and the atomic store writer guarantees no output is left behind either way.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.io.base import SlideData

REQUIRED = ("cell_id", "label", "x_px", "y_px")


def check_config(cfg: dict) -> None:
    """View sizes multiple of the patch size, sane neighbour count, percentiles and options."""
    patch = int(cfg["patch_size"])
    if patch < 1:
        raise InputError("prepare.patch_size", f"must be >= 1, got {patch}")
    for key in ("morph_size", "micro_size"):
        size = cfg[key]
        if not isinstance(size, int) or size <= 0 or size % patch:
            raise InputError(f"prepare.{key}", f"view size {size} must be a positive multiple of the patch size {patch}")
    if int(cfg["k_neighbors"]) < 1:
        raise InputError("prepare.k_neighbors", f"must be >= 1, got {cfg['k_neighbors']}")
    if cfg["micro_scale"] not in ("per_slide", "per_cell"):
        raise InputError("prepare.micro_scale", f"must be per_slide or per_cell, not {cfg['micro_scale']!r}")
    lo, hi = (float(v) for v in cfg["clip_percentiles"])
    if not 0.0 <= lo < hi <= 100.0:
        raise InputError("prepare.clip_percentiles", f"need 0 <= low < high <= 100, got {cfg['clip_percentiles']}")
    if cfg["dtype"] not in ("uint8", "float16"):
        raise InputError("prepare.dtype", f"must be uint8 or float16, not {cfg['dtype']!r}")
    if cfg["views"] not in ("materialised", "lazy"):
        raise InputError("prepare.views", f"must be materialised or lazy, not {cfg['views']!r}")
    if cfg["views"] == "lazy" and cfg["dtype"] != "uint8":
        raise InputError("prepare.dtype", "lazy views store the slide as uint8: use dtype uint8 with views lazy")
    if cfg["lazy_compression"] not in ("lzf", "none", None):
        raise InputError("prepare.lazy_compression", f"must be lzf or none, not {cfg['lazy_compression']!r}")
    if not isinstance(cfg["lazy_micro_level"], bool):
        raise InputError("prepare.lazy_micro_level", f"must be true or false, not {cfg['lazy_micro_level']!r}")
    if cfg["compression"] not in ("lzf", "none", None):
        raise InputError("prepare.compression", f"must be lzf or none, not {cfg['compression']!r}")
    if int(cfg["tile_size"]) < 64:
        raise InputError("prepare.tile_size", f"must be >= 64 pixels, got {cfg['tile_size']}")
    if float(cfg["morph_margin"]) < 0:
        raise InputError("prepare.morph_margin", f"must be >= 0, got {cfg['morph_margin']}")
    if int(cfg["stats_sample_pixels"]) < 1000:
        raise InputError("prepare.stats_sample_pixels", f"must be >= 1000, got {cfg['stats_sample_pixels']}")
    if cfg["flatfield"] and float(cfg["flatfield_sigma_um"]) <= 0:
        raise InputError("prepare.flatfield_sigma_um", f"must be > 0, got {cfg['flatfield_sigma_um']}")


def select_channels(slides: Sequence[SlideData], wanted: Sequence[str] | None) -> tuple[list[str], list[list[int]]]:
    """The store's channel names and, per slide, the indices of those channels in its image."""
    first = list(slides[0].image.channel_names)
    names = list(wanted) if wanted else first
    if len(set(names)) != len(names):
        raise InputError("prepare.channels", f"lists a channel twice: {names}")
    indices = []
    for slide in slides:
        have = list(slide.image.channel_names)
        if len(have) != slide.image.shape[0]:
            raise InputError(slide.source, f"image has {slide.image.shape[0]} channels but {len(have)} channel names")
        if not wanted and have != first:
            raise InputError(slide.source, f"channels {have} differ from {first} of slide '{slides[0].slide_id}'; "
                             "choose common ones with prepare.channels")
        missing = [n for n in names if n not in have]
        if missing:
            raise InputError(slide.source, f"image has no channel {missing} (it has {have})")
        indices.append([have.index(n) for n in names])
    return names, indices


def validate_slide(slide: SlideData, cfg: dict) -> None:
    """Shape agreement, a usable cell table and a pixel size wherever one is needed."""
    src = slide.source
    C, H, W = slide.image.shape
    if tuple(slide.labels.shape) != (H, W):
        raise InputError(src, f"image is {H}x{W} pixels but the label mask is "
                         f"{slide.labels.shape[0]}x{slide.labels.shape[1]}")
    if H < 1 or W < 1 or C < 1:
        raise InputError(src, f"image has an empty shape {(C, H, W)}")
    cells = slide.cells
    missing = [c for c in REQUIRED if c not in cells.columns]
    if missing:
        raise InputError(src, f"cell table lacks the column(s) {missing}")
    if len(cells) == 0:
        raise InputError(src, "cell table is empty: no cells to prepare")
    ids = cells["cell_id"].astype(str)
    if ids.duplicated().any():
        raise InputError(src, f"cell ids are not unique (e.g. {ids[ids.duplicated()].iloc[0]!r})")
    labels = pd.to_numeric(cells["label"], errors="coerce")
    if labels.isna().any() or (labels % 1 != 0).any() or (labels <= 0).any():
        raise InputError(src, "cell table 'label' must hold positive integers (the mask values)")
    if labels.duplicated().any():
        raise InputError(src, f"two cells share the mask label {int(labels[labels.duplicated()].iloc[0])}")
    xy = cells[["x_px", "y_px"]].to_numpy(dtype=np.float64)
    if not np.isfinite(xy).all():
        raise InputError(src, "cell table has missing or infinite centroids (x_px, y_px)")
    # Vendor crops cut cells at the border, so a centroid may sit slightly off the image (e.g. the
    # Xenium mini set: 14 of 526 by < 1 px). Those cells are kept (zero-padded, flagged ``edge``); a
    # centroid far off the image means a coordinate mix-up (units, origin, axis) and is an error.
    tol = max(16.0, 0.02 * max(H, W))
    outside = (xy[:, 0] < -0.5 - tol) | (xy[:, 0] >= W - 0.5 + tol) | (xy[:, 1] < -0.5 - tol) | (xy[:, 1] >= H - 0.5 + tol)
    if outside.any():
        i = int(np.argmax(outside))
        raise InputError(src, f"{int(outside.sum())} cell centroid(s) lie outside the {H}x{W} image by more than "
                         f"{tol:.0f} px (e.g. cell {ids.iloc[i]!r} at x={xy[i, 0]:.1f}, y={xy[i, 1]:.1f}): "
                         "check the pixel size, origin and axis directions")
    ps = slide.pixel_size_um
    if ps is not None and not (np.isfinite(ps) and ps > 0):
        raise InputError(src, f"pixel size must be a positive number of µm, got {ps}")
    if cfg["flatfield"] and ps is None:
        raise InputError(src, "pixel size is unknown but prepare.flatfield needs it (flatfield_sigma_um is in µm); "
                         "give the pixel size to the reader or turn flatfield off")
    if slide.expression is not None:
        names = np.asarray(slide.expression.obs_names).astype(str)
        if len(names) != len(ids) or set(names) != set(ids):
            raise InputError(src, "expression cells (obs_names) are not the cell table's cell ids")
        check_counts(slide.expression.X, src)


def check_counts(X, src) -> None:
    """Expression must be finite, non-negative counts: NaN / Inf / negative values are an error
    naming how many and where (copying them into the store would poison every gene metric)."""
    import scipy.sparse as sp

    vals = X.data if sp.issparse(X) else np.asarray(X)
    if not np.issubdtype(vals.dtype, np.number):
        raise InputError(src, f"expression matrix has non-numeric dtype {vals.dtype}")
    nonfinite = int((~np.isfinite(vals)).sum()) if vals.dtype.kind == "f" else 0
    negative = int((vals < 0).sum())
    if nonfinite or negative:
        raise InputError(src, f"expression holds {nonfinite} NaN/Inf and {negative} negative value(s): counts must "
                              "be finite and >= 0 (fix or drop those cells / genes before prepare)")
