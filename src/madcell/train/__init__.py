"""MAD pretraining: schedules, the resumable (multi-process) training loop, monitoring and probes."""

from madcell.train.loop import pretrain
from madcell.train.probes import knn_accuracy, knn_predict, recall_at_k
from madcell.train.schedules import Schedules, build_schedules, cosine_schedule
from madcell.train.standalone import StandaloneStep

__all__ = ["Schedules", "StandaloneStep", "build_schedules", "cosine_schedule", "knn_accuracy", "knn_predict", "pretrain", "recall_at_k"]
