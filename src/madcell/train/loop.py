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

import copy
import json
import os
import statistics
import time
from pathlib import Path
from typing import Callable

import torch

from madcell.config import save_config
from madcell.data.source import ViewSource, open_views
from madcell.errors import InputError
from madcell.models import build_multiview, export_teacher
from madcell.train import distributed as D
from madcell.train.checkpoint import all_finite, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from madcell.train.data import (batch_loader, batch_views, cached_source, epoch_batches, split_cells,
                               steps_per_epoch, use_device_cut)
from madcell.train.heldout import HeldOut
from madcell.train.monitor import CollapseWatch, MetricLog
from madcell.train.plan import Plan, plan_run
from madcell.train.progress import TrainProgress
from madcell.train.schedules import build_schedules, plot_schedules
from madcell.train.setup import build_parts, clone_context, make_context, probe_label_columns, view_sizes
from madcell.train.step import StepContext, train_step
from madcell.utils.atomic import atomic_write_text
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


# Keys a resumed run may change (``resume_overrides``): the optimiser's and the teacher's schedules and
# the logging cadence, e.g. a lower learning rate after the NaN guard stopped a run. Nothing that
# changes the model, the data order or the crops.
RESUMABLE = {
    "train": {"lr", "min_lr", "warmup_frac", "weight_decay", "weight_decay_end", "momentum_teacher",
              "momentum_teacher_end", "clip_grad", "log_every", "eval_every", "ckpt_every",
              "collapse_patience", "collapse_frac", "collapse_min_step"},
    "loss": {"teacher_temp", "warmup_teacher_temp", "warmup_teacher_temp_frac"},
}


def _with_defaults(cfg: dict, defaults: dict) -> dict:
    """``cfg`` with every key it lacks taken from ``defaults`` (recursively); present values are kept."""
    for k, v in defaults.items():
        if k not in cfg:
            cfg[k] = copy.deepcopy(v)
        elif isinstance(v, dict) and isinstance(cfg[k], dict):
            _with_defaults(cfg[k], v)
    return cfg


def _resume_config(saved: dict, overrides: dict | None) -> dict:
    """The run's saved config with the allowed ``overrides`` applied (type-checked like any override).
    Keys the saved config lacks (a run checkpointed by an older madcell) take today's defaults."""
    from madcell.config import default_config, merge

    cfg = _with_defaults(copy.deepcopy(saved), default_config())
    if not overrides:
        return cfg
    bad = [f"{sec}.{k}" if isinstance(d, dict) else sec for sec, d in overrides.items()
           for k in (d if isinstance(d, dict) else [None]) if k not in RESUMABLE.get(sec, ())]
    if bad:
        allowed = ", ".join(f"{s}.{k}" for s, ks in RESUMABLE.items() for k in sorted(ks))
        raise InputError("--set", f"{', '.join(bad)} cannot change when resuming (allowed: {allowed})")
    return merge(cfg, overrides, "--set on resume")


