"""Every training schedule, precomputed as a numpy array indexed by iteration (dinov2 style).

Precomputing makes the schedules trivially resumable (the iteration is the only state), lets them be
tied to the run's *planned* length (a 150-second CPU run still warms up, anneals and ends at the final
values) and lets us plot them once into the run folder (``schedules.png``) so a user can see what the
optimiser will do before it does it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from madcell.losses.teacher import teacher_temp_schedule
from madcell.utils.atomic import atomic_path


def cosine_schedule(base: float, final: float, total: int, warmup: int = 0, start_warmup: float = 0.0) -> np.ndarray:
    """``total`` values: linear ``start_warmup -> base`` over ``warmup`` iterations, then a half
    cosine ``base -> final`` over the rest (the last value is exactly ``final``)."""
    total = int(total)
    warmup = int(min(max(warmup, 0), total))
    ramp = np.linspace(start_warmup, base, warmup, endpoint=False) if warmup else np.zeros(0)
    n = total - warmup
    if n == 1:
        body = np.array([final], dtype=np.float64)
    else:
        t = np.arange(n) / max(n - 1, 1)
        body = final + 0.5 * (base - final) * (1 + np.cos(np.pi * t))
    return np.concatenate([ramp, body]).astype(np.float64)


@dataclass
class Schedules:
    """Per-iteration values for one run of ``total`` optimiser steps."""

    lr: np.ndarray
    weight_decay: np.ndarray
    momentum: np.ndarray
    teacher_temp: np.ndarray
    last_layer_lr: np.ndarray  # 0 while the head's last layer is frozen, else equal to ``lr``
    freeze_iters: int = 0      # iterations during which the head's last layer is frozen

    @property
    def total(self) -> int:
        return len(self.lr)

    def at(self, it: int) -> dict[str, float]:
        """The values at iteration ``it`` (clamped to the last one)."""
        i = min(int(it), self.total - 1)
        return {"lr": float(self.lr[i]), "wd": float(self.weight_decay[i]), "mom": float(self.momentum[i]),
                "teacher_temp": float(self.teacher_temp[i]), "last_layer_lr": float(self.last_layer_lr[i])}


def build_schedules(cfg: dict, total: int, steps_per_epoch: int, global_batch: int) -> Schedules:
    """Schedules for ``total`` iterations from the ``train`` / ``loss`` / ``head`` config sections.

    The learning rate is ``train.lr`` at batch 256, scaled linearly by ``global_batch``.
    """
    if total < 1:
        raise ValueError("a run needs at least one iteration")
    tr, ls = cfg["train"], cfg["loss"]
    base_lr = float(tr["lr"]) * global_batch / 256.0
    warmup = int(round(float(tr["warmup_frac"]) * total))
    lr = cosine_schedule(base_lr, float(tr["min_lr"]), total, warmup)
    wd = cosine_schedule(float(tr["weight_decay"]), float(tr["weight_decay_end"]), total)
    mom = cosine_schedule(float(tr["momentum_teacher"]), float(tr["momentum_teacher_end"]), total)
    t_warm = int(round(float(ls["warmup_teacher_temp_frac"]) * total))
    temp = teacher_temp_schedule(float(ls["warmup_teacher_temp"]), float(ls["teacher_temp"]), t_warm, total)
    freeze = int(round(float(cfg["head"]["freeze_last_layer_epochs"]) * steps_per_epoch))
    # never freeze the whole of a short run: at most the first half of it
    freeze = min(freeze, total // 2)
    last = lr.copy()
    last[:freeze] = 0.0
    return Schedules(lr=lr, weight_decay=wd, momentum=mom, teacher_temp=temp, last_layer_lr=last,
                     freeze_iters=freeze)


def plot_schedules(s: Schedules, path: str | Path) -> None:
    """Save the schedules as one figure (matplotlib Agg; written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.2))
    it = np.arange(s.total)
    axes[0].plot(it, s.lr, label="lr")
    axes[0].plot(it, s.last_layer_lr, "--", label="head last layer lr")
    axes[0].legend(fontsize=8)
    for ax, arr, title in zip(axes[1:], (s.weight_decay, s.momentum, s.teacher_temp),
                              ("weight decay", "teacher momentum", "teacher temperature")):
        ax.plot(it, arr)
        ax.set_title(title)
    axes[0].set_title("learning rate")
    for ax in axes:
        ax.set_xlabel("iteration")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
