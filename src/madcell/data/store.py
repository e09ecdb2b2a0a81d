"""The per-cell view store: one HDF5 file, the artefact between ``prepare`` and everything after.

madcell layout (``attrs['layout'] == "madcell-views/1"``)::

    morphology       (N, C, m, m)  uint8 (0-255 <-> 0-1) or float16 (0-1)
    neighborhood     (N, C, M, M)  same dtype
    cell_ids         (N,)  str
    slide            (N,)  str
    centroid_xy      (N, 2) float64, pixel centroid in its slide's grid (x = column, y = row)
    centroid_um      (N, 2) float64, centroid in µm (NaN when the pixel size is unknown)
    morph_um_per_px  (N,)  float32, µm per pixel of the morphology view (NaN if unknown)
    micro_um_per_px  (N,)  float32, µm per pixel of the microenvironment view
    edge             (N,)  bool, the microenvironment window reached past the slide (zero-padded)
    obs/<column>     (N,)  every label / annotation column of the cell table (str or numeric)
    expression/      optional AnnData (anndata's on-disk group), obs_names == cell_ids
    truth/<group>    optional (N, d) float32 ground-truth features (:mod:`madcell.data.truth`)
    thumbnails/<k>   (h, w, 3) uint8 RGB overview of slide k, longest side <= 2000 px
                     (:mod:`madcell.data.thumbnail`; absent in stores written before it existed, and
                     in lazy stores, which make it from their slide pyramid)
    attrs: layout, madcell_version, channel_names (JSON), params (JSON: every preprocessing
           parameter), slides (JSON: per slide pixel size, source path, shape, channel clip values)

The MAD reference code's layout (NHWC uint8 ``morphology`` / ``neighborhood`` plus ``cell_ids`` and
``centroid_xy``, no attributes) is read as well, and :func:`write_reference_layout` exports to it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import h5py
import numpy as np
import pandas as pd

from madcell.data.thumbnail import read_thumbnail
from madcell.data.truth import read_truth, truth_groups
from madcell.data.source import to_float
from madcell.errors import InputError
from madcell.utils.atomic import atomic_path

LAYOUT = "madcell-views/1"
_STR = h5py.string_dtype("utf-8")


def _as_str_array(values: Iterable) -> np.ndarray:
    return np.asarray([str(v) for v in values], dtype=object)


@dataclass
class StoreWriter:
    """Fills a store created by :func:`create_store` chunk by chunk (``write`` at any offset)."""

    h5: h5py.File
    n_cells: int

    def write(
        self,
        start: int,
        morphology: np.ndarray | None,
        neighborhood: np.ndarray | None,
        cell_ids: Sequence,
        slide: Sequence,
        centroid_xy: np.ndarray,
        centroid_um: np.ndarray,
        morph_um_per_px: np.ndarray,
        micro_um_per_px: np.ndarray,
        edge: np.ndarray,
        obs: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Write rows ``start:start+len(cell_ids)``; a view array given as ``None`` is left for
        :meth:`write_chunks` (pre-encoded per-cell chunks)."""
        stop = start + len(cell_ids)
        if stop > self.n_cells:
            raise ValueError(f"write past the end of the store ({stop} > {self.n_cells})")
        sl = slice(start, stop)
        if morphology is not None:
            self.h5["morphology"][sl] = morphology
        if neighborhood is not None:
            self.h5["neighborhood"][sl] = neighborhood
        self.h5["cell_ids"][sl] = _as_str_array(cell_ids)
        self.h5["slide"][sl] = _as_str_array(slide)
        self.h5["centroid_xy"][sl] = centroid_xy
        self.h5["centroid_um"][sl] = centroid_um
        self.h5["morph_um_per_px"][sl] = morph_um_per_px
        self.h5["micro_um_per_px"][sl] = micro_um_per_px
        self.h5["edge"][sl] = edge
        for col, values in (obs or {}).items():
            ds = self.h5["obs"][col]
            ds[sl] = _as_str_array(values) if ds.dtype.kind == "O" else values

    def write_chunks(self, name: str, start: int, chunks: Sequence[tuple[bytes, int]]) -> None:
        """Store per-cell chunks made by :func:`encode_view` as they are (no re-compression).

        Each cell is one chunk of ``morphology`` / ``neighborhood``, so workers can compress in
        parallel and the single writer only copies bytes."""
        ds = self.h5[name]
        if start + len(chunks) > self.n_cells:
            raise ValueError(f"write past the end of the store ({start + len(chunks)} > {self.n_cells})")
        for i, (data, mask) in enumerate(chunks):
            ds.id.write_direct_chunk((start + i, 0, 0, 0), data, mask)

    def set_expression(self, adata) -> None:
        """Attach expression (AnnData whose obs_names equal the store's cell ids, in order)."""
        from anndata.io import write_elem

        write_elem(self.h5, "expression", adata)