def pretrain(store: str | Path, cfg: dict, out_dir: str | Path, resume: bool = False, max_steps: int | None = None,
             init_weights: str | Path | None = None, progress: bool = True, stop_after: int | None = None,
             resume_overrides: dict | None = None) -> dict:
    """Pretrain MAD on ``store``; writes checkpoints, logs and ``export/`` under ``out_dir``.

    ``max_steps`` / ``init_weights`` override ``train.max_steps`` / ``model.init_weights``;
    ``train.time_budget_s`` plans the run to fit that wall time. ``resume`` continues the run in
    ``out_dir`` exactly (its own saved config and plan win), except for ``resume_overrides`` of the
    :data:`RESUMABLE` schedule keys (e.g. ``{"train": {"lr": 1e-4}}`` after a divergence), which apply
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


def _export(teacher_run, dist, cfg: dict, vs: ViewSource, sizes: dict[str, int], where: Path) -> str | None:
    """Export the teacher (every rank takes part in gathering it; the main rank writes ``where``)."""
    full = D.full_state_dict(teacher_run, dist)
    if not dist.is_main:
        return None
    net = build_multiview(cfg, vs.n_channels, max(sizes.values()))
    net.load_state_dict({k[len("net."):]: v for k, v in full.items()})
    return str(export_teacher(net, cfg, vs.channel_names, where, sizes["morph"], sizes["micro"],
                             (vs.morph_size, vs.micro_size)))


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


def _pretrain(store, cfg, out_dir, resume, max_steps, init_weights, progress, stop_after, resume_overrides=None) -> dict:
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    ckpt_path = out_dir / "checkpoints" / "last.pt"
    state = None
    if resume:
        state = load_checkpoint(ckpt_path)
        cfg = _resume_config(state["cfg"], resume_overrides)
    else:
        if ckpt_path.exists():
            raise InputError(out_dir, "already holds a run (checkpoints/last.pt); pass --resume or choose another --out")
        cfg = copy.deepcopy(cfg)
        if max_steps is not None:
            cfg["train"]["max_steps"] = int(max_steps)
        if init_weights is not None:
            cfg["model"]["init_weights"] = str(init_weights)
    tr = cfg["train"]
    vs = open_views(store)
    store_id = vs.identity()
    if state is not None and state.get("store") and state["store"] != store_id:
        diff = [k for k in store_id if state["store"].get(k) != store_id[k]]
        raise InputError(vs.path, f"is not the store this run was trained on ({', '.join(diff)} differ); resume "
                                  f"{out_dir} with its own store, or start a new run on this one")
    sizes = view_sizes(cfg, vs)
    labels = probe_label_columns(cfg, vs)

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

    # -- plan + schedules -------------------------------------------------------------------
    if state is not None:
        plan = Plan(**state["plan"])
        init_probe, start_it, elapsed_before = state["init_probe"], int(state["it"]), float(state["elapsed_s"])
    else:
        t_eval = time.perf_counter()
        init_probe = heldout.run(teacher, device, tr["precision"]) if dist.is_main or dist.mode == "fsdp" else {}
        t_eval = time.perf_counter() - t_eval
        start_it, elapsed_before = 0, 0.0
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

    def checkpoint(it: int) -> None:
        """Save the state after ``it`` completed steps, unless any weight is not finite."""
        ok = torch.tensor([float(all_finite(wrapped, teacher_run))], device=device)
        ok = float(D.all_reduce_mean(ok, dist)) == 1.0
        if not ok:
            return
        rngs = [rng_state(generator)]
        if dist.enabled:
            rngs = [None] * dist.world
            torch.distributed.all_gather_object(rngs, rng_state(generator))
        s = {"cfg": cfg, "plan": plan.as_dict(), "it": it, "world": dist.world, "init_probe": init_probe,
             "store": store_id,
             "elapsed_s": elapsed_before + time.perf_counter() - t_start,
             "student": D.full_state_dict(wrapped, dist), "teacher": D.full_state_dict(teacher_run, dist),
             "optimizer": D.optim_state_dict(wrapped, ctx.opt, dist), "loss": ctx.loss.state_dict(), "rng": rngs}
        if dist.is_main:
            save_checkpoint(ckpt_path, s)
        D.barrier(dist)

    # -- train ------------------------------------------------------------------------------
    total = plan.total_iters
    end = total if stop_after is None else min(total, int(stop_after))
    it, last_eval, metrics = start_it, dict(init_probe), {}
    snapshots = {int(v) for v in (tr["snapshot_steps"] or [])}
    window, t_window = [], time.perf_counter()
    bar = TrainProgress(total, start_it, enabled=progress and dist.is_main)
    watch = CollapseWatch(int(cfg["head"]["out_dim"]), float(tr["collapse_frac"]), int(tr["collapse_patience"]),
                          int(tr["collapse_min_step"]))
    try:
        while it < end:
            epoch, b0 = divmod(it, spe)
            batches = epoch_batches(train_idx, epoch, seed, batch, dist.rank, dist.world)[b0 : b0 + end - it]
            for data in batch_loader(source, batches, int(tr["num_workers"]), device_cut):
                metrics = train_step(ctx, batch_views(data, device), it)
                it += 1
                window.append(metrics)
                if it % int(tr["log_every"]) == 0 or it == end:
                    dt = time.perf_counter() - t_window
                    mean = {k: sum(m[k] for m in window) / len(window) for k in window[-1]}
                    mean["cells_per_s"] = len(window) * batch * dist.world / max(dt, 1e-9)
                    log.log(it, epoch, mean, prefix="train/")
                    window, t_window = [], time.perf_counter()
                    watch.update(it, mean)
                if len(heldout) >= 2 and (it % int(tr["eval_every"]) == 0 or it == total):
                    if dist.is_main or dist.mode == "fsdp":
                        last_eval = heldout.run(teacher_run, device, tr["precision"]) or last_eval
                    log.log(it, epoch, last_eval, prefix="eval/")
                if it in snapshots and it < total:  # before the checkpoint: a resume never skips one
                    _export(teacher_run, dist, cfg, vs, sizes, out_dir / "snapshots" / f"step_{it:06d}")
                if it % int(tr["ckpt_every"]) == 0 or it == end:
                    checkpoint(it)
                bar.update(it, metrics, last_eval)
    finally:
        bar.close()
        log.close()

    wall = time.perf_counter() - t_start
    summary = {"steps": it, "planned_steps": total, "plan": plan.as_dict(), "finished": it >= total,
               "wall_s": elapsed_before + wall, "session_wall_s": wall, "n_train_cells": int(len(train_idx)),
               "n_eval_cells": int(len(eval_idx)), "probe_labels": labels,
               "final_train": {k: v for k, v in metrics.items()}, "init_probe": init_probe, "final_probe": last_eval,
               "export": None}
    if it >= total:
        summary["export"] = _export(teacher_run, dist, cfg, vs, sizes, out_dir / "export")
    if dist.is_main:
        atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2, default=float))
    D.barrier(dist)
    return summary
