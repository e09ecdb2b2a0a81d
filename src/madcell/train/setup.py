"""Building a run's parts from the config: sizes, networks, loss, augmentation, probe labels.

Kept apart from the loop so the time-budget planner (which needs a throw-away copy of the step) and
:class:`madcell.train.StandaloneStep` (what the benchmarks time) build exactly what a real run trains.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from madcell.augment import MultiCropAugment
from madcell.data.source import ViewSource
from madcell.errors import InputError
from madcell.losses import KoLeoLoss, MADLoss
from madcell.models import build_student_teacher
from madcell.train.optim import build_optimizer
from madcell.train.schedules import Schedules
from madcell.train.step import StepContext, ViewsForward


def view_sizes(cfg: dict, store: ViewSource) -> dict[str, int]:
    """Training sizes of the two views (``augment.*_size``, else the store's), validated."""
    patch = int(cfg["model"]["patch_size"])
    sizes = {"morph": int(cfg["augment"]["morph_size"] or store.morph_size),
             "micro": int(cfg["augment"]["micro_size"] or store.micro_size)}
    for v, s in sizes.items():
        if s % patch:
            raise InputError(f"augment.{v}_size", f"training size {s} is not a multiple of the patch size {patch}")
    return sizes


def probe_label_columns(cfg: dict, store: ViewSource, max_classes: int = 50) -> list[str]:
    """Label columns for the kNN probe: ``train.probe_labels``, else every categorical obs column."""
    wanted = cfg["train"]["probe_labels"]
    if wanted is not None:
        missing = [c for c in wanted if c not in store.label_columns]
        if missing:
            raise InputError(store.path, f"has no label column(s) {missing} (train.probe_labels); it has {store.label_columns}")
        return list(wanted)
    obs = store.obs
    cols = []
    for c in store.label_columns:
        s = obs[c]
        if s.dtype.kind in "OSUb" or (s.dtype.kind in "iu" and s.nunique() <= max_classes):
            if 2 <= s.nunique() <= max(max_classes, 2):
                cols.append(c)
    return cols


def build_loss(cfg: dict, sched: Schedules) -> MADLoss:
    ls = cfg["loss"]
    weights = {"mu": 0.0, "um": 0.0} if cfg["train"]["views"] == "separate" else None
    return MADLoss(int(cfg["head"]["out_dim"]), float(ls["alpha"]), float(ls["student_temp"]), sched.teacher_temp,
                   str(ls["centering"]), float(ls["center_momentum"]), int(ls["sinkhorn_iters"]), weights=weights,
                   center_per_view=bool(ls.get("center_per_view", False)))


def build_parts(cfg: dict, in_chans: int, sizes: dict[str, int]) -> tuple[ViewsForward, ViewsForward]:
    """Student and teacher (seeded by ``train.seed``, identical on every rank), wrapped for the step."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(cfg["train"]["seed"]))
        student, teacher = build_student_teacher(cfg, in_chans, max(sizes.values()))
    return ViewsForward(student), ViewsForward(teacher)


def make_context(cfg: dict, student: torch.nn.Module, teacher: torch.nn.Module, sched: Schedules,
                 sizes: dict[str, int], device: torch.device, dist: Any, generator: torch.Generator,
                 steps_per_epoch: int, opt: torch.optim.Optimizer | None = None,
                 loss: MADLoss | None = None) -> StepContext:
    tr = cfg["train"]
    net = student.module.net if hasattr(student, "module") else getattr(student, "net", None)
    if net is None:  # FSDP / compiled: reach the MultiViewNet through the wrapper chain
        from madcell.train.distributed import unwrap

        net = unwrap(student).net
    if opt is None:
        opt = build_optimizer(student, tr["layer_decay"], int(net.spec["depth"]))
    kw = float(cfg["loss"]["koleo_weight"])
    precision = str(tr["precision"])
    if precision not in ("auto", "fp32", "bf16"):
        raise InputError("train.precision", f"must be auto, fp32 or bf16, not '{precision}'")
    return StepContext(
        student=student, teacher=teacher, loss=loss if loss is not None else build_loss(cfg, sched).to(device),
        koleo=KoLeoLoss() if kw > 0 else None, koleo_weight=kw,
        augment=MultiCropAugment(cfg["augment"], sizes["morph"], sizes["micro"], int(cfg["model"]["patch_size"])),
        opt=opt, sched=sched,
        freeze_iters=sched.freeze_iters,
        clip_grad=float(tr["clip_grad"] or 0.0), device=device, precision=precision, dist=dist,
        generator=generator, teacher_views=tuple(net.teacher_views), student_views=tuple(net.student_views),
    )


def clone_context(ctx: StepContext, generator: torch.Generator, cfg: dict) -> StepContext:
    """An independent copy of ``ctx`` (networks, optimiser, loss) for throw-away timing steps."""
    from madcell.train.distributed import DistInfo

    student, teacher = copy.deepcopy(ctx.student), copy.deepcopy(ctx.teacher)
    opt = build_optimizer(student, cfg["train"]["layer_decay"], int(student.net.spec["depth"]))
    return StepContext(**{**ctx.__dict__, "student": student, "teacher": teacher, "opt": opt,
                          "loss": copy.deepcopy(ctx.loss), "generator": generator, "dist": DistInfo()})
