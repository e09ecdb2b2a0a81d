"""Teacher targets: centred sharpened softmax (DINO) or Sinkhorn-Knopp (DINOv2), and the temperature schedule.

Both keep the teacher from collapsing onto one prototype. Centering subtracts a running mean ``c`` of
the teacher logits before a low-temperature softmax; Sinkhorn-Knopp instead rescales ``exp(z / tau)``
so that every sample sums to 1 and every prototype gets an equal share of the batch. Under DDP the
batch statistics are all-reduced, so every rank sees the same centre / the same marginals.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist


def _dist_on() -> bool:
    return dist.is_available() and dist.is_initialized()


def _all_reduce(x: torch.Tensor, op=None) -> torch.Tensor:
    if _dist_on():
        dist.all_reduce(x, op=op or dist.ReduceOp.SUM)
    return x


def teacher_temp_schedule(
    warmup_teacher_temp: float, teacher_temp: float, warmup_iters: int, total_iters: int
) -> np.ndarray:
    """Per-iteration teacher temperature: linear warm-up over ``warmup_iters``, then constant."""
    total_iters, warmup_iters = max(int(total_iters), 1), max(int(warmup_iters), 0)
    warm = np.linspace(warmup_teacher_temp, teacher_temp, warmup_iters) if warmup_iters else np.empty(0)
    rest = np.full(max(total_iters - warmup_iters, 0), float(teacher_temp))
    return np.concatenate([warm, rest])[:total_iters].astype(np.float64)


def centered_softmax(logits: torch.Tensor, center: torch.Tensor, temp: float) -> torch.Tensor:
    """``softmax((z - c) / temp)`` over the last dim, in float32."""
    return torch.softmax((logits.float() - center) / temp, dim=-1)


@torch.no_grad()
def sinkhorn_knopp(logits: torch.Tensor, temp: float, n_iters: int = 3) -> torch.Tensor:
    """Sinkhorn-Knopp targets for ``logits`` ``(N, K)``: rows sum to 1, columns to about N/K.

    Follows dinov2's ``sinkhorn_knopp_teacher``, except that each sample's max logit is subtracted
    first: ``exp`` can then neither overflow nor underflow to an all-zero sample at small temperatures.
    That is a per-sample scale factor, which the per-sample normalisation absorbs (exactly at
    convergence, to within the first iteration's weighting otherwise).
    """
    z = logits.float()
    q = torch.exp((z - z.max(dim=1, keepdim=True).values) / temp).t()  # (K, N)
    world = dist.get_world_size() if _dist_on() else 1
    n_total, k = q.shape[1] * world, q.shape[0]
    q /= _all_reduce(q.sum())
    for _ in range(int(n_iters)):
        q /= _all_reduce(q.sum(dim=1, keepdim=True)).clamp_min(1e-30)
        q /= k
        q /= q.sum(dim=0, keepdim=True).clamp_min(1e-30)
        q /= n_total
    q *= n_total
    return q.t()


@torch.no_grad()
def ema_center_update(center: torch.Tensor, logits: torch.Tensor, momentum: float) -> None:
    """``center <- m * center + (1 - m) * mean(logits)`` with the mean over all ranks (in place)."""
    flat = logits.detach().float().reshape(-1, logits.shape[-1])
    total = _all_reduce(flat.sum(dim=0, keepdim=True))
    count = _all_reduce(torch.tensor(float(flat.shape[0]), device=flat.device))
    center.mul_(momentum).add_(total / count, alpha=1.0 - momentum)
