"""``madcell pretrain``: MAD self-distillation on a view store (resumable; torchrun for several GPUs)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from madcell.cli.common import console, guarded


@guarded
def pretrain_cmd(
    store: Path = typer.Argument(..., help="View store written by `madcell prepare` (STORE.h5)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: checkpoints/, metrics.csv, tb/, export/."),
    config: Optional[str] = typer.Option(None, "--config", "-c", help="Config file or preset name (cpu-tiny, vit-s, paper-vitl14). Default: default.yaml."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out where its last checkpoint stopped (exactly, unless --set changes a schedule key such as train.lr)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Cap on optimiser steps (the schedules are laid out over the capped run)."),
    init_weights: Optional[Path] = typer.Option(None, "--init-weights", help="Local DINOv2/timm ViT checkpoint to start the backbone from."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Plan the run to finish within this many seconds (wall time)."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Config override section.key=value (repeatable), e.g. --set loss.alpha=0.5."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Pretrain the MAD student/teacher ViT on a view store and export the teacher to RUN_DIR/export/."""
    from madcell.config import load_config
    from madcell.errors import InputError
    from madcell.train import pretrain
    from madcell.utils.paths import check_output

    check_output(out, [store, init_weights], folder=True)

    if not store.exists():
        raise InputError(store, "view store does not exist")
    if max_steps is not None and max_steps < 1:
        raise InputError("--max-steps", f"must be at least 1, got {max_steps}")
    overrides = list(set_ or [])
    if time_budget is not None:
        if time_budget <= 0:
            raise InputError("--time-budget", "must be a positive number of seconds")
        overrides.append(f"train.time_budget_s={time_budget}")
    resume_overrides = None
    if resume:
        from madcell.config import parse_overrides

        if config or init_weights or time_budget is not None or max_steps is not None:
            console.print("note: --resume continues with the run's saved config and plan; "
                          "--config/--init-weights/--time-budget/--max-steps are ignored")
        resume_overrides = parse_overrides(set_ or []) or None
        if resume_overrides:
            console.print(f"note: resuming with changed schedule keys: {', '.join(set_)} (the run is no longer an "
                          "exact continuation)")
        cfg = None
    else:
        cfg = load_config(config, overrides)
    summary = pretrain(store, cfg, out, resume=resume, max_steps=None if resume else max_steps,
                       init_weights=None if resume else init_weights, progress=not quiet,
                       resume_overrides=resume_overrides)
    probe = summary.get("final_probe") or {}
    init = summary.get("init_probe") or {}
    msg = f"{summary['steps']}/{summary['planned_steps']} steps in {summary['wall_s']:.0f} s"
    if "recall@5" in probe:
        msg += f"; Recall@5 {probe['recall@5']:.3f} (chance {probe['recall@5_chance']:.3f}, untrained {init.get('recall@5', float('nan')):.3f})"
    for k, v in probe.items():
        if k.startswith("knn_") and not k.endswith(("_balanced", "_chance")):
            msg += f"; {k} {v:.3f} (untrained {init.get(k, float('nan')):.3f})"
    console.print(msg, highlight=False)
    if summary.get("export"):
        console.print(f"teacher exported to {summary['export']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("pretrain")(pretrain_cmd)
