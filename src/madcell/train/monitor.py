"""Training monitoring: collapse signals, the NaN/inf guard and the metric logs.

DINO-style training fails quietly: the teacher either collapses to one prototype (every cell gets the
same distribution: KL(mean teacher || uniform) -> log K) or to the uniform distribution (per-cell
entropy -> log K). Both are logged every ``log_every`` steps. A non-finite loss term or gradient stops
the run at once with a diagnosis, before any bad state can reach a checkpoint.
Metrics go to ``metrics.csv`` (long format: step, epoch, name, value) and to TensorBoard (``tb/``).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import torch

from madcell.errors import TrainingCollapsed, TrainingDiverged
from madcell.utils.atomic import atomic_write_text


@torch.no_grad()
def teacher_stats(teacher_logits: torch.Tensor, center: torch.Tensor | None, temp: float) -> dict[str, float]:
    """Mean per-cell entropy of the teacher distribution and KL(batch-mean distribution || uniform)."""
    t = teacher_logits.float().reshape(-1, teacher_logits.shape[-1])
    if center is not None:
        t = t - center.float().reshape(1, -1)
    logp = torch.log_softmax(t / temp, dim=-1)
    p = logp.exp()
    ent = -(p * logp).sum(-1).mean()
    mean_p = p.mean(0).clamp_min(1e-12)
    kl_uniform = (mean_p * mean_p.log()).sum() + math.log(t.shape[-1])
    return {"teacher_entropy": float(ent), "teacher_kl_uniform": float(kl_uniform)}


def check_finite(values: dict[str, float], step: int, lr: float) -> None:
    """Raise :class:`TrainingDiverged` naming the first non-finite entry of ``values``."""
    for name, v in values.items():
        if not math.isfinite(v):
            raise TrainingDiverged(
                f"training diverged at step {step}: {name} = {v} (lr {lr:.3g}); no non-finite state was saved "
                "(checkpoints/last.pt, when one was written, is the last good state): resume it with a lower "
                "learning rate, e.g. `madcell pretrain STORE --out RUN --resume --set train.lr=...`, or, if there is "
                "no checkpoint yet, start again with a lower train.lr / higher train.warmup_frac")


class CollapseWatch:
    """Stop a run whose teacher has collapsed, with a diagnosis (like the NaN guard).

    Collapse to one prototype: KL(batch-mean teacher distribution || uniform) >= ``frac`` x log K (every
    cell gets the same output); to the uniform distribution: per-cell entropy >= ``frac`` x log K. Either
    in ``patience`` consecutive logs, at or after step ``min_step``, raises :class:`TrainingCollapsed`.
    ``patience`` 0 turns the watch off.
    """

    def __init__(self, k: int, frac: float, patience: int, min_step: int):
        self.log_k, self.frac, self.patience, self.min_step = math.log(k), float(frac), int(patience), int(min_step)
        self.streak, self.kind = 0, None

    def update(self, step: int, mean: dict[str, float]) -> None:
        if self.patience <= 0 or step < self.min_step or "teacher_entropy" not in mean:
            return
        kind = ("one prototype" if mean["teacher_kl_uniform"] >= self.frac * self.log_k else
                "the uniform distribution" if mean["teacher_entropy"] >= self.frac * self.log_k else None)
        self.streak = self.streak + 1 if kind is not None and kind == self.kind else int(kind is not None)
        self.kind = kind
        if self.streak >= self.patience:
            raise TrainingCollapsed(
                f"the teacher collapsed to {kind} at step {step}: per-cell entropy {mean['teacher_entropy']:.3f} and "
                f"KL(mean || uniform) {mean['teacher_kl_uniform']:.3f} nats of log K = {self.log_k:.3f}, in "
                f"{self.streak} logs in a row. Its embeddings would not separate cells. The checkpoints written "
                "so far are kept; start again (or --resume with --set) with a lower train.lr, a higher "
                "loss.teacher_temp or train.momentum_teacher, or a longer train.warmup_frac "
                "(train.collapse_patience=0 turns this check off)")


class MetricLog:
    """Append-only CSV + TensorBoard writer (rank 0 only; other ranks get ``enabled=False``)."""

    HEADER = ["step", "epoch", "name", "value"]

    def __init__(self, run_dir: Path, enabled: bool = True, resume_step: int | None = None):
        self.enabled = enabled
        self.path = Path(run_dir) / "metrics.csv"
        self._tb = None
        if not enabled:
            return
        if resume_step is not None and self.path.exists():
            # drop what a killed run logged after its last checkpoint, so steps are not duplicated
            with open(self.path, newline="") as fh:
                rows = [r for r in csv.reader(fh)][1:]
            keep = [r for r in rows if r and int(r[0]) <= resume_step]
            lines = [",".join(self.HEADER)] + [",".join(r) for r in keep]
            atomic_write_text(self.path, "\n".join(lines) + "\n")
        elif not self.path.exists() or resume_step is None:
            atomic_write_text(self.path, ",".join(self.HEADER) + "\n")
        from torch.utils.tensorboard import SummaryWriter

        self._tb = SummaryWriter(log_dir=str(Path(run_dir) / "tb"))

    def log(self, step: int, epoch: int, values: dict[str, float], prefix: str = "") -> None:
        if not self.enabled:
            return
        with open(self.path, "a", newline="") as fh:
            w = csv.writer(fh)
            for k, v in values.items():
                w.writerow([step, epoch, prefix + k, f"{float(v):.6g}"])
        for k, v in values.items():
            if math.isfinite(float(v)):
                self._tb.add_scalar(prefix + k, float(v), step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()
            self._tb = None
