"""Raw-pixel PCA: the floor any learned embedding must beat.

Each view is area-downsampled to ``size`` x ``size``, flattened, centred and projected on principal
axes fitted on the training cells only. With ``views: both`` one basis is fitted on the pixels of both
views (each view a sample), so the two parts live in one space, like MAD's two CLS tokens: the
embedding is [PCA(morph) | PCA(micro)] and cross-view Recall@K is defined for this floor too.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA

from madcell.baselines.common import Baseline, chunks, resize, train_indices
from madcell.baselines.registry import register_baseline
from madcell.data.source import ViewSource


@register_baseline("pca")
class PixelPCA(Baseline):
    def _pixels(self, store: ViewSource, idx, view: str) -> np.ndarray:
        read = store.read_morph if view == "morph" else store.read_micro
        return resize(torch.from_numpy(read(idx)), int(self.cfg["size"])).flatten(1).numpy()

    def _views(self) -> list[str]:
        return ["morph", "micro"] if self.cfg["views"] == "both" else [self.cfg["views"]]

    def fit(self, store: ViewSource, train_idx: np.ndarray | None = None) -> "PixelPCA":
        idx = np.sort(train_indices(store, train_idx))
        x = np.concatenate([self._pixels(store, idx[b], v) for v in self._views() for b in chunks(len(idx), 1024)])
        n = min(int(self.cfg["n_components"]), x.shape[0] - 1, x.shape[1])
        self.pca = PCA(n_components=max(n, 1), random_state=int(self.cfg["seed"])).fit(x)
        return self

    def embed(self, store: ViewSource) -> dict[str, np.ndarray]:
        parts = {v: np.concatenate([self.pca.transform(self._pixels(store, b, v)) for b in chunks(len(store), 1024)])
                 .astype(np.float32) for v in self._views()}
        if len(parts) == 1:
            return {"": next(iter(parts.values()))}
        return {"": np.concatenate([parts["morph"], parts["micro"]], axis=1), "_morph": parts["morph"], "_micro": parts["micro"]}
