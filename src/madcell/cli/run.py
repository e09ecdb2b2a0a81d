"""``madcell run``: a vendor folder to a report in one command (cached; run again to resume)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from madcell.cli.common import console, guarded


@guarded
def run_cmd(
    input: Path = typer.Argument(..., help="Input folder (Xenium, CosMx, MERSCOPE, generic) or a YAML manifest."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (store, run, embedding, decoders, eval, analysis, report)."),
    config: str = typer.Option("cpu-tiny", "--config", "-c", help="Preset or YAML file: cpu-tiny (laptop), vit-s, paper-vitl14 (GPU)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Optimiser steps of the pretraining (default: the preset's plan)."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Plan the pretraining to end within this many seconds instead."),
    format: str = typer.Option("auto", "--format", help="auto | generic | xenium | cosmx | merscope."),
    option: Optional[List[str]] = typer.Option(None, "--option", help="Reader option key=value (repeatable), e.g. --option pixel_size_um=0.12028."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Config override section.key=value (repeatable)."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="CSV/TSV/parquet: cell_id + label columns (vendor clusters are read automatically)."),
    gmt: Optional[Path] = typer.Option(None, "--gmt", help="Gene sets (GMT) for over-representation and per-cell scores."),
    root: Optional[str] = typer.Option(None, "--root", help="Pseudotime root: COLUMN=VALUE or a cell id."),
    method: str = typer.Option("leiden", "--method", help="Clustering of the embedding: leiden | louvain."),
    resolution: float = typer.Option(1.0, "--resolution", help="Clustering resolution."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """prepare -> pretrain -> embed -> decode + evaluate (with expression / labels) -> analyze -> report.
    Every finished step is cached in OUT; run the same command again to resume after a kill."""
    from madcell.config import parse_overrides
    from madcell.errors import InputError
    from madcell.run import run_pipeline
    from madcell.utils.paths import check_output

    check_output(out, [input, labels, gmt], folder=True)
    if steps is not None and time_budget is not None:
        raise InputError("--steps/--time-budget", "give one of them, not both")
    if time_budget is not None and time_budget <= 0:
        raise InputError("--time-budget", "must be a positive number of seconds")
    if method not in ("leiden", "louvain"):
        raise InputError("--method", f"must be leiden or louvain, got {method!r}")

    def log(msg: str) -> None:
        console.print(msg, highlight=False, markup=False)

    res = run_pipeline(input, out, config, set_ or None, steps, time_budget, format,
                       parse_overrides(option or []) or None, labels, gmt, root, method, resolution, log, progress)
    log(f"labels used: {', '.join(res['labels']) or 'none'}; expression: {'yes' if res['expression'] else 'no'}")
    if res["seconds"]:
        log("seconds per step: " + ", ".join(f"{k} {v:.0f}" for k, v in res["seconds"].items()))
    log(f"report -> {res['paths']['report']}")


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
