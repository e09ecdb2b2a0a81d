"""``pretrain``: MAD self-distillation on a view store, resumable, single- or multi-process.

Order of one run: read the store and split off the held-out monitoring cells -> build student/teacher
(seeded, identical on every rank) -> probe the untrained teacher on the held-out cells (the baseline)
-> plan the run length (epochs / max_steps / time budget) and precompute every schedule -> train,
logging every ``log_every`` steps, probing every ``eval_every``, checkpointing every ``ckpt_every``
(only finite states) -> final checkpoint, teacher export, ``summary.json``.
A resumed run restores the checkpoint (plan, weights, optimiser, loss centre, every RNG) and continues
at the exact batch it stopped before, so interrupted and uninterrupted runs end with equal weights.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Callable

import torch

from madcell.config import save_config
from madcell.data.source import ViewSource, open_views
from madcell.errors import InputError
from madcell.train import distributed as D
from madcell.train.checkpoint import last_checkpoint, set_rng_state
from madcell.train.data import (batch_loader, batch_views, cached_source, epoch_batches, split_cells,
                               steps_per_epoch, use_device_cut)
from madcell.train.heldout import HeldOut
from madcell.train.monitor import MetricLog
from madcell.train.plan import Plan, plan_run
from madcell.train.resume import run_config
from madcell.train.schedules import build_schedules, plot_schedules
from madcell.train.session import Session
from madcell.train.setup import build_parts, clone_context, make_context, probe_label_columns, view_sizes
from madcell.train.step import StepContext, train_step
from madcell.utils.device import pick_device


def _time_steps(ctx: StepContext, cfg: dict, load: Callable[[], dict], n: int = 4) -> float:
    """Seconds per step (batch reading included), measured on a throw-away copy: the run's own
    state and RNGs are untouched. The median of the steps after the first (warm-up) one."""
    g = torch.Generator(device=ctx.device).manual_seed(12345)
    tmp = clone_context(ctx, g, cfg)
    devs = [ctx.device.index or 0] if ctx.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devs):
        times = []
        for i in range(n):
            t = time.perf_counter()
            train_step(tmp, load(), i)
            if ctx.device.type == "cuda":
                torch.cuda.synchronize(ctx.device)
            times.append(time.perf_counter() - t)
    del tmp
    return float(statistics.median(times[1:])) if n > 1 else times[0]


def pretrain(store: str | Path, cfg: dict, out_dir: str | Path, resume: bool = False, max_steps: int | None = None,
             init_weights: str | Path | None = None, progress: bool = True, stop_after: int | None = None,
             resume_overrides: dict | None = None) -> dict:
    """Pretrain MAD on ``store``; writes checkpoints, logs and ``export/`` under ``out_dir``.

    ``max_steps`` / ``init_weights`` override ``train.max_steps`` / ``model.init_weights``;
    ``train.time_budget_s`` plans the run to fit that wall time. ``resume`` continues the run in
    ``out_dir`` exactly (its own saved config and plan win), except for ``resume_overrides`` of the
    :data:`madcell.train.resume.RESUMABLE` schedule keys (e.g. ``{"train": {"lr": 1e-4}}`` after a divergence), which apply
    from the resumed step on. ``stop_after`` ends the session after
    that many completed steps with a checkpoint but no export (an interruption, for tests).
    Returns the summary (also written to ``summary.json``).
    """
    owned = not (torch.distributed.is_available() and torch.distributed.is_initialized())
    try:
        return _pretrain(store, cfg, out_dir, resume, max_steps, init_weights, progress, stop_after, resume_overrides)
    finally:
        if owned and torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _check_plan(plan, tr: dict, overhead_s: float) -> None:
    """Refuse a time budget that leaves fewer than ``train.min_steps`` steps: such a run would export a
    teacher still in its learning-rate warm-up (effectively untrained) and say nothing."""
    need = int(tr["min_steps"] or 0)
    if plan.reason != "time_budget" or plan.total_iters >= need:
        return
    per_step = plan.sec_per_step + (plan.sec_per_eval / int(tr["eval_every"]) if plan.sec_per_eval and int(tr["eval_every"]) else 0.0)
    enough = overhead_s + (need * per_step + (plan.sec_per_eval or 0.0)) / 0.9
    raise InputError("--time-budget", f"{float(tr['time_budget_s']):g} s leaves {plan.total_iters} optimiser step(s) after "
                     f"{overhead_s:.0f} s of setup ({plan.sec_per_step:.2f} s per step measured here): the learning "
                     f"rate would not get through its warm-up and the exported teacher would be untrained. Give at "
                     f"least ~{enough:.0f} s, or --max-steps {need} without a budget (train.min_steps={need}; "
                     "--set train.min_steps=0 accepts any length)")


def _open_store(store, state: dict | None, out_dir: Path) -> tuple[ViewSource, dict]:
    """The store and its identity; on resume it must be the store the run trained on."""
    vs = open_views(store)
    store_id = vs.identity()
    if state is not None and state.get("store") and state["store"] != store_id:
        diff = [k for k in store_id if state["store"].get(k) != store_id[k]]
        raise InputError(vs.path, f"is not the store this run was trained on ({', '.join(diff)} differ); resume "
                                  f"{out_dir} with its own store, or start a new run on this one")
    return vs, store_id


def _start_processes(tr: dict, state: dict | None, ckpt_path: Path):
    """(device, process group info), after checking the distributed settings against this machine."""
    device = pick_device(None)
    mode = str(tr["distributed"])
    if mode not in ("auto", "ddp", "fsdp", "none"):
        raise InputError("train.distributed", f"must be auto, ddp, fsdp or none, not '{mode}'")
    if str(tr["view_cut"]) not in ("auto", "cpu", "device"):
        raise InputError("train.view_cut", f"must be auto, cpu or device, not '{tr['view_cut']}'")
    if mode == "fsdp" and device.type != "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise InputError("train.distributed", "fsdp needs CUDA GPUs (torch's FSDP has no CPU backend); use ddp on CPU")
    dist = D.init_distributed(mode, device.type)
    if device.type == "cuda" and dist.enabled:
        device = torch.device("cuda", dist.local_rank)
    if dist.mode == "fsdp" and tr["time_budget_s"] is not None and state is None:
        raise InputError("train.time_budget_s", "is not supported with train.distributed=fsdp; use train.max_steps")
    if state is not None and state["world"] != dist.world:
        raise InputError(ckpt_path, f"was written by {state['world']} processes; resume with the same number")
    return device, dist


def _plan(cfg, student, teacher, sizes, device, dist, generator, spe, train_idx, source, device_cut, heldout,
          t_start) -> tuple[Plan, dict]:
    """A new run's plan (epochs / max_steps / time budget, timing a few throw-away steps for a budget) and
    the untrained teacher's held-out probe (the baseline)."""
    tr = cfg["train"]
    seed, batch = int(tr["seed"]), int(tr["batch_size"])
    t_eval = time.perf_counter()
    init_probe = heldout.run(teacher, device, tr["precision"]) if dist.is_main or dist.mode == "fsdp" else {}
    t_eval = time.perf_counter() - t_eval
    provisional = plan_run(int(tr["epochs"]), spe, tr["max_steps"])
    sec_step = None
    if tr["time_budget_s"] is not None:
        sched0 = build_schedules(cfg, provisional.total_iters, spe, batch * dist.world)
        ctx0 = make_context(cfg, student, teacher, sched0, sizes, device, dist, generator, spe)
        first = epoch_batches(train_idx, 0, seed, batch, dist.rank, dist.world)[0]
        sec_step = _time_steps(ctx0, cfg, lambda: batch_views(next(iter(batch_loader(source, [first], 0, device_cut))), device))
        sec_step = float(D.all_reduce_mean(torch.tensor([sec_step], device=device), dist).max())
    plan = plan_run(int(tr["epochs"]), spe, tr["max_steps"], tr["time_budget_s"], sec_step,
                    t_eval if len(heldout) >= 2 else 0.0, int(tr["eval_every"]),
                    elapsed_s=time.perf_counter() - t_start, reserve_s=2.0 + t_eval, safety=0.9)
    _check_plan(plan, tr, time.perf_counter() - t_start + 2.0 + t_eval)
    return plan, init_probe


