"""How one view is cut and resized: the arithmetic shared by ``prepare`` (materialised views, cut per
work unit) and the lazy view source (views cut from the stored slide on the fly).

* morphology: a square crop of the normalised slide times the cell's mask, resized to ``m`` (bilinear,
  antialiased when shrinking) and multiplied by the nearest-resized mask, so outside the cell is 0.
* microenvironment, ``per_slide``: every view is a window of the slide resized by ``M / S`` onto one
  global lattice: output pixel ``J`` samples the source at ``(J + 0.5)·S/M − 0.5``; a cell's view
  starts at :func:`lattice_start`. Any window whose start and length are multiples of
  ``S / gcd(S, M)`` resizes onto that same lattice, so a view can be made from a window only a little
  larger than ``S`` (:func:`lattice_window`) and equals the crop of a whole resized tile.
* microenvironment, ``per_cell``: the ``S``-pixel crop centred on the cell (:func:`crop_start`) resized
  to ``M``.

:func:`micro_from_windows` does the resize-and-crop of a batch of lattice windows on whatever device
the windows are on: the lazy source runs it on the CPU in loader workers, training can run it on the
GPU (``train.view_cut``), with the same arithmetic.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from madcell.views.resize import batches, quantize, resize, resize_mask


def crop_start(c: np.ndarray, side) -> np.ndarray:
    """First source pixel of a ``side``-pixel window centred on coordinate(s) ``c`` (pixel centres at integers)."""
    return np.floor(np.asarray(c, np.float64) - (np.asarray(side) - 1) / 2.0 + 0.5).astype(np.int64)


def lattice_start(c: np.ndarray, S: int, M: int) -> np.ndarray:
    """First global lattice pixel of the ``M``-pixel view centred on coordinate(s) ``c`` (``per_slide``)."""
    return np.floor((np.asarray(c, np.float64) + 0.5) * M / S - M / 2 + 0.5).astype(np.int64)


def lattice_window(start: np.ndarray, S: int, M: int, out: int | None = None) -> tuple[np.ndarray, int, int, np.ndarray]:
    """Source windows that resize onto the lattice and hold the ``out``-pixel runs (default ``M``, a
    view) of lattice pixels starting at ``start``.

    Returns (first source pixel of each window, window side L, resized side L·M/S, offset of the run
    in the resized window). Windows start on multiples of ``S / gcd(S, M)`` and reach the resize
    filter's support (``max(S/M, 1)`` source pixels) plus 2 pixels past the run on both sides.
    """
    g = math.gcd(int(S), int(M))
    Sg, Mg = S // g, M // g
    support = max(S / M, 1.0) + 2.0
    lo = (np.asarray(start, np.float64) + 0.5) * S / M - 0.5 - support
    block = np.floor(lo / Sg).astype(np.int64)
    nb = math.ceil(((M if out is None else out) * S / M + 2 * support) / Sg) + 1
    return block * Sg, nb * Sg, nb * Mg, np.asarray(start, np.int64) - block * Mg


def micro_from_windows(win: torch.Tensor, Lo: int, oy, ox, M: int) -> torch.Tensor:
    """(n, C, L, L) uint8 lattice windows -> (n, C, M, M) float 0-1 views on the windows' device: each
    window resized to ``Lo`` (:func:`lattice_window`) and cropped at its view's offset ``(oy, ox)``."""
    big = resize(win.to(torch.float32).mul_(1.0 / 255.0), (int(Lo), int(Lo)))
    dev, M = big.device, int(M)
    if dev.type == "cpu":  # slicing: ~5x faster than the gather below on a CPU
        oy, ox = np.asarray(oy, np.int64), np.asarray(ox, np.int64)
        return torch.stack([big[t, :, oy[t]:oy[t] + M, ox[t]:ox[t] + M] for t in range(len(big))]).clamp_(0, 1)
    return crop_gather(big, oy, ox, M).clamp_(0, 1)


def crop_gather(big: torch.Tensor, oy, ox, M: int) -> torch.Tensor:
    """(n, C, M, M) crops of ``big`` at per-row offsets in one gather (one kernel on a GPU)."""
    dev = big.device
    oy, ox = torch.as_tensor(oy, device=dev).long(), torch.as_tensor(ox, device=dev).long()
    ar = torch.arange(int(M), device=dev)
    rows, cols = oy[:, None] + ar, ox[:, None] + ar  # (n, M) each
    n, C = big.shape[:2]
    return big[torch.arange(n, device=dev)[:, None, None, None], torch.arange(C, device=dev)[None, :, None, None],
               rows[:, None, :, None], cols[:, None, None, :]]


def morph_resize(crops: list[np.ndarray], masks: list[np.ndarray], m: int, dtype: str | None) -> np.ndarray:
    """(n, C, m, m) morphology views from (C, s, s) float crops (0-1) and (s, s) bool masks.

    Crops of equal side are resized together. ``dtype``: ``"uint8"`` / ``"float16"`` quantises as the
    store does; ``None`` returns float32 0-1.
    """
    n, C = len(crops), crops[0].shape[0] if crops else 0
    out = np.empty((n, C, m, m), np.float32 if dtype is None else (np.uint8 if dtype == "uint8" else np.float16))
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(crops):
        groups.setdefault(c.shape[-1], []).append(i)
    for s, members in sorted(groups.items()):
        for sl in batches(len(members), C * (s * s + m * m)):
            part = members[sl]
            x = torch.from_numpy(np.stack([crops[i] * masks[i] for i in part]).astype(np.float32, copy=False))
            mk = torch.from_numpy(np.stack([masks[i] for i in part])[:, None].astype(np.float32))
            v = resize(x, (m, m)) * resize_mask(mk, (m, m))
            out[part] = v.clamp_(0, 1).numpy() if dtype is None else quantize(v, dtype)
    return out
