"""The two-layer MLP decoder and its training loop (AdamW, early stopping on a validation split).

Decoders read *frozen* embeddings, so they are small: Linear(d, h) -> GELU -> Dropout -> Linear(h, out)
with h = ``hidden_mult`` x d. Inputs are standardised with the training cells' mean and standard
deviation, stored as buffers so a saved decoder carries its own preprocessing. Training keeps the
parameters of the epoch with the lowest validation loss and stops after ``patience`` epochs without
improvement — the embedding, not the decoder, should carry the signal.
"""

from __future__ import annotations

import copy
from typing import Callable, Mapping

import numpy as np
import torch
from torch import nn
from madcell.utils.device import single_threaded


class MLP(nn.Module):
    """Standardise -> Linear -> GELU -> Dropout -> Linear."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int, dropout: float = 0.1):
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, out_dim))

    def set_standardiser(self, X: np.ndarray) -> None:
        mean = X.mean(axis=0)
        std = X.std(axis=0)
        std[std < 1e-8] = 1.0
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def split_train_val(n_or_idx, val_frac: float, seed: int, stratify: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Random (stratified when labels are given) train/validation split of the given indices."""
    idx = np.arange(n_or_idx) if np.isscalar(n_or_idx) else np.asarray(n_or_idx, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if val_frac <= 0 or len(idx) < 4:
        return idx, idx[:0]
    val = []
    groups = [idx] if stratify is None else [idx[stratify[idx] == c] for c in np.unique(stratify[idx])]
    for g in groups:
        g = rng.permutation(g)
        k = int(round(len(g) * val_frac))
        if stratify is not None and len(g) >= 2:
            k = max(k, 1)
        val.append(g[: min(k, len(g) - 1)])
    val = np.sort(np.concatenate(val))
    return np.setdiff1d(idx, val), val


@single_threaded
def train_mlp(
    model: MLP,
    X: np.ndarray,
    Y: np.ndarray,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    cfg: Mapping,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    sample_weights: np.ndarray | None = None,
) -> dict:
    """Fit ``model`` in place; returns the history (per-epoch losses, best epoch, stopped epoch)."""
    gen = torch.Generator().manual_seed(int(cfg["seed"]))
    torch.manual_seed(int(cfg["seed"]))
    Xt = torch.as_tensor(X, dtype=torch.float32)
    Yt = torch.as_tensor(Y)
    model.set_standardiser(X[train_idx])
    tr = torch.as_tensor(np.asarray(train_idx), dtype=torch.long)
    bs = int(min(cfg["batch_size"], len(tr)))
    probs = None if sample_weights is None else torch.as_tensor(sample_weights, dtype=torch.double)
    opt = torch.optim.AdamW(model.parameters(), lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]))
    has_val = len(val_idx) > 0
    Xv, Yv = Xt[val_idx], Yt[val_idx]
    best, best_state, best_epoch, bad = float("inf"), None, -1, 0
    hist: dict = {"train_loss": [], "val_loss": []}
    for epoch in range(int(cfg["max_epochs"])):
        model.train()
        total, count = 0.0, 0
        # index batches straight from the tensors: a DataLoader's per-item collation costs more
        # than these small MLP steps; the weighted draw is WeightedRandomSampler's (with replacement)
        order = (torch.randperm(len(tr), generator=gen) if probs is None
                 else torch.multinomial(probs, len(tr), replacement=True, generator=gen))
        for b in range(0, len(tr), bs):
            sel = tr[order[b : b + bs]]
            xb, yb = Xt[sel], Yt[sel]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
            count += len(xb)
        hist["train_loss"].append(total / max(count, 1))
        if not has_val:
            continue
        model.eval()
        with torch.no_grad():
            vloss = loss_fn(model(Xv), Yv).item()
        hist["val_loss"].append(vloss)
        if vloss < best - 1e-6:
            best, best_epoch, bad = vloss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
            if bad >= int(cfg["patience"]):
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    hist["best_epoch"] = best_epoch if has_val else len(hist["train_loss"]) - 1
    hist["epochs_run"] = len(hist["train_loss"])
    hist["stopped_early"] = hist["epochs_run"] < int(cfg["max_epochs"])
    return hist


def hidden_width(in_dim: int, cfg: Mapping) -> int:
    mult = float(cfg["hidden_mult"])
    if not 1 <= mult <= 8:
        raise ValueError(f"decode.hidden_mult must be in [1, 8] (got {mult})")
    return max(8, int(round(mult * in_dim)))


@torch.no_grad()
def predict_batched(model: nn.Module, X: np.ndarray, batch: int = 8192) -> np.ndarray:
    model.eval()
    out = [model(torch.as_tensor(X[i : i + batch], dtype=torch.float32)) for i in range(0, len(X), batch)]
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)
