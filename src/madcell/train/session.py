"""One training session once everything is built (:func:`madcell.train.loop.pretrain` builds it): the step
loop with its logging, held-out probes, snapshots and finite-only checkpoints, then the teacher export and
``summary.json``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from madcell.data.source import ViewSource
from madcell.models import build_multiview, export_teacher
from madcell.train import distributed as D
from madcell.train.checkpoint import all_finite, last_checkpoint, rng_state, save_checkpoint
from madcell.train.data import batch_loader, batch_views, epoch_batches
from madcell.train.heldout import HeldOut
from madcell.train.monitor import CollapseWatch, MetricLog
from madcell.train.plan import Plan
from madcell.train.progress import TrainProgress
from madcell.train.step import StepContext, train_step
from madcell.utils.atomic import atomic_write_text


def export_run(teacher_run, dist, cfg: dict, vs: ViewSource, sizes: dict[str, int], where: Path) -> str | None:
    """Export the teacher (every rank takes part in gathering it; the main rank writes ``where``)."""
    full = D.full_state_dict(teacher_run, dist)
    if not dist.is_main:
        return None
    net = build_multiview(cfg, vs.n_channels, max(sizes.values()))
    net.load_state_dict({k[len("net."):]: v for k, v in full.items()})
    return str(export_teacher(net, cfg, vs.channel_names, where, sizes["morph"], sizes["micro"],
                             (vs.morph_size, vs.micro_size)))


@dataclass
class Session:
    cfg: dict
    out_dir: Path
    vs: ViewSource            # the store (identity, export metadata)
    source: ViewSource        # what batches are read from (the store, or its in-memory copy)
    store_id: dict
    sizes: dict[str, int]
    labels: list[str]
    dist: D.DistInfo
    device: torch.device
    ctx: StepContext          # wrapped student + teacher, optimiser, loss, schedules
    generator: torch.Generator
    device_cut: bool
    train_idx: np.ndarray
    eval_idx: np.ndarray
    heldout: HeldOut
    plan: Plan
    init_probe: dict
    elapsed_before: float     # wall seconds of earlier sessions of this run
    t_start: float

    @property
    def ckpt_path(self) -> Path:
        return last_checkpoint(self.out_dir)

    def checkpoint(self, it: int) -> None:
        """Save the state after ``it`` completed steps, unless any weight is not finite."""
        ctx, dist = self.ctx, self.dist
        ok = torch.tensor([float(all_finite(ctx.student, ctx.teacher))], device=self.device)
        if float(D.all_reduce_mean(ok, dist)) != 1.0:
            return
        rngs = [rng_state(self.generator)]
        if dist.enabled:
            rngs = [None] * dist.world
            torch.distributed.all_gather_object(rngs, rng_state(self.generator))
        s = {"cfg": self.cfg, "plan": self.plan.as_dict(), "it": it, "world": dist.world, "init_probe": self.init_probe,
             "store": self.store_id, "elapsed_s": self.elapsed_before + time.perf_counter() - self.t_start,
             "student": D.full_state_dict(ctx.student, dist), "teacher": D.full_state_dict(ctx.teacher, dist),
             "optimizer": D.optim_state_dict(ctx.student, ctx.opt, dist), "loss": ctx.loss.state_dict(), "rng": rngs}
        if dist.is_main:
            save_checkpoint(self.ckpt_path, s)
        D.barrier(dist)

    def train(self, start_it: int, stop_after: int | None, log: MetricLog, progress: bool) -> tuple[int, dict, dict]:
        """Steps ``start_it`` .. the plan's end (or ``stop_after``); returns (steps done, last train
        metrics, last held-out probe)."""
        cfg, tr, dist, ctx = self.cfg, self.cfg["train"], self.dist, self.ctx
        seed, batch, spe = int(tr["seed"]), int(tr["batch_size"]), self.plan.steps_per_epoch
        total = self.plan.total_iters
        end = total if stop_after is None else min(total, int(stop_after))
        it, last_eval, metrics = start_it, dict(self.init_probe), {}
        snapshots = {int(v) for v in (tr["snapshot_steps"] or [])}
        window, t_window = [], time.perf_counter()
        bar = TrainProgress(total, start_it, enabled=progress and dist.is_main)
        watch = CollapseWatch(int(cfg["head"]["out_dim"]), float(tr["collapse_frac"]), int(tr["collapse_patience"]),
                              int(tr["collapse_min_step"]))
        try:
            while it < end:
                epoch, b0 = divmod(it, spe)
                batches = epoch_batches(self.train_idx, epoch, seed, batch, dist.rank, dist.world)[b0 : b0 + end - it]
                for data in batch_loader(self.source, batches, int(tr["num_workers"]), self.device_cut):
                    metrics = train_step(ctx, batch_views(data, self.device), it)
                    it += 1
                    window.append(metrics)
                    if it % int(tr["log_every"]) == 0 or it == end:
                        dt = time.perf_counter() - t_window
                        mean = {k: sum(m[k] for m in window) / len(window) for k in window[-1]}
                        mean["cells_per_s"] = len(window) * batch * dist.world / max(dt, 1e-9)
                        log.log(it, epoch, mean, prefix="train/")
                        window, t_window = [], time.perf_counter()
                        watch.update(it, mean)
                    if len(self.heldout) >= 2 and (it % int(tr["eval_every"]) == 0 or it == total):
                        if dist.is_main or dist.mode == "fsdp":
                            last_eval = self.heldout.run(ctx.teacher, self.device, tr["precision"]) or last_eval
                        log.log(it, epoch, last_eval, prefix="eval/")
                    if it in snapshots and it < total:  # before the checkpoint: a resume never skips one
                        export_run(ctx.teacher, dist, cfg, self.vs, self.sizes, self.out_dir / "snapshots" / f"step_{it:06d}")
                    if it % int(tr["ckpt_every"]) == 0 or it == end:
                        self.checkpoint(it)
                    bar.update(it, metrics, last_eval)
        finally:
            bar.close()
            log.close()
        return it, metrics, last_eval

    def finish(self, it: int, metrics: dict, last_eval: dict) -> dict:
        """Export the teacher when the plan is done; write and return ``summary.json``."""
        wall = time.perf_counter() - self.t_start
        total = self.plan.total_iters
        summary = {"steps": it, "planned_steps": total, "plan": self.plan.as_dict(), "finished": it >= total,
                   "wall_s": self.elapsed_before + wall, "session_wall_s": wall, "n_train_cells": int(len(self.train_idx)),
                   "n_eval_cells": int(len(self.eval_idx)), "probe_labels": self.labels,
                   "final_train": dict(metrics), "init_probe": self.init_probe, "final_probe": last_eval, "export": None}
        if it >= total:
            summary["export"] = export_run(self.ctx.teacher, self.dist, self.cfg, self.vs, self.sizes, self.out_dir / "export")
        if self.dist.is_main:
            atomic_write_text(self.out_dir / "summary.json", json.dumps(summary, indent=2, default=float))
        D.barrier(self.dist)
        return summary
