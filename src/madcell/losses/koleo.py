"""KoLeo regulariser (dinov2): spread the student's CLS tokens by maximising nearest-neighbour distances.

``-mean log ||x_i - x_nn(i)||`` on L2-normalised features. Guarded for tiny batches: with fewer than
two points there is no neighbour and the loss is 0; duplicated points give distance 0, so ``eps`` keeps
the log finite.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class KoLeoLoss(nn.Module):
    """``forward(x)``: ``x`` is ``(B, D)`` or ``(n_crops, B, D)`` (KoLeo per crop, averaged)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def _one(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if n < 2:
            return x.float().sum() * 0.0
        x = F.normalize(x.float(), p=2, dim=-1, eps=self.eps)
        with torch.no_grad():
            dots = x @ x.t()
            dots.view(-1)[:: n + 1].fill_(-2.0)  # never pick yourself
            nn_idx = dots.argmax(dim=1)
        dist = (x - x[nn_idx]).pow(2).sum(-1).add(self.eps).sqrt()
        return -torch.log(dist + self.eps).mean()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            if x.ndim == 2:
                return self._one(x)
            return torch.stack([self._one(c) for c in x]).mean()
