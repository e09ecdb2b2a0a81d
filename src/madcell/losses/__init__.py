"""Losses: the MAD four-way distillation loss, teacher targets and schedule, KoLeo."""

from madcell.losses.koleo import KoLeoLoss
from madcell.losses.mad import MADLoss
from madcell.losses.teacher import centered_softmax, ema_center_update, sinkhorn_knopp, teacher_temp_schedule

__all__ = ["KoLeoLoss", "MADLoss", "centered_softmax", "ema_center_update", "sinkhorn_knopp", "teacher_temp_schedule"]
