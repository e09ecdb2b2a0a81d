"""Helpers of the spot tests: the real-data folder and a tiny legacy-ST section in the her2st layout.

A uniquely named module (not ``conftest``, which several test folders share as a name)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def write_legacy_st(folder: Path, section: str = "A1", step_px: float = 300.0) -> Path:
    """A 4 x 4 legacy-ST section in the her2st layout: spot (x, y) at pixel (step·x, step·y), 3 genes;
    spot 4x4 is selected but has no counts; clusters for 3 spots, proportions for all."""
    xs, ys = np.meshgrid(np.arange(1, 5), np.arange(1, 5))
    xs, ys = xs.ravel(), ys.ravel()
    ids = [f"{x}x{y}" for x, y in zip(xs, ys)]
    (folder / "data" / "ST-cnts").mkdir(parents=True)
    (folder / "data" / "ST-spotfiles").mkdir(parents=True)
    sel = pd.DataFrame({"x": xs, "y": ys, "new_x": xs + 0.01, "new_y": ys, "pixel_x": step_px * xs,
                        "pixel_y": step_px * ys, "selected": 1})
    sel.to_csv(folder / "data" / "ST-spotfiles" / f"{section}_selection.tsv", sep="\t", index=False)
    counts = pd.DataFrame(np.arange(45).reshape(15, 3), index=ids[:15], columns=["G1", "G2", "G3"])
    counts.to_csv(folder / "data" / "ST-cnts" / f"{section}.tsv.gz", sep="\t")
    lbl_dir = folder / "res" / "ST-cluster" / "lbl"
    lbl_dir.mkdir(parents=True)
    lbl = pd.DataFrame({"x": xs[:3], "y": ys[:3], "label": [0, 1, 1], "pixel_x": step_px * xs[:3],
                        "pixel_y": step_px * ys[:3]}, index=[f"{step_px * x}x{step_px * y}" for x, y in zip(xs[:3], ys[:3])])
    lbl.to_csv(lbl_dir / f"{section}-cluster-annotation.tsv", sep="\t")
    (folder / "res" / "ST-cluster" / "motivation.csv").write_text(  # unquoted commas, as in her2st
        "patient,cluster,annotated as,based on,ref1,ref2\nA,0,stroma,,,\n"
        "A,1,immune : APC, myeloid,Marker genes include: X, Y,,\n")
    prop_dir = folder / "res" / "ST-deconv" / "props" / "major"
    prop_dir.mkdir(parents=True)
    pd.DataFrame({"T-cells": 0.25, "CAFs": 0.75}, index=ids[:15]).to_csv(prop_dir / f"{section}-proportion.tsv", sep="\t")
    return folder
