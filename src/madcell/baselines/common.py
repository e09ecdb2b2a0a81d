"""What every baseline shares: the interface, reading (and resizing) views, batching, a train loop.

Interface: ``fit(store, train_idx) -> self`` learns from the training cells only (labels, pixels,
PCA axes: nothing from the held-out cells), ``embed(store) -> {obsm_key_suffix: (N, d)}`` embeds every
cell in store order. The main embedding is under ``""``; two-view encoders add ``"_morph"`` /
``"_micro"`` parts, which :func:`madcell.baselines.run.run_baseline` turns into ``key``, ``key_morph``...
"""

from __future__ import annotations

import time
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from madcell.data.source import ViewSource
from madcell.errors import InputError

VIEWS = ("morph", "micro", "both")


class Baseline:
    """Base class: holds the merged config section; subclasses implement ``fit`` and ``embed``."""

    name: str = "baseline"

    def __init__(self, cfg: dict):
        self.cfg = cfg
        if "views" in cfg and cfg["views"] not in VIEWS:
            raise InputError(None, f"baselines.{self.name}.views must be one of {VIEWS}, not {cfg['views']!r}")
        self.device = resolve_device(cfg.get("device", "auto"))

    def fit(self, store: ViewSource, train_idx: np.ndarray | None = None) -> "Baseline":
        raise NotImplementedError

    def embed(self, store: ViewSource) -> dict[str, np.ndarray]:
        raise NotImplementedError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def train_indices(store: ViewSource, train_idx: np.ndarray | None) -> np.ndarray:
    """All cells when ``train_idx`` is None, else the given (validated) indices."""
    if train_idx is None:
        return np.arange(len(store))
    idx = np.asarray(train_idx, dtype=np.int64)
    if idx.size == 0 or idx.min() < 0 or idx.max() >= len(store):
        raise InputError(store.path, f"train_idx must be non-empty indices into {len(store)} cells")
    return idx


def resize(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """Area-downsample / bilinear-upsample (B, C, h, w) to ``size`` (no-op when None or equal)."""
    if size is None or x.shape[-1] == size:
        return x
    if x.shape[-1] > size:
        return F.interpolate(x, size=(size, size), mode="area")
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def read_views(store: ViewSource, idx, views: str, size: int | None) -> torch.Tensor:
    """(n, C', s, s) float32 0-1: one view, or both resized to one side and stacked as channels
    (``size`` None: the morphology side for ``both``, the view's own side otherwise)."""
    if views == "morph":
        return resize(torch.from_numpy(store.read_morph(idx)), size)
    if views == "micro":
        return resize(torch.from_numpy(store.read_micro(idx)), size)
    side = size or store.morph_size
    m = resize(torch.from_numpy(store.read_morph(idx)), side)
    u = resize(torch.from_numpy(store.read_micro(idx)), side)
    return torch.cat([m, u], dim=1)


def view_channels(store: ViewSource, views: str) -> int:
    return store.n_channels * (2 if views == "both" else 1)


def chunks(n: int, batch_size: int) -> Iterator[np.ndarray]:
    """Consecutive index blocks covering ``range(n)``."""
    for s in range(0, n, batch_size):
        yield np.arange(s, min(s + batch_size, n))


def fit_loop(
    step: Callable[[np.ndarray], float],
    train_idx: np.ndarray,
    cfg: dict,
) -> dict:
    """Shuffled mini-batch epochs over ``train_idx`` calling ``step(batch_indices) -> loss`` until
    ``epochs``, ``max_steps`` or ``time_budget_s`` (whichever comes first). Returns a small log."""
    rng = np.random.default_rng(cfg.get("seed", 0))
    bs = min(int(cfg["batch_size"]), len(train_idx))
    max_steps = cfg.get("max_steps")
    budget = cfg.get("time_budget_s")
    t0, steps, losses = time.monotonic(), 0, []
    for _ in range(int(cfg["epochs"])):
        order = rng.permutation(train_idx)
        for s in range(0, len(order) - bs + 1, bs):  # drop the ragged last batch (BatchNorm-safe)
            losses.append(float(step(np.sort(order[s : s + bs]))))
            steps += 1
            if (max_steps is not None and steps >= max_steps) or (budget is not None and time.monotonic() - t0 >= budget):
                return {"steps": steps, "final_loss": losses[-1], "seconds": time.monotonic() - t0}
    return {"steps": steps, "final_loss": losses[-1] if losses else float("nan"), "seconds": time.monotonic() - t0}


@torch.no_grad()
def embed_batches(store: ViewSource, fn: Callable[[np.ndarray], torch.Tensor], batch_size: int) -> np.ndarray:
    """Concatenate ``fn(indices)`` (B, d) over every cell, in store order, as float32 numpy."""
    out = [fn(idx).float().cpu().numpy() for idx in chunks(len(store), batch_size)]
    return np.concatenate(out, axis=0).astype(np.float32)