def create_store(
    path: str | Path,
    n_cells: int,
    channel_names: Sequence[str],
    morph_size: int,
    micro_size: int,
    dtype: str = "uint8",
    obs_columns: dict[str, str] | None = None,
    params: dict | None = None,
    slides: dict | None = None,
    compression: str | None = "lzf",
    views: str = "materialised",
):
    """Context manager creating a store atomically: the file appears at ``path`` only on success.

    ``obs_columns`` maps each label column to ``"str"`` or a numpy dtype name. ``compression`` of
    the view datasets: ``"lzf"`` (default) or ``None`` / ``"none"``. ``views="lazy"``: no view
    datasets; the caller writes the slide and geometry (:mod:`madcell.views.lazy`).
    """
    from contextlib import contextmanager

    from madcell import __version__

    if dtype not in ("uint8", "float16"):
        raise InputError(path, f"store dtype must be uint8 or float16, not {dtype}")
    compression = None if compression in (None, "none") else compression
    if compression not in (None, "lzf"):
        raise InputError(path, f"store compression must be lzf or none, not {compression}")

    @contextmanager
    def _ctx():
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as h5:
                C = len(channel_names)
                for name, side in (("morphology", morph_size), ("neighborhood", micro_size)) if views != "lazy" else ():
                    h5.create_dataset(
                        name, shape=(n_cells, C, side, side), dtype=dtype,
                        chunks=(1, C, side, side), compression=compression,
                    )
                h5.create_dataset("cell_ids", shape=(n_cells,), dtype=_STR)
                h5.create_dataset("slide", shape=(n_cells,), dtype=_STR)
                h5.create_dataset("centroid_xy", shape=(n_cells, 2), dtype="f8")
                h5.create_dataset("centroid_um", shape=(n_cells, 2), dtype="f8")
                h5.create_dataset("morph_um_per_px", shape=(n_cells,), dtype="f4")
                h5.create_dataset("micro_um_per_px", shape=(n_cells,), dtype="f4")
                h5.create_dataset("edge", shape=(n_cells,), dtype="bool")
                g = h5.create_group("obs")
                for col, kind in (obs_columns or {}).items():
                    g.create_dataset(col, shape=(n_cells,), dtype=_STR if kind == "str" else kind)
                h5.attrs["layout"] = LAYOUT
                h5.attrs["views"] = views
                h5.attrs["view_sizes"] = [int(morph_size), int(micro_size)]
                h5.attrs["madcell_version"] = __version__
                h5.attrs["channel_names"] = json.dumps(list(channel_names))
                h5.attrs["params"] = json.dumps(params or {}, default=str)
                h5.attrs["slides"] = json.dumps(slides or {}, default=str)
                yield StoreWriter(h5, n_cells)

    return _ctx()


def encode_view(view: np.ndarray, compression: str | None) -> tuple[bytes, int]:
    """One cell's (C, s, s) view -> (chunk bytes, HDF5 filter mask) for :meth:`StoreWriter.write_chunks`.

    The LZF stream is the one HDF5's LZF filter (h5py's) decodes; a view that does not shrink is stored
    raw with the (optional) filter marked as skipped, as the filter itself does.
    """
    raw = np.ascontiguousarray(view).tobytes()
    if compression in (None, "none"):
        return raw, 0
    import imagecodecs

    enc = imagecodecs.lzf_encode(raw)
    return (enc, 0) if len(enc) < len(raw) else (raw, 1)


def is_lazy(path: str | Path) -> bool:
    """Whether ``path`` is a lazy view store (False for anything unreadable: the caller reports that)."""
    try:
        with h5py.File(path, "r") as h5:
            return h5.attrs.get("views") == "lazy"
    except (OSError, ValueError):
        return False


