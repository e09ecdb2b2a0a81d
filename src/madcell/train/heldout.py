"""Probes of the teacher on the held-out cells, run every ``eval_every`` steps and once at step 0.

The step-0 numbers (the untrained initial model) are the baseline the trained teacher must beat:
cross-view Recall@K (morph CLS -> micro CLS of the same cell, chance K/N; ties count against the
match, exactly as in ``evaluate``) and, per label column of the
store, a cross-validated cosine kNN probe of the embedding [morph CLS | micro CLS].
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from madcell.data.source import ViewSource
from madcell.train.data import to_float
from madcell.evaluate.retrieval import chance_recall
from madcell.train.probes import knn_accuracy, recall_at_k
from madcell.utils.device import autocast


class HeldOut:
    """The held-out cells' raw views (kept in memory: a few hundred cells) and labels."""

    def __init__(self, store: ViewSource, idx: np.ndarray, label_columns: list[str], sizes: dict[str, int],
                 knn_k: int = 15, seed: int = 0):
        self.idx = np.asarray(idx)
        self.sizes = sizes
        self.morph = torch.from_numpy(store.read_morph(self.idx, raw=True)) if len(idx) else None
        self.micro = torch.from_numpy(store.read_micro(self.idx, raw=True)) if len(idx) else None
        obs = store.obs.iloc[self.idx] if len(idx) else None
        self.labels = {c: obs[c].to_numpy() for c in label_columns} if obs is not None else {}
        self.knn_k, self.seed = knn_k, seed

    def __len__(self) -> int:
        return len(self.idx)

    @torch.no_grad()
    def embed(self, teacher: nn.Module, device: torch.device, precision: str, batch: int = 128) -> dict[str, np.ndarray]:
        """Teacher CLS tokens per view (``teacher`` is a ViewsForward, possibly FSDP-wrapped)."""
        out: dict[str, list] = {"morph": [], "micro": []}
        for s in range(0, len(self), batch):
            views = {}
            for v, arr in (("morph", self.morph), ("micro", self.micro)):
                x = to_float(arr[s : s + batch], device)
                size = self.sizes[v]
                if x.shape[-1] != size:
                    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
                views[v] = x
            with autocast(device, precision):
                cls = teacher(views, embed=True)
            for v in out:
                out[v].append(cls[v].float().cpu().numpy())
        return {v: np.concatenate(p) for v, p in out.items()}

    def probe(self, emb: dict[str, np.ndarray]) -> dict[str, float]:
        """Recall@1/5/10 (with chance) and kNN accuracy per label column."""
        n = len(self)
        res: dict[str, float] = {}
        for k, r in recall_at_k(emb["morph"], emb["micro"], (1, 5, 10)).items():
            res[f"recall@{k}"] = r
            res[f"recall@{k}_chance"] = chance_recall(n, k)
        both = np.concatenate([emb["morph"], emb["micro"]], axis=1)
        for col, y in self.labels.items():
            r = knn_accuracy(both, y, k=self.knn_k, n_folds=5, seed=self.seed)
            res[f"knn_{col}"] = r["acc"]
            res[f"knn_{col}_balanced"] = r["balanced_acc"]
            res[f"knn_{col}_chance"] = r["chance"]
        return res

    def run(self, teacher: nn.Module, device: torch.device, precision: str) -> dict[str, float]:
        if len(self) < 2:
            return {}
        return self.probe(self.embed(teacher, device, precision))
