"""A :class:`~madcell.data.source.ViewSource` that cuts both views of a cell from the stored slide on the
fly (layout: :mod:`madcell.views.lazy`; arithmetic: :mod:`madcell.views.cut`, the one ``prepare`` uses).

Views equal the materialised ones of the same configuration up to one grey level (1/255): the slide
is stored as uint8 before resizing, the materialised views are rounded after it. Masks are the same.
Level 0 of an uncompressed slide is read through a memory map (no copy, no decompression); loader
worker processes open their own map. ``per_slide`` microenvironment views are crops of the stored micro
level when the store has one (``prepare.lazy_micro_level``, the default), else resized from level 0
windows on read. Metadata, obs, expression and truth come from the
:class:`~madcell.data.store.ViewStore` base; slide thumbnails from the stored pyramid.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from madcell.data.source import to_float
from madcell.data.store import ViewStore
from madcell.io.base import read_window
from madcell.views.cut import lattice_window, micro_from_windows, morph_resize
from madcell.views.lazy import origin
from madcell.views.resize import batches, quantize


class LazyViews(ViewStore):
    """Views of a lazy store (``prepare --views lazy``), cut on read."""

    def _geometry(self) -> dict:
        if getattr(self, "_geo_pid", None) != os.getpid():
            g = self.h5["lazy"]
            self._geo = {k: g[k][:] for k in ("slide_index", "morph_box", "micro_box", "mask_offset")}
            self._geo["per_slide"] = g.attrs["micro_scale"] == "per_slide"
            self._geo["bits"] = g["mask_bits"]  # handle lookups cost more than small reads: keep it
            self._geo["micro"] = {int(k): np.asarray(origin(ds), np.int64) for k, ds in g["micro"].items()} \
                if "micro" in g else {}
            self._geo["origin"] = [origin(g["slides"][str(k)]["0"]) for k in range(len(g["slides"]))]
            self._levels = {}
            self._geo_pid = os.getpid()
        return self._geo

    def level(self, slide: int, k: int = 0):
        """Pyramid level ``k`` of slide ``slide`` (C, h, w) uint8: a memory map when stored contiguous."""
        return self._open((slide, k), lambda: self.h5["lazy"]["slides"][str(slide)][str(k)])

    def micro_level(self, slide: int):
        """Slide ``slide`` resized onto its microenvironment lattice (``lazy/micro/<k>``), like :meth:`level`."""
        return self._open((slide, "micro"), lambda: self.h5["lazy"]["micro"][str(slide)])

    def _open(self, key, dataset):
        self._geometry()
        if key not in self._levels:
            ds = dataset()
            off = ds.id.get_offset() if ds.chunks is None and ds.compression is None else None
            self._levels[key] = ds if off is None else np.memmap(self.path, np.uint8, "r", off, ds.shape)
        return self._levels[key]

    def thumbnail(self, slide: str) -> tuple[np.ndarray, float] | None:
        """Slide ``slide``'s thumbnail (:mod:`madcell.views.thumbnail`), made from its pyramid: the finest
        level whose longer side is <= 2000 px (or the coarsest one, block-averaged), read in row strips,
        mixed to RGB. It matches the materialised store's to a grey level or two (the levels are uint8)."""
        from madcell.views.thumbnail import HIRES_MAX, ThumbnailAccumulator

        if slide not in self.slides:
            return None
        levels = self.h5["lazy"]["slides"][str(list(self.slides).index(slide))]
        n, (H, W), (oy, ox) = len(levels), self.slides[slide]["shape"][1:], origin(levels["0"])
        k = next((j for j in range(n) if max(-(-H // 2 ** j), -(-W // 2 ** j)) <= HIRES_MAX), n - 1)
        ds = levels[str(k)]
        acc = ThumbnailAccumulator((-(-H // 2 ** k), -(-W // 2 ** k)), self.channel_names)  # the whole slide:
        for y0 in range(0, ds.shape[1], 256):  # black where nothing is stored; row strips: memory ~ one strip
            acc.add(to_float(ds[:, y0:y0 + 256]), oy // 2 ** k + y0, ox // 2 ** k)
        return acc.image(), acc.scale / 2 ** k

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        for k in ("_geo", "_levels", "_geo_pid"):
            state.pop(k, None)
        return state

    @staticmethod
    def _rows(idx, n: int) -> np.ndarray:
        if isinstance(idx, (int, np.integer)):
            return np.array([int(idx)])
        return np.arange(n)[idx] if isinstance(idx, slice) else np.asarray(idx, np.int64).reshape(-1)

    def read_morph(self, idx, raw: bool = False) -> np.ndarray:
        geo, rows = self._geometry(), self._rows(idx, len(self))
        crops, masks = [], []
        bits = geo["bits"]
        for i in rows:
            y0, x0, s = (int(v) for v in geo["morph_box"][i])
            crops.append(to_float(self._window(int(geo["slide_index"][i]), y0, x0, s)))
            packed = bits[geo["mask_offset"][i]:geo["mask_offset"][i + 1]]
            masks.append(np.unpackbits(packed, count=s * s).reshape(s, s).astype(bool))
        out = morph_resize(crops, masks, self.morph_size, "uint8") if len(rows) else \
            np.empty((0, self.n_channels, self.morph_size, self.morph_size), np.uint8)
        return out if raw else to_float(out)

    def read_micro(self, idx, raw: bool = False) -> np.ndarray:
        geo, rows = self._geometry(), self._rows(idx, len(self))
        M, C = self.micro_size, self.n_channels
        out = np.empty((len(rows), C, M, M), np.uint8)
        box, slide = geo["micro_box"][rows], geo["slide_index"][rows]
        stored = np.isin(slide, list(geo["micro"]))
        for t in np.flatnonzero(stored):  # a crop of the slide's micro level
            y, x = box[t, :2] - geo["micro"][int(slide[t])]
            out[t] = read_window(self.micro_level(int(slide[t])), int(y), int(y) + M, int(x), int(x) + M)
        for S in np.unique(box[~stored, 2]):  # the rest: windows of level 0 resized on read
            part = np.flatnonzero(~stored & (box[:, 2] == S))
            y0, x0, L, Lo, oy, ox = self._micro_cut(box[part], int(S), geo["per_slide"])
            for sl in batches(len(part), C * (L * L + Lo * Lo)):
                sub = np.arange(len(part))[sl]
                win = self._windows(slide[part[sub]], y0[sub], x0[sub], L)
                out[part[sub]] = quantize(micro_from_windows(torch.from_numpy(win), Lo, oy[sub], ox[sub], M), "uint8")
        return out if raw else to_float(out)

    def _micro_cut(self, box: np.ndarray, S: int, per_slide: bool):
        """(first rows, first cols, window side L, resized side Lo, view offsets oy, ox) of cells of side S."""
        M = self.micro_size
        if per_slide:  # a window a little larger than S that resizes onto the slide's lattice
            y0, L, Lo, oy = lattice_window(box[:, 0], S, M)
            x0, _, _, ox = lattice_window(box[:, 1], S, M)
            return y0, x0, L, Lo, oy, ox
        zero = np.zeros(len(box), np.int64)  # the S-pixel crop centred on the cell
        return box[:, 0], box[:, 1], S, M, zero, zero

    def _window(self, slide: int, y: int, x: int, L: int) -> np.ndarray:
        """The (C, L, L) window of level 0 at slide pixel (y, x); 0 outside the stored part."""
        oy, ox = self._geo["origin"][slide]
        return read_window(self.level(slide), y - oy, y - oy + L, x - ox, x - ox + L)

    def _windows(self, slides: np.ndarray, y0: np.ndarray, x0: np.ndarray, L: int) -> np.ndarray:
        return np.stack([self._window(int(s), int(y), int(x), L) for s, y, x in zip(slides, y0, x0)])

    @property
    def resizes_micro(self) -> bool:
        """Whether reads resize lattice windows (``per_slide`` without a stored micro level): the work a
        training GPU can take over (:meth:`micro_windows`)."""
        geo = self._geometry()
        return bool(geo["per_slide"]) and len(geo["micro"]) < len(self.slides)

    def micro_windows(self, idx) -> dict | None:
        """The raw material of the cells' microenvironment views, to resize elsewhere (on the GPU):
        ``{"micro_win": (n, C, L, L) uint8, "micro_oy", "micro_ox": (n,), "micro_Lo", "micro_M": ()}``
        for :func:`madcell.views.cut.micro_from_windows`. None for ``per_cell`` stores (one window side
        per cell: no single batched resize) and for slides with a stored micro level (a read is a crop)."""
        geo, rows = self._geometry(), self._rows(idx, len(self))
        if not geo["per_slide"] or not len(rows) or np.isin(geo["slide_index"][rows], list(geo["micro"])).any():
            return None
        box = geo["micro_box"][rows]
        sides = np.unique(box[:, 2])
        if len(sides) > 1:  # slides of one store with different sides: cut on the CPU
            return None
        y0, x0, L, Lo, oy, ox = self._micro_cut(box, int(sides[0]), True)
        win = self._windows(geo["slide_index"][rows], y0, x0, L)
        return {"micro_win": torch.from_numpy(win), "micro_oy": torch.from_numpy(oy), "micro_ox": torch.from_numpy(ox),
                "micro_Lo": torch.tensor(Lo), "micro_M": torch.tensor(self.micro_size)}
