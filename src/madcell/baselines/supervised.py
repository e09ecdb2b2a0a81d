"""Supervised CNN (ResNet-50 by default, random init) trained on the training cells' labels only.

The embedding is the globally pooled feature vector before the classifier
(``forward_head(forward_features(x), pre_logits=True)``), i.e. what a linear probe would see.
Cells whose label is missing (NaN / empty) are left out of training but still embedded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import timm
import torch
import torch.nn.functional as F

from madcell.baselines.common import Baseline, embed_batches, fit_loop, read_views, train_indices, view_channels
from madcell.baselines.registry import register_baseline
from madcell.data.source import ViewSource
from madcell.errors import InputError


def pick_label(store: ViewSource, label: str | None) -> str:
    """``label`` if given, else ``cell_type`` when the store has it, else its first label column."""
    cols = store.label_columns
    if label is None:
        if not cols:
            raise InputError(store.path, "has no label columns to train the supervised baseline on")
        return "cell_type" if "cell_type" in cols else cols[0]
    if label not in cols:
        raise InputError(store.path, f"has no label column '{label}' (it has: {', '.join(cols) or 'none'})")
    return label


@register_baseline("supervised")
class SupervisedCNN(Baseline):
    def fit(self, store: ViewSource, train_idx: np.ndarray | None = None) -> "SupervisedCNN":
        cfg = self.cfg
        self.label = pick_label(store, cfg["label"])
        labels = store.obs[self.label].to_numpy()
        idx = train_indices(store, train_idx)
        known = idx[pd.notna(labels[idx]) & (pd.Series(labels[idx]).astype(str).str.len().to_numpy() > 0)]
        if known.size < 2:
            raise InputError(store.path, f"fewer than 2 training cells carry a '{self.label}' label")
        self.classes, y_all = np.unique(labels[known].astype(str), return_inverse=True)
        y_of = dict(zip(known.tolist(), y_all.tolist()))
        torch.manual_seed(int(cfg["seed"]))
        self.model = timm.create_model(cfg["arch"], pretrained=False, in_chans=view_channels(store, cfg["views"]),
                                       num_classes=len(self.classes)).to(self.device)
        opt = torch.optim.AdamW(self.model.parameters(), lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]))
        self.model.train()

        def step(b: np.ndarray) -> float:
            x = read_views(store, b, cfg["views"], cfg["size"]).to(self.device)
            y = torch.as_tensor([y_of[i] for i in b.tolist()], device=self.device)
            loss = F.cross_entropy(self.model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss.item()

        self.log = fit_loop(step, known, cfg)
        return self

    def embed(self, store: ViewSource) -> dict[str, np.ndarray]:
        self.model.eval()

        def fn(idx: np.ndarray) -> torch.Tensor:
            x = read_views(store, idx, self.cfg["views"], self.cfg["size"]).to(self.device)
            return self.model.forward_head(self.model.forward_features(x), pre_logits=True)

        return {"": embed_batches(store, fn, 128)}
