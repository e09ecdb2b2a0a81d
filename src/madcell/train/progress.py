"""A rich progress bar for training: steps, ETA, loss, throughput and the latest probe numbers."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from madcell.cli.common import console


class TrainProgress:
    """``update(it, metrics, probe)`` after each step; a no-op when disabled (other ranks, tests)."""

    def __init__(self, total: int, start: int = 0, enabled: bool = True):
        self.enabled = enabled
        if not enabled:
            return
        self.progress = Progress(
            TextColumn("[bold]pretrain"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
            console=console, transient=False,
        )
        self.task = self.progress.add_task("pretrain", total=total, completed=start, info="")
        self.progress.start()

    def update(self, it: int, metrics: dict, probe: dict) -> None:
        if not self.enabled:
            return
        info = f"loss {metrics.get('loss', float('nan')):.3f}  H(T) {metrics.get('teacher_entropy', float('nan')):.2f}"
        if "recall@5" in probe:
            info += f"  R@5 {probe['recall@5']:.3f} (chance {probe['recall@5_chance']:.3f})"
        self.progress.update(self.task, completed=it, info=info)

    def close(self) -> None:
        if self.enabled:
            self.progress.stop()
