"""The run plan: how many optimiser steps this run will take, decided once, before the first step.

Schedules (warm-up, cosine decay, teacher momentum) are laid out over the planned length, so a short
CPU run still anneals properly instead of stopping in the middle of its warm-up. The length is the
smallest of ``epochs x steps_per_epoch``, ``max_steps`` and — with ``time_budget_s`` — the number of
steps that fit the remaining wall time, estimated from a short timing of real training steps (on
throw-away copies of the model, so the measured steps leave no trace in the run) and of one probe
pass. The plan is stored in every checkpoint; a resumed run reuses it and hence the same schedules.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass
class Plan:
    total_iters: int
    steps_per_epoch: int
    reason: str  # epochs | max_steps | time_budget
    sec_per_step: float | None = None
    sec_per_eval: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def plan_run(epochs: int, steps_per_epoch: int, max_steps: int | None = None,
             time_budget_s: float | None = None, sec_per_step: float | None = None,
             sec_per_eval: float = 0.0, eval_every: int = 0, elapsed_s: float = 0.0,
             reserve_s: float = 0.0, safety: float = 0.95) -> Plan:
    """Pick the number of optimiser steps (at least 1).

    With a time budget, ``n`` steps cost ``n * sec_per_step + (n // eval_every + 1) * sec_per_eval``
    (periodic probes plus the final one); ``elapsed_s`` (setup so far) and ``reserve_s`` (final
    checkpoint and export) come off the budget, and only ``safety`` of the rest is planned for.
    """
    total, reason = int(epochs) * int(steps_per_epoch), "epochs"
    if max_steps is not None and int(max_steps) < total:
        total, reason = int(max_steps), "max_steps"
    if time_budget_s is not None:
        if not sec_per_step or sec_per_step <= 0:
            raise ValueError("a time budget needs a measured sec_per_step")
        left = safety * (float(time_budget_s) - elapsed_s - reserve_s) - sec_per_eval
        per_step = sec_per_step + (sec_per_eval / eval_every if eval_every else 0.0)
        fit = int(math.floor(left / per_step)) if left > 0 else 0
        if fit < total:
            total, reason = fit, "time_budget"
    return Plan(total_iters=max(int(total), 1), steps_per_epoch=int(steps_per_epoch), reason=reason,
                sec_per_step=sec_per_step, sec_per_eval=sec_per_eval if time_budget_s is not None else None)
