"""Training progress: steps, rate, ETA, loss, teacher entropy and the latest cross-view Recall@5."""

from __future__ import annotations

from madcell.utils.progress import Progress


class TrainProgress:
    """``update(it, metrics, probe)`` after each step; a no-op when disabled (other ranks, tests)."""

    def __init__(self, total: int, start: int = 0, enabled: bool = True):
        self.bar = Progress("pretrain", total, start, unit="steps", enabled=enabled)

    def update(self, it: int, metrics: dict, probe: dict) -> None:
        info = f"loss {metrics.get('loss', float('nan')):.3f}  H(T) {metrics.get('teacher_entropy', float('nan')):.2f}"
        if "recall@5" in probe:
            info += f"  R@5 {probe['recall@5']:.3f} (chance {probe['recall@5_chance']:.3f})"
        self.bar.update(it, info)

    def close(self) -> None:
        self.bar.close()
