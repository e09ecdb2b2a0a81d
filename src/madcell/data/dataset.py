"""PyTorch dataset over a view store (lazy per-worker HDF5 handles)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from madcell.data.source import ViewSource, open_views


class ViewDataset(Dataset):
    """Yields ``{"morph": (C,m,m) float32, "micro": (C,M,M) float32, "index": int}``.

    Values stay in the store's 0-1 scale; augmentation happens batched on the training device.
    ``indices`` restricts the dataset to a subset of cells (e.g. a training split).
    """

    def __init__(self, store: ViewSource | str, indices: Sequence[int] | None = None, raw: bool = False):
        self.store = open_views(store)
        self.indices = np.arange(len(self.store)) if indices is None else np.asarray(indices, dtype=np.int64)
        self.raw = raw

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        j = int(self.indices[i])
        morph = self.store.read_morph(j, raw=self.raw)[0]
        micro = self.store.read_micro(j, raw=self.raw)[0]
        return {"morph": torch.from_numpy(morph), "micro": torch.from_numpy(micro), "index": j}

    def __getitems__(self, items: Sequence[int]) -> list[dict]:
        """A DataLoader batch read at once: one store read per view kind (a lazy source then resizes the
        batch's windows together instead of one cell at a time)."""
        idx = self.indices[np.asarray(items, dtype=np.int64)]
        morph = torch.from_numpy(self.store.read_morph(idx, raw=self.raw))
        micro = torch.from_numpy(self.store.read_micro(idx, raw=self.raw))
        return [{"morph": morph[k], "micro": micro[k], "index": int(j)} for k, j in enumerate(idx)]
