"""``madcell run``: a vendor folder to a report in one command (cached; run again to resume)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from madcell.cli.common import console, guarded


@guarded
def run_cmd(
    input: Path = typer.Argument(..., help="Input folder (Xenium, CosMx, MERSCOPE, generic) or a YAML manifest; or an H&E + spots folder (Space Ranger outs, legacy ST, HEST .h5ad): then the cells are segmented first and scored per spot."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (store, run, embedding, decoders, eval, analysis, report)."),
    config: str = typer.Option("cpu-tiny", "--config", "-c", help="Preset or YAML file: cpu-tiny (laptop), vit-s, paper-vitl14 (GPU)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Optimiser steps of the pretraining (default: the preset's plan)."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Plan the pretraining to end within this many seconds instead."),
    format: str = typer.Option("auto", "--format", help="auto | generic | xenium | cosmx | merscope | spaceranger | legacy_st | hest."),
    option: Optional[List[str]] = typer.Option(None, "--option", help="Reader option key=value (repeatable), e.g. --option pixel_size_um=0.12028."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Config override section.key=value (repeatable)."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="CSV/TSV/parquet: cell_id + label columns (vendor clusters are read automatically)."),
    gmt: Optional[Path] = typer.Option(None, "--gmt", help="Gene sets (GMT) for over-representation and per-cell scores."),
    root: Optional[str] = typer.Option(None, "--root", help="Pseudotime root: COLUMN=VALUE or a cell id."),
    method: str = typer.Option("leiden", "--method", help="Clustering of the embedding: leiden | louvain."),
    resolution: float = typer.Option(1.0, "--resolution", help="Clustering resolution."),
    baselines: str = typer.Option("pca,untrained", "--baselines", help="H&E + spots: baselines scored next to MAD (comma-separated; '' for none; 'frozen' needs --frozen-weights)."),
    frozen_weights: Optional[Path] = typer.Option(None, "--frozen-weights", help="H&E + spots: local weights file of a frozen encoder (e.g. UNI, DINOv2), scored as baseline 'frozen'."),
    frozen_model: str = typer.Option("vit_large_patch16_224", "--frozen-model", help="timm name of the frozen encoder (e.g. vit_large_patch14_dinov2.lvd142m)."),
    niche_source: str = typer.Option("expression", "--niche-source", help="H&E + spots: teacher niches from spot 'expression' or a spot table (e.g. proportions)."),
    k_niches: Optional[int] = typer.Option(None, "--k-niches", help="H&E + spots: number of teacher niches (default: niche.k_niches)."),
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

    if _is_spot_input(input, format):
        from madcell.spots.run import run_spot_pipeline

        base = {b.strip(): ({"preset": config} if b.strip() == "untrained" else {}) for b in baselines.split(",") if b.strip()}
        if frozen_weights is not None:
            if not frozen_weights.is_file():
                raise InputError(frozen_weights, "frozen encoder weights file does not exist")
            base["frozen"] = {"model": frozen_model, "weights": str(frozen_weights.resolve())}
        elif "frozen" in base:
            raise InputError("--baselines", "frozen needs --frozen-weights PATH (nothing is downloaded)")
        niche = {"source": niche_source, **({"k_niches": k_niches} if k_niches is not None else {})}
        res = run_spot_pipeline(input, out, config, set_ or None, steps, time_budget, parse_overrides(option or []) or None,
                                baselines=base, niche=niche, log=log, progress=progress)
        log("seconds per step: " + ", ".join(f"{k} {v:.0f}" for k, v in res["seconds"].items()))
        log(f"report -> {res['paths']['report']}")
        return
    res = run_pipeline(input, out, config, set_ or None, steps, time_budget, format,
                       parse_overrides(option or []) or None, labels, gmt, root, method, resolution, log, progress)
    log(f"labels used: {', '.join(res['labels']) or 'none'}; expression: {'yes' if res['expression'] else 'no'}")
    if res["seconds"]:
        log("seconds per step: " + ", ".join(f"{k} {v:.0f}" for k, v in res["seconds"].items()))
    log(f"report -> {res['paths']['report']}")


def _is_spot_input(path: Path, format: str) -> bool:
    """H&E + spots (Space Ranger, legacy ST, HEST) rather than cells with masks: by ``--format``, or detected."""
    from madcell.errors import InputError
    from madcell.io.read import detect_format
    from madcell.spots import READERS, detect_spot_format

    if format != "auto":
        return format in READERS
    if path.suffix in (".yaml", ".yml"):
        return False
    try:
        detect_format(path)
        return False
    except InputError as cells_error:
        try:
            detect_spot_format(path)
            return True
        except InputError:
            raise cells_error from None


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