def read_runs(ds: h5py.Dataset, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` (sorted, unique) of ``ds``, one slice per run of consecutive rows. h5py's own
    fancy indexing builds one selection of every row and is several times slower for a scattered
    training batch (2 loader workers, LZF store: 74 -> 419 cells/s at 70/224 px, 259 -> 915 at 42/84;
    BENCHMARKS.md "Scale")."""
    out = np.empty((len(rows),) + ds.shape[1:], dtype=ds.dtype)
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(rows)]):
        ds.read_direct(out, source_sel=np.s_[int(rows[a]):int(rows[b - 1]) + 1], dest_sel=np.s_[int(a):int(b)])
    return out


class ViewStore:
    """Read-only access to a view store (either layout). Safe to pickle into DataLoader workers:
    each process opens its own file handle on first use."""

    def __new__(cls, path: str | Path | None = None):  # (no path when unpickled)
        if cls is ViewStore and path is not None and is_lazy(path):  # a lazy store: views cut from its slide on the fly
            from madcell.data.lazy import LazyViews

            return super().__new__(LazyViews)
        return super().__new__(cls)

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(self.path, "view store does not exist")
        try:
            with h5py.File(self.path, "r") as h5:
                self._load_meta(h5)
        except OSError as exc:
            raise InputError(self.path, f"is not a readable HDF5 view store ({exc})") from exc
        self._h5: h5py.File | None = None
        self._pid: int | None = None

    # -- metadata -------------------------------------------------------------------------
    def _load_meta(self, h5: h5py.File) -> None:
        lazy = h5.attrs.get("views") == "lazy"
        for name in ("lazy", "cell_ids") if lazy else ("morphology", "neighborhood", "cell_ids"):
            if name not in h5:
                raise InputError(self.path, f"is not a view store: dataset '{name}' is missing")
        self.layout = h5.attrs.get("layout", "mad-reference")
        self.channels_last = self.layout != LAYOUT
        if self.layout == LAYOUT:
            self.channel_names = json.loads(h5.attrs["channel_names"])
            self.params = json.loads(h5.attrs.get("params", "{}"))
            self.slides = json.loads(h5.attrs.get("slides", "{}"))
        if lazy:  # views cut on the fly (madcell.data.lazy): uint8 like the slide they come from
            self.n_cells, n_views = len(h5["cell_ids"]), len(h5["cell_ids"])
            self.morph_size, self.micro_size = (int(v) for v in h5.attrs["view_sizes"])
            C, self.dtype = len(self.channel_names), np.dtype(np.uint8)
        else:
            m, u = h5["morphology"], h5["neighborhood"]
            if m.ndim != 4 or u.ndim != 4:
                raise InputError(self.path, "views must be 4-D (N, C, H, W), or (N, H, W, C) in the reference layout")
            if self.channels_last:  # MAD reference: NHWC uint8
                self.n_cells, self.morph_size, _, C = m.shape
                self.micro_size = u.shape[1]
                self.channel_names = [f"ch{i}" for i in range(C)]
                self.params, self.slides = {}, {}
            else:
                self.n_cells, C, self.morph_size, _ = m.shape
                self.micro_size = u.shape[-1]
            self.dtype, n_views = np.dtype(m.dtype), u.shape[0]
        if n_views != self.n_cells or len(h5["cell_ids"]) != self.n_cells:
            raise InputError(self.path, "morphology, neighborhood and cell_ids disagree on the cell count")
        self.n_channels = C
        self.has_expression = "expression" in h5
        self.label_columns = sorted(h5["obs"].keys()) if "obs" in h5 else []
        self.truth_groups = truth_groups(h5)

    # -- handles ----------------------------------------------------------------------------
    @property
    def h5(self) -> h5py.File:
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._h5

    def close(self) -> None:
        if self._h5 is not None and self._pid == os.getpid():
            self._h5.close()
        self._h5 = None

    def __enter__(self) -> "ViewStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_h5"], state["_pid"] = None, None
        return state

    def __len__(self) -> int:
        return self.n_cells

    # -- data -----------------------------------------------------------------------------
    def _read(self, name: str, idx) -> np.ndarray:
        ds = self.h5[name]
        if isinstance(idx, (int, np.integer)):
            arr = ds[int(idx)][None]
        elif isinstance(idx, slice):
            arr = ds[idx]
        else:
            idx = np.asarray(idx, dtype=np.int64)
            if idx.size == 0:
                arr = np.empty((0,) + ds.shape[1:], dtype=ds.dtype)
            else:  # sorted unique indices, read as runs of consecutive cells
                uniq, inverse = np.unique(idx, return_inverse=True)
                arr = read_runs(ds, uniq)[inverse]
        if self.channels_last:
            arr = np.moveaxis(arr, -1, 1)
        return arr

    to_float = staticmethod(to_float)

    def read_morph(self, idx, raw: bool = False) -> np.ndarray:
        """(n, C, m, m) morphology views, float32 in 0-1 (``raw``: stored dtype)."""
        arr = self._read("morphology", idx)
        return arr if raw else self.to_float(arr)

    def read_micro(self, idx, raw: bool = False) -> np.ndarray:
        """(n, C, M, M) microenvironment views, float32 in 0-1 (``raw``: stored dtype)."""
        arr = self._read("neighborhood", idx)
        return arr if raw else self.to_float(arr)

    def identity(self) -> dict:
        """What a training run must find again on resume: cell count, channels, view sizes and a hash
        of the cell ids (a re-prepared or another store differs)."""
        import hashlib

        h = hashlib.sha256("\n".join(map(str, self.cell_ids)).encode()).hexdigest()[:16]
        return {"n_cells": int(len(self)), "channels": [str(c) for c in self.channel_names],
                "morph_size": int(self.morph_size), "micro_size": int(self.micro_size), "cell_ids_sha": h}

    @property
    def cell_ids(self) -> np.ndarray:
        return np.asarray(self.h5["cell_ids"].asstr()[:] if self.h5["cell_ids"].dtype.kind == "O" else self.h5["cell_ids"][:]).astype(str)

    @property
    def obs(self) -> pd.DataFrame:
        """One row per cell: slide, pixel and µm centroids, edge flag, view scales, label columns."""
        h5 = self.h5
        ids = self.cell_ids
        df = pd.DataFrame(index=pd.Index(ids, name="cell_id"))
        xy = h5["centroid_xy"][:] if "centroid_xy" in h5 else np.full((len(ids), 2), np.nan)
        df["x_px"], df["y_px"] = xy[:, 0], xy[:, 1]
        if self.layout == LAYOUT:
            df["slide"] = h5["slide"].asstr()[:]
            um = h5["centroid_um"][:]
            df["x_um"], df["y_um"] = um[:, 0], um[:, 1]
            df["edge"] = h5["edge"][:]
            df["morph_um_per_px"] = h5["morph_um_per_px"][:]
            df["micro_um_per_px"] = h5["micro_um_per_px"][:]
            for col in self.label_columns:
                ds = h5["obs"][col]
                df[col] = ds.asstr()[:] if ds.dtype.kind == "O" else ds[:]
        else:
            df["slide"] = "slide0"
        return df

    def expression(self):
        """The attached AnnData (cells in store order) or None."""
        if not self.has_expression:
            return None
        from anndata.io import read_elem

        return read_elem(self.h5["expression"])

    def truth(self) -> dict[str, pd.DataFrame]:
        """Ground-truth feature matrices ``{group: (N, d) frame}`` in store order ({} if none)."""
        return read_truth(self.h5)

    def thumbnail(self, slide: str) -> tuple[np.ndarray, float] | None:
        """(RGB uint8 (h, w, 3) overview of slide ``slide``, thumbnail px per slide px), or None when the
        store has none (written before thumbnails existed, or the MAD reference layout)."""
        return read_thumbnail(self.h5, slide)


def write_reference_layout(store: ViewStore, path: str | Path, chunk: int = 1024) -> None:
    """Export ``store`` to the MAD reference layout (NHWC uint8 + cell_ids + centroid_xy)."""
    n, C = store.n_cells, store.n_channels
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        dm = h5.create_dataset("morphology", (n, store.morph_size, store.morph_size, C), "uint8")
        du = h5.create_dataset("neighborhood", (n, store.micro_size, store.micro_size, C), "uint8")
        for s in range(0, n, chunk):
            sl = slice(s, min(s + chunk, n))
            for ds, arr in ((dm, store.read_morph(sl)), (du, store.read_micro(sl))):
                ds[sl] = np.moveaxis(np.clip(np.rint(arr * 255), 0, 255).astype(np.uint8), 1, -1)
        h5.create_dataset("cell_ids", data=_as_str_array(store.cell_ids), dtype=_STR)
        obs = store.obs
        h5.create_dataset("centroid_xy", data=obs[["x_px", "y_px"]].to_numpy())
