"""The one in-memory description of a slide that every reader returns.

A :class:`SlideData` holds

* ``image``: an :class:`ImageSource` — ``shape`` (C, H, W), ``dtype``, ``channel_names`` and
  ``read(y0, y1, x0, x1) -> (C, y1-y0, x1-x0)`` reading only that window (tiled/lazy where the file
  format allows it). Windows may extend past the slide: the part outside is zero-filled.
* ``labels``: a :class:`LabelSource` — ``shape`` (H, W) and ``read(y0, y1, x0, x1) -> int32 (h, w)``;
  0 is background, every other value is the ``label`` of one row of ``cells``. Polygon
  segmentations are rasterised on demand per window.
* ``cells``: a DataFrame with at least ``cell_id`` (str, unique), ``label`` (int > 0, the mask value),
  ``x_px``, ``y_px`` (centroid in this slide's pixel grid: column, row). Any further columns
  (``cell_type``, ``niche``, ...) are carried along as labels.
* ``pixel_size_um``: µm per pixel of ``image`` (None if unknown).
* ``expression``: optional AnnData, ``obs_names`` == ``cells.cell_id`` in the same order.
* ``transcripts``: optional DataFrame with ``x_px``, ``y_px``, ``gene``, ``cell_id`` (str; "" when
  unassigned), already converted to this slide's pixel grid (used by checks and tests).
* ``slide_id`` and ``source`` (the path the slide was read from, for error messages).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd


@runtime_checkable
class ImageSource(Protocol):
    shape: tuple[int, int, int]  # (C, H, W)
    dtype: np.dtype
    channel_names: list[str]

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """(C, y1-y0, x1-x0) window; the part outside the slide is 0."""
        ...


@runtime_checkable
class LabelSource(Protocol):
    shape: tuple[int, int]  # (H, W)

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """int32 (y1-y0, x1-x0) window of cell labels; 0 = background and outside the slide."""
        ...


def read_window(arr: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Window of an (..., H, W) array-like with zero fill outside its bounds.

    Works on numpy arrays, memmaps and zarr arrays (anything with ``shape`` and slicing).
    """
    H, W = arr.shape[-2:]
    lead = tuple(arr.shape[:-2])
    out = np.zeros(lead + (y1 - y0, x1 - x0), dtype=arr.dtype)
    sy0, sy1 = max(y0, 0), min(y1, H)
    sx0, sx1 = max(x0, 0), min(x1, W)
    if sy0 < sy1 and sx0 < sx1:
        out[..., sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = np.asarray(arr[..., sy0:sy1, sx0:sx1])
    return out


@dataclass
class ArrayImage:
    """An in-memory (or memory-mapped / zarr) (C, H, W) image."""

    data: np.ndarray
    channel_names: list[str]

    def __post_init__(self) -> None:
        if self.data.ndim != 3:
            raise ValueError(f"image must be (C, H, W), got shape {self.data.shape}")
        self.shape = tuple(int(s) for s in self.data.shape)
        self.dtype = np.dtype(self.data.dtype)

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return read_window(self.data, y0, y1, x0, x1)


@dataclass
class ArrayLabels:
    """An in-memory (or memory-mapped / zarr) (H, W) integer label mask."""

    data: np.ndarray

    def __post_init__(self) -> None:
        if self.data.ndim != 2:
            raise ValueError(f"label mask must be (H, W), got shape {self.data.shape}")
        self.shape = tuple(int(s) for s in self.data.shape)

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return read_window(self.data, y0, y1, x0, x1).astype(np.int32, copy=False)


@dataclass
class SlideData:
    image: ImageSource
    labels: LabelSource
    cells: pd.DataFrame
    pixel_size_um: float | None
    slide_id: str
    source: Path
    expression: "object | None" = None  # anndata.AnnData
    transcripts: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)
    truth: pd.DataFrame | None = None  # ground-truth features, rows as ``cells`` (madcell.io.truth)

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    @property
    def label_columns(self) -> list[str]:
        """Columns of ``cells`` beyond the required ones (ground truth / annotations)."""
        required = {"cell_id", "label", "x_px", "y_px", "x_um", "y_um"}
        return [c for c in self.cells.columns if c not in required]
