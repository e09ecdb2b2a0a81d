"""``madcell demo``: the full pipeline on a synthetic tissue, printing the metric table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from madcell.cli.common import console, guarded


@guarded
def demo(
    out: Path = typer.Option(Path("demo_out"), "--out", "-o", help="Output folder (cached: a rerun reuses what is done)."),
    cells: Optional[int] = typer.Option(None, "--cells", help="Cells of the synthetic tissue (default: the demo config's 1,500)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Tissue seed (default 0)."),
    difficulty: Optional[str] = typer.Option(None, "--difficulty", help="easy (marker intensities differ) | hard (shape, size, texture only)."),
    train_steps: Optional[int] = typer.Option(None, "--train-steps", help="Optimiser steps of each of the three pretraining runs (default 300, the same for all)."),
    train_seconds: Optional[float] = typer.Option(None, "--train-seconds", help="Optional wall-time cap on each pretraining run (unequal steps: use for smoke runs only)."),
) -> None:
    """Synthetic tissue -> prepare -> pretrain MAD / morph-only / micro-only -> embed -> decode -> evaluate -> report."""
    from madcell.demo import run_demo

    res = run_demo(out, cells=cells, seed=seed, difficulty=difficulty, train_seconds=train_seconds,
                   train_steps=train_steps, echo=lambda s: console.print(s, highlight=False))
    typer.echo("\n" + res["table"] + "\n")
    typer.echo("**Verdicts: MAD against each control** (computed, not written)\n\n" + res["verdicts"] + "\n")
    typer.echo(f"report:    {res['report']}")
    typer.echo(f"benchmark: {res['benchmark']}")
    typer.echo(f"views:     {res['views_png']} (example morphology / microenvironment views)")
    typer.echo(f"decoded:   {res['decoded']} (MAD embedding + predicted cell type, subtype, genes)")
    typer.echo(f"demo finished in {res['seconds']:.0f} s")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
