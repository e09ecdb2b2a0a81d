"""Deterministic data order for exact resume and multi-process sharding.

The held-out monitoring cells are a seeded choice; the training order of epoch ``e`` is a permutation
drawn from ``seed + e``, dealt round-robin to the ranks and cut into fixed batches. Batch ``b`` of
epoch ``e`` is therefore a pure function of (seed, e, b, rank, world): resuming at iteration ``it``
only needs ``e, b = divmod(it, steps_per_epoch)``, and no sampler state has to be saved.
Batches are read whole from the store (uint8 stays uint8 until it reaches the device). A store whose
views fit in ``cache_mb`` is read once into memory: a small store is then not re-decoded (HDF5
chunk reads, LZF) every epoch, which on a 2-core laptop was ~12 % of a cpu-tiny step.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from madcell.data.source import InMemoryViews, ViewSource


def split_cells(n_cells: int, eval_cells: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) cell indices; at most a fifth of the cells (and ``eval_cells``) is held out."""
    n_eval = int(min(eval_cells, n_cells // 5))
    perm = np.random.default_rng([seed, 7919]).permutation(n_cells)
    return np.sort(perm[n_eval:]), np.sort(perm[:n_eval])


def steps_per_epoch(n_train: int, batch_size: int, world: int) -> int:
    """Full batches per epoch per rank (the ragged tail is dropped, as in DINO)."""
    return (n_train // world) // batch_size


def epoch_batches(train_idx: np.ndarray, epoch: int, seed: int, batch_size: int, rank: int = 0,
                  world: int = 1) -> list[np.ndarray]:
    """The batches (cell indices) of ``epoch`` for ``rank``."""
    perm = np.random.default_rng([seed, epoch]).permutation(train_idx)
    per_rank = len(train_idx) // world
    mine = perm[: per_rank * world][rank::world]
    n = steps_per_epoch(len(train_idx), batch_size, world)
    return [mine[b * batch_size : (b + 1) * batch_size] for b in range(n)]


def views_nbytes(store: ViewSource) -> int:
    """Bytes of all the store's morphology + microenvironment views in their stored dtype."""
    per_cell = store.n_channels * (store.morph_size ** 2 + store.micro_size ** 2) * store.dtype.itemsize
    return int(len(store)) * int(per_cell)


def cached_source(store: ViewSource, cache_mb: float | None) -> ViewSource:
    """The source's views in memory (:class:`~madcell.data.source.InMemoryViews`) when they fit in
    ``cache_mb`` MiB, else the source itself."""
    if cache_mb is not None and views_nbytes(store) <= float(cache_mb) * 2**20:
        return InMemoryViews(store)
    return store


class BatchReader(Dataset):
    """Reads a whole batch of cells per item (used with ``batch_size=None`` in a DataLoader).

    ``device_cut``: for a lazy source, hand over the microenvironment views' lattice windows
    (``micro_win`` ...) instead of the views, for :func:`madcell.views.cut.micro_from_windows` on the
    training device; batches it cannot serve that way carry ``micro`` as usual."""

    def __init__(self, store: ViewSource, batches: list[np.ndarray], device_cut: bool = False):
        self.store, self.batches, self.device_cut = store, batches, device_cut

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        idx = self.batches[i]
        out = {"morph": torch.from_numpy(self.store.read_morph(idx, raw=True)), "index": torch.from_numpy(np.asarray(idx))}
        windows = self.store.micro_windows(idx) if self.device_cut else None
        if windows is None:
            out["micro"] = torch.from_numpy(self.store.read_micro(idx, raw=True))
        else:
            out.update(windows)
        return out


def use_device_cut(setting: str, store: ViewSource, device: torch.device) -> bool:
    """``train.view_cut``: resize lazy views on the training device (``device``; ``auto``: when it is a GPU)."""
    if setting not in ("auto", "cpu", "device"):
        raise ValueError(f"train.view_cut must be auto, cpu or device, not {setting!r}")
    from madcell.data.lazy import LazyViews

    # a lazy store that resizes on read (no stored micro level), not one already read into memory (InMemoryViews)
    lazy = isinstance(store, LazyViews) and store.resizes_micro
    return lazy and (setting == "device" or (setting == "auto" and device.type == "cuda"))


def batch_loader(store: ViewSource, batches: list[np.ndarray], num_workers: int = 0,
                 device_cut: bool = False) -> DataLoader:
    """Iterate ``batches`` in order (prefetched by ``num_workers`` processes)."""
    return DataLoader(BatchReader(store, batches, device_cut), batch_size=None, shuffle=False, num_workers=num_workers,
                      persistent_workers=False, generator=torch.Generator().manual_seed(0),
                      pin_memory=torch.cuda.is_available())


def batch_views(batch: dict, device: torch.device) -> dict[str, torch.Tensor]:
    """A loader batch -> float32 0-1 ``morph`` and ``micro`` on ``device`` (cutting the micro views there
    when the batch carries lattice windows)."""
    views = {"morph": to_float(batch["morph"], device)}
    if "micro_win" in batch:
        from madcell.views.cut import micro_from_windows

        views["micro"] = micro_from_windows(batch["micro_win"].to(device, non_blocking=True), int(batch["micro_Lo"]),
                                            batch["micro_oy"].to(device), batch["micro_ox"].to(device), int(batch["micro_M"]))
    else:
        views["micro"] = to_float(batch["micro"], device)
    return views


def to_float(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Stored views (uint8 0-255 or float16 0-1) -> float32 0-1 on ``device``."""
    x = x.to(device, non_blocking=True)
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