def _pretrain(store, cfg, out_dir, resume, max_steps, init_weights, progress, stop_after, resume_overrides=None) -> dict:
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    ckpt_path = last_checkpoint(out_dir)
    cfg, state = run_config(cfg, out_dir, ckpt_path, resume, max_steps, init_weights, resume_overrides)
    tr = cfg["train"]
    vs, store_id = _open_store(store, state, out_dir)
    sizes = view_sizes(cfg, vs)
    labels = probe_label_columns(cfg, vs)
    device, dist = _start_processes(tr, state, ckpt_path)
    seed, batch = int(tr["seed"]), int(tr["batch_size"])

    train_idx, eval_idx = split_cells(len(vs), int(tr["eval_cells"]), seed)
    spe = steps_per_epoch(len(train_idx), batch, dist.world)
    if spe < 1:
        raise InputError(vs.path, f"has {len(train_idx)} training cells: fewer than one batch of {batch} x {dist.world} processes (lower train.batch_size)")
    student, teacher = build_parts(cfg, vs.n_channels, sizes)
    student.to(device).train()
    teacher.to(device).eval()
    heldout = HeldOut(vs, eval_idx, labels, sizes, knn_k=int(cfg["evaluate"]["knn_k"]), seed=seed)
    source = cached_source(vs, tr["cache_mb"])
    device_cut = use_device_cut(str(tr["view_cut"]), source, device)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed * 1000 + dist.rank)
    torch.manual_seed(seed * 1000 + dist.rank)

    if state is not None:
        plan, init_probe = Plan(**state["plan"]), state["init_probe"]
        start_it, elapsed_before = int(state["it"]), float(state["elapsed_s"])
    else:
        plan, init_probe = _plan(cfg, student, teacher, sizes, device, dist, generator, spe, train_idx, source,
                                 device_cut, heldout, t_start)
        start_it, elapsed_before = 0, 0.0
    sched = build_schedules(cfg, plan.total_iters, spe, batch * dist.world)

    wrapped = D.wrap(student, dist, device)
    teacher_run = D.fsdp_wrap(teacher, device) if dist.mode == "fsdp" else teacher
    if tr["compile"]:
        wrapped, teacher_run = torch.compile(wrapped), torch.compile(teacher_run)
    ctx = make_context(cfg, wrapped, teacher_run, sched, sizes, device, dist, generator, spe)
    if state is not None:
        D.load_full_state_dict(wrapped, state["student"], dist)
        D.load_full_state_dict(teacher_run, state["teacher"], dist)
        D.load_optim_state_dict(wrapped, ctx.opt, state["optimizer"], dist)
        ctx.loss.load_state_dict(state["loss"])
        set_rng_state(state["rng"][dist.rank], generator)

    if dist.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out_dir / "config.yaml")
        plot_schedules(sched, out_dir / "schedules.png")
    log = MetricLog(out_dir, enabled=dist.is_main, resume_step=start_it if state is not None else None)
    if state is None and init_probe:
        log.log(0, 0, init_probe, prefix="init/")
        log.log(0, 0, init_probe, prefix="eval/")

    session = Session(cfg, out_dir, vs, source, store_id, sizes, labels, dist, device, ctx, generator, device_cut,
                      train_idx, eval_idx, heldout, plan, init_probe, elapsed_before, t_start)
    return session.finish(*session.train(start_it, stop_after, log, progress))
