"""The two views of every cell of one work unit, from one window (unit core + halo) of the slide.

Only that window of image and labels is in memory. Per unit:

* labels: the window's labels are factorised once; ``scipy.ndimage.find_objects`` gives every
  cell's bounding box. Labels of the mask that the table lacks, and table cells whose label is not
  in the mask near their centroid, are an :class:`InputError` (found here, while streaming).
* morphology: the bounding box, grown by ``morph_margin`` of its larger side and made square
  (centred, so the aspect ratio is kept and the short side is padded), is cut from the normalised
  window, multiplied by the cell's mask, resized to ``morph_size`` in batches of equal crop size and
  multiplied by the nearest-resized mask (outside the cell is exactly 0). A cell cut by the window
  edge (a huge cell) is re-read from the source around its centroid instead.
* microenvironment, ``per_slide``: all windows share the side S, so the whole unit window is resized
  once by ``micro_size / S`` and each view is a crop of it (a view's pixel j samples the source at
  ``y0 + (j + 0.5)·S/M - 0.5``, exactly as resizing the S-pixel crop would, up to half an output
  pixel of rounding). Unit windows start on multiples of S, so every unit samples the same global
  lattice and the views do not depend on ``tile_size``; ``per_cell``: crops of equal side are
  resized in batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import ndimage

from madcell.errors import InputError
from madcell.io.base import SlideData, read_window
from madcell.views.geometry import Unit, micro_halo
from madcell.views.normalize import ChannelNorm, read_channels
from madcell.views.cut import crop_start, lattice_start, morph_resize
from madcell.views.resize import batches, quantize, resize


@dataclass
class SlideJob:
    """What a worker needs to know about one slide."""

    slide: SlideData
    channels: list[int]
    norm: ChannelNorm
    xy: np.ndarray            # (N, 2) centroids, table order
    labels: np.ndarray        # (N,) int64 mask labels, table order
    sides: np.ndarray         # (N,) int64 microenvironment window sides
    sorted_labels: np.ndarray  # the table's labels, sorted (membership tests)


@dataclass
class ViewParams:
    morph_size: int
    micro_size: int
    margin: float
    dtype: str
    per_slide: bool
    lazy: bool = False


def read_labels(slide: SlideData, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    try:
        lab = np.asarray(slide.labels.read(y0, y1, x0, x1))
    except InputError:
        raise
    except (OSError, ValueError, RuntimeError, EOFError) as exc:
        raise InputError(slide.source, f"label mask could not be read at rows {y0}:{y1}, cols {x0}:{x1} ({exc})") from exc
    return lab.astype(np.int64, copy=False)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _square(r0: int, r1: int, c0: int, c1: int, margin: float) -> tuple[int, int, int]:
    s = max(1, math.ceil(max(r1 - r0, c1 - c0) * (1.0 + 2.0 * margin)))
    return s, (r0 + r1 - s) // 2, (c0 + c1 - s) // 2


def _direct_box(job: SlideJob, label: int, cy: float, cx: float, half: int, margin: float):
    """Morphology box of a cell too large for the unit window: grow a window until it holds the cell."""
    slide = job.slide
    H, W = slide.labels.shape
    while True:
        y0, x0, n = int(round(cy)) - half, int(round(cx)) - half, 2 * half + 1
        m = read_labels(slide, y0, y0 + n, x0, x0 + n) == label
        if m.any():
            r0, r1, c0, c1 = _bbox(m)
            cut = (r0 == 0 and y0 > 0) or (r1 == n and y0 + n < H) or (c0 == 0 and x0 > 0) or (c1 == n and x0 + n < W)
            if not cut:
                break
        if half > max(H, W):
            raise InputError(slide.source, f"cell with mask label {label} could not be located in the label mask")
        half *= 2
    s, sy, sx = _square(y0 + r0, y0 + r1, x0 + c0, x0 + c1, margin)
    return sy, sx, s, read_labels(slide, sy, sy + s, sx, sx + s) == label


def morph_boxes(job: SlideJob, lab, slices, code, labels, Y0, X0, xy, vp: ViewParams):
    """Per cell: (first row, first column) in slide pixels, side, (s, s) bool mask of its morphology crop,
    and whether the crop lies outside the unit window (a huge cell, re-read from the source)."""
    H, W = job.slide.labels.shape
    Ly, Lx = lab.shape
    boxes = []
    for i in range(len(labels)):
        sy, sx = slices[code[i]]
        r0, r1, c0, c1 = sy.start, sy.stop, sx.start, sx.stop
        if (r0 == 0 and Y0 > 0) or (r1 == Ly and Y0 + Ly < H) or (c0 == 0 and X0 > 0) or (c1 == Lx and X0 + Lx < W):
            half = 2 * max(r1 - r0, c1 - c0) + 2
            y0, x0, s, mask = _direct_box(job, int(labels[i]), xy[i, 1], xy[i, 0], half, vp.margin)
            boxes.append((y0, x0, s, mask, True))
        else:
            s, y0, x0 = _square(r0, r1, c0, c1, vp.margin)
            boxes.append((Y0 + y0, X0 + x0, s, read_window(lab, y0, y0 + s, x0, x0 + s) == labels[i], False))
    return boxes


def morph_views(job: SlideJob, win, boxes, Y0, X0, vp: ViewParams) -> np.ndarray:
    """(n, C, m, m) quantised morphology views of :func:`morph_boxes`."""
    H, W = job.slide.labels.shape
    crops = []
    for y0, x0, s, _, direct in boxes:
        if direct:
            crops.append(job.norm.apply(read_channels(job.slide, job.channels, y0, y0 + s, x0, x0 + s), y0, x0, (H, W)))
        else:
            crops.append(read_window(win, y0 - Y0, y0 - Y0 + s, x0 - X0, x0 - X0 + s))
    return morph_resize(crops, [b[3] for b in boxes], vp.morph_size, vp.dtype)


def micro_views(win, Y0, X0, xy, sides, vp: ViewParams) -> list[np.ndarray]:
    """n quantised (C, M, M) microenvironment views (both paths: module docstring). On the
    per_slide path they are views into one resized window: no per-cell copy before encoding."""
    n, C, M = len(xy), win.shape[0], vp.micro_size
    dtype = np.uint8 if vp.dtype == "uint8" else np.float16
    if vp.per_slide:
        S = int(sides[0])
        Ly, Lx = win.shape[1:]
        big = np.empty((C, Ly * M // S, Lx * M // S), dtype)
        for c in range(C):  # one float channel at a time bounds the memory
            big[c] = quantize(resize(torch.from_numpy(win[c])[None, None], big.shape[1:])[0, 0], vp.dtype)
        # first view pixel on the global lattice (Y0, X0 are multiples of S), then in the window
        a = lattice_start(xy[:, 1], S, M) - (Y0 // S) * M
        b = lattice_start(xy[:, 0], S, M) - (X0 // S) * M
        return [big[:, a[i]:a[i] + M, b[i]:b[i] + M] for i in range(n)]
    out = np.empty((n, C, M, M), dtype)
    y0s, x0s = crop_start(xy[:, 1], sides) - Y0, crop_start(xy[:, 0], sides) - X0
    for S in np.unique(sides):
        idx = np.flatnonzero(sides == S)
        for sl in batches(len(idx), C * (S * S + M * M)):
            part = idx[sl]
            crops = np.stack([win[:, y0s[i]:y0s[i] + S, x0s[i]:x0s[i] + S] for i in part])
            out[part] = quantize(resize(torch.from_numpy(crops), (M, M)), vp.dtype)
    return list(out)


LAZY_HALO = 128  # label margin of a unit when only geometry is needed (a cell cut by it is re-read)


def _unit_cells(job: SlideJob, unit: Unit, vp: ViewParams, halo: int, image: bool):
    """The unit's window (normalised image when ``image``, labels) and where each cell's pixels are."""
    slide = job.slide
    H, W = slide.labels.shape
    idx = unit.cells
    labels, sides = job.labels[idx], job.sides[idx]
    S_max = int(sides.max())
    Y0, X0 = unit.y0 - halo, unit.x0 - halo
    Ly, Lx = unit.y1 - unit.y0 + 2 * halo, unit.x1 - unit.x0 + 2 * halo
    if vp.per_slide and image:
        # on the slide's grid of S-pixel blocks: the resized window is exactly M / S larger, and every
        # unit samples the same global lattice, so views do not depend on the tiling
        Y0, X0 = (Y0 // S_max) * S_max, (X0 // S_max) * S_max
        Ly = math.ceil((unit.y1 + halo - Y0) / S_max) * S_max
        Lx = math.ceil((unit.x1 + halo - X0) / S_max) * S_max
    win = job.norm.apply(read_channels(slide, job.channels, Y0, Y0 + Ly, X0, X0 + Lx), Y0, X0, (H, W)) if image else None
    lab = read_labels(slide, Y0, Y0 + Ly, X0, X0 + Lx)

    codes, uniq = pd.factorize(lab.ravel(), sort=False)
    where = f"rows {max(Y0, 0)}:{min(Y0 + Ly, H)}, cols {max(X0, 0)}:{min(X0 + Lx, W)}"
    fg = uniq[uniq != 0]
    if len(fg) == 0:
        raise InputError(slide.source, f"label mask is empty in {where}, where the cell table has {len(idx)} cell(s)")
    pos = np.minimum(np.searchsorted(job.sorted_labels, fg), len(job.sorted_labels) - 1)
    unknown = fg[job.sorted_labels[pos] != fg]
    if len(unknown) and not slide.meta.get("mask_has_other_cells"):  # e.g. a region crop: its neighbours stay in the mask
        raise InputError(slide.source, f"label mask has {len(unknown)} label(s) that are not in the cell table "
                         f"(e.g. {sorted(int(u) for u in unknown[:5])}) in {where}")
    code = pd.Index(uniq).get_indexer(labels)
    if (code < 0).any():
        i = int(np.argmax(code < 0))
        ids = slide.cells["cell_id"].to_numpy()[idx]
        raise InputError(slide.source, f"{int((code < 0).sum())} cell(s) of the table are not in the label mask near "
                         f"their centroid (e.g. cell {str(ids[i])!r}, label {int(labels[i])}) in {where}")
    slices = ndimage.find_objects(codes.reshape(Ly, Lx) + 1)  # slices[k]: the pixels of code k
    boxes = morph_boxes(job, lab, slices, code, labels, Y0, X0, job.xy[idx], vp)
    return win, Y0, X0, boxes


def _cell_meta(job: SlideJob, idx: np.ndarray, boxes, vp: ViewParams) -> dict:
    H, W = job.slide.labels.shape
    xy, sides = job.xy[idx], job.sides[idx]
    y0s, x0s = crop_start(xy[:, 1], sides), crop_start(xy[:, 0], sides)
    ps = np.nan if job.slide.pixel_size_um is None else float(job.slide.pixel_size_um)
    return {
        "edge": (y0s < 0) | (x0s < 0) | (y0s + sides > H) | (x0s + sides > W),
        "morph_um_per_px": (np.array([b[2] for b in boxes]) * ps / vp.morph_size).astype(np.float32),
        "micro_um_per_px": (sides * ps / vp.micro_size).astype(np.float32),
    }


def extract_unit(job: SlideJob, unit: Unit, vp: ViewParams) -> dict:
    """Views and per-cell metadata of one unit's cells (in the unit's order)."""
    halo = micro_halo(int(job.sides[unit.cells].max()), vp.micro_size)
    win, Y0, X0, boxes = _unit_cells(job, unit, vp, halo, image=True)
    morph = morph_views(job, win, boxes, Y0, X0, vp)
    micro = micro_views(win, Y0, X0, job.xy[unit.cells], job.sides[unit.cells], vp)
    return {"morph": morph, "micro": micro, **_cell_meta(job, unit.cells, boxes, vp)}


def unit_geometry(job: SlideJob, unit: Unit, vp: ViewParams) -> dict:
    """What the lazy source needs to cut the views of one unit's cells: morphology boxes and packed masks,
    microenvironment window starts (lattice pixels for ``per_slide``, source pixels for ``per_cell``)."""
    _, _, _, boxes = _unit_cells(job, unit, vp, LAZY_HALO, image=False)
    xy, sides = job.xy[unit.cells], job.sides[unit.cells]
    if vp.per_slide:
        S = int(sides[0])
        micro = np.stack([lattice_start(xy[:, 1], S, vp.micro_size), lattice_start(xy[:, 0], S, vp.micro_size), sides], 1)
    else:
        micro = np.stack([crop_start(xy[:, 1], sides), crop_start(xy[:, 0], sides), sides], 1)
    return {"morph_box": np.array([b[:3] for b in boxes], np.int64).reshape(-1, 3), "micro_box": micro.astype(np.int64),
            "masks": [np.packbits(b[3]) for b in boxes], **_cell_meta(job, unit.cells, boxes, vp)}
