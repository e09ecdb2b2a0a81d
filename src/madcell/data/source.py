"""The ``ViewSource`` contract: what training, embedding, evaluation, baselines and reports need from
"the views of cell i", whatever holds them.

Implementations: :class:`~madcell.data.store.ViewStore` (views materialised in an HDF5 store) and
:class:`InMemoryViews` (every view of a source in RAM, for training on a store that fits). A lazy
source that cuts views from the slide on the fly (issue "Scale") implements the same attributes and
methods. Consumers call :func:`open_views` on whatever they are given (a path or a source) and use
only what is listed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd


@runtime_checkable
class ViewSource(Protocol):
    path: Path
    n_channels: int
    channel_names: list[str]
    morph_size: int
    micro_size: int
    label_columns: list[str]
    dtype: np.dtype
    has_expression: bool

    def __len__(self) -> int: ...

    def read_morph(self, idx, raw: bool = False) -> np.ndarray:
        """(n, C, m, m) morphology views: float32 in 0-1, or the stored dtype with ``raw``."""

    def read_micro(self, idx, raw: bool = False) -> np.ndarray:
        """(n, C, M, M) microenvironment views, as :meth:`read_morph`."""

    @property
    def cell_ids(self) -> np.ndarray: ...

    @property
    def obs(self) -> pd.DataFrame:
        """One row per cell (index = cell id): slide, x_px, y_px, x_um, y_um, edge, label columns."""

    def expression(self):
        """The measured expression as AnnData in source order, or None."""

    def truth(self) -> dict[str, pd.DataFrame]:
        """Ground-truth feature groups (synthetic tissues), {} when there are none."""

    def thumbnail(self, slide: str) -> tuple[np.ndarray, float] | None:
        """(RGB uint8 (h, w, 3) overview of slide ``slide``, thumbnail px per slide px), or None."""

    def identity(self) -> dict:
        """What must match when a run resumes: cells, channels, view sizes, a hash of the cell ids."""

    def close(self) -> None:
        """Release file handles (the source stays usable: it reopens on the next read)."""


def open_views(source: str | Path | ViewSource) -> ViewSource:
    """A :class:`ViewSource` for a path (today: a materialised view store) or the source itself."""
    if isinstance(source, (str, Path)):
        from madcell.data.store import ViewStore

        return ViewStore(source)
    return source


def to_float(arr: np.ndarray) -> np.ndarray:
    """Stored views (uint8 0-255 or float16 0-1) -> float32 0-1."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    return arr.astype(np.float32)


class InMemoryViews:
    """Every view of ``source`` read once (in slices) into RAM; the rest of the contract is the source's."""

    def __init__(self, source: ViewSource, chunk: int = 4096):
        self.source = source
        n = len(source)
        self.morph = np.concatenate([source.read_morph(slice(s, min(s + chunk, n)), raw=True) for s in range(0, n, chunk)])
        self.micro = np.concatenate([source.read_micro(slice(s, min(s + chunk, n)), raw=True) for s in range(0, n, chunk)])

    def __getattr__(self, name):  # metadata, obs, expression, truth, identity: the source's
        if name in ("source", "morph", "micro"):
            raise AttributeError(name)
        return getattr(self.source, name)

    def __len__(self) -> int:
        return len(self.morph)

    def read_morph(self, idx, raw: bool = False) -> np.ndarray:
        arr = self.morph[np.asarray(idx) if not isinstance(idx, slice) else idx]
        return arr if raw else to_float(arr)

    def read_micro(self, idx, raw: bool = False) -> np.ndarray:
        arr = self.micro[np.asarray(idx) if not isinstance(idx, slice) else idx]
        return arr if raw else to_float(arr)
