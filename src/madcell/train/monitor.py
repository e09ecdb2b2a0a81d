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

from madcell.errors import TrainingDiverged
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
