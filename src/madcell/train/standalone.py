"""One process's MAD training step with nothing around it (no store, loader, plan or checkpoints): what a
throughput or FLOP measurement times (``benchmarks/pretrain.py``, ``benchmarks/gpu_check.py``). It is built
by the functions a real run uses (:mod:`madcell.train.setup`), so it trains what ``pretrain`` trains."""

from __future__ import annotations

import torch

from madcell.train.distributed import DistInfo
from madcell.train.schedules import build_schedules
from madcell.train.setup import build_parts, make_context
from madcell.train.step import train_step


class StandaloneStep:
    """``step(views, it)``: one full step (multi-crop augmentation, teacher forward, student forward +
    backward, optimiser, EMA) on float 0-1 ``{"morph", "micro"}`` batches already on ``device``; returns
    the step's metrics. Schedules span ``total_iters`` steps of epochs of ``steps_per_epoch``;
    ``compile`` wraps both networks in ``torch.compile`` as ``train.compile`` does."""

    def __init__(self, cfg: dict, n_channels: int, sizes: dict[str, int], device: torch.device,
                 compile: bool = False, total_iters: int = 1000, steps_per_epoch: int = 1000, seed: int = 0):
        student, teacher = build_parts(cfg, n_channels, sizes)
        student.to(device).train()
        teacher.to(device).eval()
        self.n_params = sum(p.numel() for p in student.parameters())
        if compile:
            student, teacher = torch.compile(student), torch.compile(teacher)
        batch = int(cfg["train"]["batch_size"])
        sched = build_schedules(cfg, total_iters, steps_per_epoch, batch)
        gen = torch.Generator(device=device).manual_seed(seed)
        self.ctx = make_context(cfg, student, teacher, sched, sizes, device, DistInfo(), gen, steps_per_epoch)

    def __call__(self, views: dict[str, torch.Tensor], it: int) -> dict[str, float]:
        return train_step(self.ctx, views, it)
