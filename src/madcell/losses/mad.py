"""The MAD four-way self-distillation loss.

    L = CE(Tm, Sm) + CE(Tu, Su) + alpha * (CE(Tm, Su) + CE(Tu, Sm))

``T_t`` are teacher targets on the global crops of view ``t`` (m = morphology, u = microenvironment),
``S_s`` student log-probabilities on all crops (global then local) of view ``s``. Each term averages
the cross-entropy over its (teacher crop i, student crop j) pairs and over the batch; pairs with
j == i inside ONE view are excluded (a crop is not distilled into itself, as in DINO), whereas the
cross-view pairs keep every combination: the i-th morphology crop and the i-th microenvironment crop
are different images. The MAD reference code keeps the self pairs and has no alpha; this follows the
paper's equation and DINO's pairing.

Which views are present in the two dicts decides the terms, so the ablations need no other switch:
single-view modes give one same-view term. ``alpha`` weighs the cross-view terms RELATIVE to the
same-view terms; when there is no same-view term at all (``exclusive`` mode: teacher sees only the
microenvironment, student only the morphology) the lone cross term is the loss, with weight 1.
``weights`` (term name -> weight) overrides any of this explicitly.

One running centre is shared by the teacher outputs of both views (they score the same prototypes);
``center_per_view`` keeps one per view instead (each view's teacher is then centred on its own mean).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from madcell.losses.teacher import centered_softmax, ema_center_update, sinkhorn_knopp

_SHORT = {"morph": "m", "micro": "u"}


class MADLoss(nn.Module):
    """``forward(student_out, teacher_out, it) -> (loss, {"mm", "uu", "mu", "um": float})``.

    ``teacher_out[v]``: ``(n_global, B, K)`` teacher logits of view ``v``'s global crops.
    ``student_out[v]``: ``(n_global + n_local, B, K)``; its first ``n_global`` entries are the same
    global crops the teacher saw, in the same order. Term ``"mu"`` is CE(T_morph, S_micro).
    """

    def __init__(
        self,
        out_dim: int,
        alpha: float,
        student_temp: float = 0.1,
        teacher_temp_schedule: np.ndarray | None = None,
        centering: str = "ema",
        center_momentum: float = 0.9,
        sinkhorn_iters: int = 3,
        weights: Mapping[str, float] | None = None,
        center_per_view: bool = False,
    ):
        super().__init__()
        if centering not in ("ema", "sinkhorn"):
            raise ValueError(f"centering must be 'ema' or 'sinkhorn', got {centering!r}")
        self.alpha = float(alpha)
        self.student_temp = float(student_temp)
        sched = np.array([0.04]) if teacher_temp_schedule is None else np.asarray(teacher_temp_schedule, dtype=np.float64)
        self.teacher_temps = sched.reshape(-1)
        self.centering = centering
        self.center_momentum = float(center_momentum)
        self.sinkhorn_iters = int(sinkhorn_iters)
        self.weights = dict(weights or {})
        self.center_per_view = bool(center_per_view)
        # row 0 = the shared centre (or morphology's), row 1 = microenvironment's when per view
        self.register_buffer("center", torch.zeros(2 if self.center_per_view else 1, out_dim))

    def center_of(self, view: str) -> torch.Tensor:
        return self.center[1:2] if self.center_per_view and view == "micro" else self.center[0:1]

    def teacher_temp(self, it: int) -> float:
        return float(self.teacher_temps[min(max(int(it), 0), len(self.teacher_temps) - 1)])

    def weight(self, t: str, s: str, has_same_view: bool) -> float:
        name = _SHORT[t] + _SHORT[s]
        if name in self.weights:
            return float(self.weights[name])
        return 1.0 if t == s or not has_same_view else self.alpha

    @torch.no_grad()
    def teacher_targets(self, teacher_out: Mapping[str, torch.Tensor], it: int) -> dict[str, torch.Tensor]:
        """Teacher probabilities per view, ``(n_global, B, K)`` float32."""
        temp = self.teacher_temp(it)
        if self.centering == "ema":
            return {v: centered_softmax(z.detach(), self.center_of(v), temp) for v, z in teacher_out.items()}
        views = list(teacher_out)
        flat = torch.cat([teacher_out[v].detach().reshape(-1, teacher_out[v].shape[-1]) for v in views])
        q = sinkhorn_knopp(flat, temp, self.sinkhorn_iters)
        sizes = [teacher_out[v][..., 0].numel() for v in views]
        return {v: part.reshape(teacher_out[v].shape) for v, part in zip(views, q.split(sizes))}

    def forward(
        self, student_out: Mapping[str, torch.Tensor], teacher_out: Mapping[str, torch.Tensor], it: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        for name, d in (("student_out", student_out), ("teacher_out", teacher_out)):
            if not d or any(v not in _SHORT or z.ndim != 3 for v, z in d.items()):
                raise ValueError(f"{name} must map 'morph'/'micro' to (n_crops, B, K) tensors")
        device_type = next(iter(student_out.values())).device.type
        with torch.autocast(device_type=device_type, enabled=False):  # the CE matmul stays float32 under bf16
            return self._forward(student_out, teacher_out, it)

    def _forward(
        self, student_out: Mapping[str, torch.Tensor], teacher_out: Mapping[str, torch.Tensor], it: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        targets = self.teacher_targets(teacher_out, it)
        logp = {v: F.log_softmax(z.float() / self.student_temp, dim=-1) for v, z in student_out.items()}
        has_same = bool(set(targets) & set(logp))
        total = None
        names, values = [], []
        for t, tp in targets.items():
            for s, lp in logp.items():
                n_t, b, k = tp.shape
                n_s = lp.shape[0]
                if lp.shape[1:] != (b, k):
                    raise ValueError(f"teacher {t} {tuple(tp.shape)} and student {s} {tuple(lp.shape)} disagree on (B, K)")
                ce = -(tp.reshape(n_t, b * k) @ lp.reshape(n_s, b * k).t()) / b  # (n_t, n_s), batch mean
                keep = torch.ones(n_t, n_s, dtype=torch.bool, device=ce.device)
                if t == s:
                    idx = torch.arange(min(n_t, n_s), device=ce.device)
                    keep[idx, idx] = False
                if not keep.any():
                    raise ValueError(f"term {t}->{s} has no crop pairs (one global crop and no local crops)")
                term = ce[keep].mean()
                weighted = self.weight(t, s, has_same) * term
                total = weighted if total is None else total + weighted
                names.append(_SHORT[t] + _SHORT[s])
                values.append(term.detach())
        if self.centering == "ema" and self.center_per_view:
            for v, z in teacher_out.items():
                ema_center_update(self.center_of(v), z.reshape(-1, z.shape[-1]), self.center_momentum)
        elif self.centering == "ema":
            ema_center_update(self.center, torch.cat([z.reshape(-1, z.shape[-1]) for z in teacher_out.values()]), self.center_momentum)
        return total, dict(zip(names, torch.stack(values).tolist()))
