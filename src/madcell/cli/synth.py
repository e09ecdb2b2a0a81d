"""``madcell synth``: write a synthetic tissue with known cell types, niches and subtypes."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from madcell.cli.common import console, guarded
from madcell.errors import InputError


@guarded
def synth(
    out: Path = typer.Option(..., "--out", help="Output folder (image.ome.tif, labels.tif, cells.parquet, expression.h5ad, synth.json)."),
    cells: Optional[int] = typer.Option(None, "--cells", help="Number of cells (default: synth.cells of the config)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed; the same seed gives the same tissue."),
    modality: Optional[str] = typer.Option(None, "--modality", help="fluorescence (4 channels, uint16) | he (RGB H&E-like, uint8)."),
    difficulty: Optional[str] = typer.Option(None, "--difficulty", help="easy: types differ in marker intensities and shape | hard: same markers, shape/size/texture only."),
    pixel_size: Optional[float] = typer.Option(None, "--pixel-size", help="Pixel size in µm (default 0.5)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Processes rendering tiles in parallel (output is the same)."),
    spots: str = typer.Option("none", "--spots", help="visium | st | none: also write a spot grid with summed counts as Space Ranger outs in OUT/spots_<platform>/."),
) -> None:
    """Generate a synthetic slide (the built-in default dataset) with ground-truth labels."""
    import pandas as pd

    from madcell.synthetic import make_tissue
    from madcell.utils.paths import check_output

    if spots not in ("visium", "st", "none"):
        raise InputError("--spots", f"must be visium, st or none, got {spots!r}")
    check_output(out, [], folder=True)

    folder = make_tissue(out, cells, seed, modality=modality, difficulty=difficulty, pixel_size_um=pixel_size,
                         workers=workers)
    table = pd.read_parquet(folder / "cells.parquet", columns=["cell_type", "niche"])
    console.print(f"wrote {folder}: {len(table)} cells, {table['cell_type'].nunique()} cell types, "
                  f"{table['niche'].nunique()} niches")
    if spots != "none":
        from madcell.synthetic.spots import make_spots

        spot_dir = make_spots(folder, spots)
        truth = pd.read_csv(spot_dir / "spots_truth.csv", usecols=["in_tissue", "n_cells"])
        console.print(f"wrote {spot_dir}: {int(truth['in_tissue'].sum())} {spots} spots under tissue holding "
                      f"{int(truth['n_cells'].sum())} cells")


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
