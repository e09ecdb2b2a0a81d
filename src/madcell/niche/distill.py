"""Distilling the teacher's soft niches into the image-only student.

Loss (Hinton et al.): ``T² · KL(softmax(log p / T) ‖ softmax(z / T))`` with teacher probabilities p
and student logits z, averaged over cells; the T² keeps gradient scale independent of T. Training
uses AdamW, mini-batches of training cells, and early stopping on the same loss on a validation part
of the training region (spatial blocks); the best validation state is restored.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def kd_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """T² × KL(teacher_T ‖ student_T), mean over the batch."""
    t = float(temperature)
    p_t = F.softmax(torch.log(teacher_probs.clamp_min(1e-8)) / t, dim=1)
    log_q = F.log_softmax(student_logits / t, dim=1)
    return t * t * F.kl_div(log_q, p_t, reduction="batchmean")


class NeighbourBatches:
    """Gathers (cell, neighbours, offsets, mask) tensors for index batches; features standardised."""

    def __init__(self, feats: np.ndarray, xy: np.ndarray, nbr_idx: np.ndarray, nbr_mask: np.ndarray,
                 fit_on: np.ndarray | None, device: str, stats: tuple[np.ndarray, np.ndarray] | None = None):
        """Standardised with the mean / sd of the ``fit_on`` cells, or with given ``stats`` (a saved
        student applied to a new slide uses its training cells' statistics)."""
        f = np.asarray(feats, dtype=np.float32)
        mu, sd = stats if stats is not None else (f[fit_on].mean(0), f[fit_on].std(0) + 1e-6)
        self.mu, self.sd = mu, sd
        self.f = torch.as_tensor((f - mu) / sd, device=device)
        self.xy = torch.as_tensor(np.asarray(xy, dtype=np.float32), device=device)
        self.idx = torch.as_tensor(nbr_idx, dtype=torch.long, device=device)
        self.mask = torch.as_tensor(nbr_mask, device=device)
        self.device = device

    def __call__(self, cells: torch.Tensor) -> tuple[torch.Tensor, ...]:
        nb = self.idx[cells]
        return self.f[cells], self.f[nb], self.xy[nb] - self.xy[cells][:, None], self.mask[cells]


def _mean_loss(model: nn.Module, batches: NeighbourBatches, cells: np.ndarray, target: torch.Tensor, t: float, bs: int) -> float:
    model.eval()
    tot = 0.0
    with torch.no_grad():
        for s in range(0, len(cells), bs):
            c = torch.as_tensor(cells[s : s + bs], device=batches.device)
            tot += kd_loss(model(*batches(c)), target[c], t).item() * len(c)
    return tot / max(len(cells), 1)


def train_student(
    model: nn.Module,
    batches: NeighbourBatches,
    teacher_probs: np.ndarray,
    train_cells: np.ndarray,
    val_cells: np.ndarray,
    cfg: dict,
    seed: int = 0,
) -> dict:
    """Fit ``model`` in place; returns the history (per-epoch train/val loss, best epoch)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.to(batches.device)
    target = torch.as_tensor(np.asarray(teacher_probs, dtype=np.float32), device=batches.device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    t, bs = cfg["temperature"], int(cfg["batch_size"])
    hist: dict = {"train": [], "val": [], "best_epoch": 0}
    best, best_state, wait = np.inf, copy.deepcopy(model.state_dict()), 0
    for epoch in range(int(cfg["max_epochs"])):
        model.train()
        order, tot = rng.permutation(train_cells), 0.0
        for s in range(0, len(order), bs):
            c = torch.as_tensor(order[s : s + bs], device=batches.device)
            loss = kd_loss(model(*batches(c)), target[c], t)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += loss.item() * len(c)
        hist["train"].append(tot / len(order))
        val = _mean_loss(model, batches, val_cells, target, t, bs) if len(val_cells) else hist["train"][-1]
        hist["val"].append(val)
        if val < best - 1e-5:
            best, best_state, wait, hist["best_epoch"] = val, copy.deepcopy(model.state_dict()), 0, epoch
        else:
            wait += 1
            if wait >= int(cfg["patience"]):
                break
    model.load_state_dict(best_state)
    return hist


def predict_student(model: nn.Module, batches: NeighbourBatches, n_cells: int, bs: int = 1024) -> np.ndarray:
    """Niche probabilities (N, K) for every cell (temperature 1)."""
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, n_cells, bs):
            c = torch.arange(s, min(s + bs, n_cells), device=batches.device)
            out.append(torch.softmax(model(*batches(c)), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)
