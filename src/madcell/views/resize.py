"""Batched resizing and quantisation of views (torch on CPU, one thread per worker process).

Images use bilinear interpolation, antialiased when shrinking (``antialias=True`` is a triangle
filter as wide as the shrink factor, i.e. close to area averaging; when enlarging it is exactly
bilinear, so the slower antialias kernel is skipped). Masks use nearest-exact so a cell's outline
stays binary and every pixel outside it is exactly 0.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from madcell.utils.device import torch_threads  # noqa: F401  (re-exported)
import torch.nn.functional as F

BATCH_ELEMENTS = 1 << 24  # floats per resize call (bounds the memory of one batch)


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, C, h, w) float32 -> (N, C, *size), bilinear, antialiased when shrinking."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = x.shape[-2] > size[0] or x.shape[-1] > size[1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)


def resize_mask(m: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, 1, h, w) float 0/1 -> (N, 1, *size) nearest-exact."""
    if tuple(m.shape[-2:]) == tuple(size):
        return m
    return F.interpolate(m, size=size, mode="nearest-exact")


def quantize(x: torch.Tensor, dtype: str) -> np.ndarray:
    """0-1 float tensor -> uint8 (0-255, rounded) or float16 numpy array."""
    if dtype == "uint8":
        return x.mul(255.0).round_().clamp_(0, 255).to(torch.uint8).numpy()
    return x.clamp(0, 1).to(torch.float16).numpy()


def batches(n: int, per_item: int) -> Iterator[slice]:
    """Slices of ``range(n)`` holding at most BATCH_ELEMENTS floats each (at least one item)."""
    step = max(1, BATCH_ELEMENTS // max(1, per_item))
    for s in range(0, n, step):
        yield slice(s, min(s + step, n))


