"""Raw-pixel PCA: the floor any learned embedding must beat.

Each view is area-downsampled to ``size`` x ``size``, flattened (``both``: the two views' pixels
concatenated), centred and projected on principal axes fitted on the training cells only.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA

from madcell.baselines.common import Baseline, chunks, resize, train_indices
from madcell.baselines.registry import register_baseline
from madcell.data.store import ViewStore


@register_baseline("pca")
class PixelPCA(Baseline):
    def _pixels(self, store: ViewStore, idx) -> np.ndarray:
        size = int(self.cfg["size"])
        parts = []
        if self.cfg["views"] in ("morph", "both"):
            parts.append(resize(torch.from_numpy(store.read_morph(idx)), size))
        if self.cfg["views"] in ("micro", "both"):
            parts.append(resize(torch.from_numpy(store.read_micro(idx)), size))
        return torch.cat([p.flatten(1) for p in parts], dim=1).numpy()

    def fit(self, store: ViewStore, train_idx: np.ndarray | None = None) -> "PixelPCA":
        idx = np.sort(train_indices(store, train_idx))
        x = np.concatenate([self._pixels(store, idx[b]) for b in chunks(len(idx), 1024)])
        n = min(int(self.cfg["n_components"]), x.shape[0] - 1, x.shape[1])
        self.pca = PCA(n_components=max(n, 1), random_state=int(self.cfg["seed"])).fit(x)
        return self

    def embed(self, store: ViewStore) -> dict[str, np.ndarray]:
        out = [self.pca.transform(self._pixels(store, b)) for b in chunks(len(store), 1024)]
        return {"": np.concatenate(out).astype(np.float32)}
