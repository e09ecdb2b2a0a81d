"""One MAD optimisation step: augment -> teacher (global crops) -> student (all crops) -> loss -> update.

The student's whole multi-view forward is a single ``nn.Module`` call (:class:`ViewsForward`), so DDP
and FSDP see exactly one forward per backward whatever the views mode. Teacher and student use the
same wrapper class, so their parameter lists line up one to one for the EMA update (also when both are
sharded by FSDP).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from madcell.models import MultiViewNet, update_teacher
from madcell.train import distributed as D
from madcell.train.monitor import check_finite, teacher_stats
from madcell.train.optim import apply_schedules
from madcell.train.schedules import Schedules
from madcell.utils.device import autocast


class ViewsForward(nn.Module):
    """``forward({view: [crops]}) -> {view: (n_crops, B, K)}``, or CLS tokens ``{view: (B, D)}``
    of ``{view: images}`` with ``embed=True``; ``with_cls`` also returns the crops' CLS tokens."""

    def __init__(self, net: MultiViewNet):
        super().__init__()
        self.net = net

    def forward(self, crops: dict[str, list[torch.Tensor]], embed: bool = False, with_cls: bool = False):
        if embed:
            return {v: self.net.embed(x, v) for v, x in crops.items()}
        out, cls = {}, {}
        for v, cs in crops.items():
            logits, c = self.net(cs, v, return_cls=True)
            out[v] = logits.reshape(len(cs), cs[0].shape[0], -1)
            cls[v] = c.reshape(len(cs), cs[0].shape[0], -1)
        return (out, cls) if with_cls else out


@dataclass
class StepContext:
    """Everything a step needs besides the batch (built once by the loop)."""

    student: nn.Module          # ViewsForward, possibly DDP/FSDP-wrapped
    teacher: nn.Module          # ViewsForward, possibly FSDP-wrapped
    loss: nn.Module             # MADLoss
    koleo: nn.Module | None
    koleo_weight: float
    augment: Callable
    opt: torch.optim.Optimizer
    sched: Schedules
    freeze_iters: int
    clip_grad: float
    device: torch.device
    precision: str
    dist: D.DistInfo
    generator: torch.Generator
    teacher_views: tuple[str, ...]
    student_views: tuple[str, ...]
    extra: dict = field(default_factory=dict)


def _crops(ctx: StepContext, views: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    glob, loc = {}, {}
    for v in sorted(set(ctx.teacher_views) | set(ctx.student_views)):
        g, l = ctx.augment(views[v], v, ctx.generator)
        glob[v], loc[v] = list(g), list(l)
    return glob, loc


def train_step(ctx: StepContext, views: dict[str, torch.Tensor], it: int) -> dict[str, float]:
    """Run iteration ``it`` on a batch of float views; returns its metrics (floats).

    Raises :class:`madcell.errors.TrainingDiverged` before the update when the loss, a loss term or
    the gradient norm is not finite (on every rank together), so no bad state is ever applied.
    """
    sv = apply_schedules(ctx.opt, ctx.sched, it)
    glob, loc = _crops(ctx, views)
    with autocast(ctx.device, ctx.precision):
        with torch.no_grad():
            t_out = ctx.teacher({v: glob[v] for v in ctx.teacher_views})
        s_out, s_cls = ctx.student({v: glob[v] + loc[v] for v in ctx.student_views}, with_cls=True)
        loss, terms = ctx.loss(s_out, t_out, it)
        if ctx.koleo is not None and ctx.koleo_weight > 0:
            n_g = len(glob[ctx.student_views[0]])
            kol = sum(ctx.koleo(s_cls[v][:n_g]) for v in ctx.student_views) / len(ctx.student_views)
            terms = {**terms, "koleo": kol}
            loss = loss + ctx.koleo_weight * kol
    values = {"loss": loss.detach().float()}
    values.update({f"loss_{k}": torch.as_tensor(t).detach().float() for k, t in terms.items()})
    stacked = D.all_reduce_mean(torch.stack(list(values.values())).to(ctx.device), ctx.dist).cpu()
    metrics = {k: float(x) for k, x in zip(values, stacked)}
    check_finite(metrics, it, sv["lr"])

    ctx.opt.zero_grad(set_to_none=True)
    loss.backward()
    if it < ctx.freeze_iters:
        D.unwrap(ctx.student).net.cancel_last_layer_grads()
    params = [p for g in ctx.opt.param_groups for p in g["params"] if p.grad is not None]
    if ctx.dist.mode == "fsdp":
        gnorm = ctx.student.clip_grad_norm_(ctx.clip_grad if ctx.clip_grad else float("inf"))
    else:
        gnorm = torch.nn.utils.clip_grad_norm_(params, ctx.clip_grad if ctx.clip_grad else float("inf"))
    metrics["grad_norm"] = float(gnorm)
    check_finite({"grad_norm": metrics["grad_norm"]}, it, sv["lr"])
    ctx.opt.step()
    update_teacher(ctx.student if ctx.dist.mode == "fsdp" else D.unwrap(ctx.student), ctx.teacher, sv["mom"])

    first = t_out[ctx.teacher_views[0]]
    metrics.update(teacher_stats(first, ctx.loss.center_of(ctx.teacher_views[0]), sv["teacher_temp"]))
    metrics.update(lr=sv["lr"], wd=sv["wd"], momentum=sv["mom"], teacher_temp=sv["teacher_temp"])
    return metrics
