"""A toy tissue of disc cells built in memory (no reader needed): SlideData from ArrayImage/ArrayLabels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from madcell.io.base import ArrayImage, ArrayLabels, SlideData

CHANNELS = ["dapi", "cd45", "panck"]


def make_toy_slide(
    height: int = 192,
    width: int = 224,
    spacing: int = 16,
    radius: float = 5.0,
    seed: int = 0,
    pixel_size_um: float | None = 0.5,
    slide_id: str = "toy",
    label_step: int = 3,
    gradient: float = 0.0,
    expression: bool = True,
    dtype=np.uint16,
) -> SlideData:
    """Disc cells on a jittered grid; 'tumour' cells are bright in panck, 'immune' ones in cd45.

    Labels are ``label_step * i + 1`` (not contiguous, like real masks). ``gradient`` adds a
    left-to-right illumination ramp (for the flat-field correction).
    """
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[spacing // 2: height - spacing // 2: spacing, spacing // 2: width - spacing // 2: spacing]
    cy = ys.ravel() + rng.uniform(-2, 2, ys.size)
    cx = xs.ravel() + rng.uniform(-2, 2, xs.size)
    n = cy.size
    types = np.where(cx < width / 2, "tumour", "immune")
    labels = np.zeros((height, width), np.int32)
    img = np.zeros((3, height, width), np.float64)
    rows = []
    for i in range(n):
        r = radius * rng.uniform(0.8, 1.2)
        lab = label_step * i + 1
        y0, x0 = max(int(cy[i] - r) - 1, 0), max(int(cx[i] - r) - 1, 0)
        yy, xx = np.mgrid[y0:min(int(cy[i] + r) + 2, height), x0:min(int(cx[i] + r) + 2, width)]
        d2 = (yy - cy[i]) ** 2 + (xx - cx[i]) ** 2
        disc, nuc = d2 <= r * r, d2 <= (0.5 * r) ** 2
        box = (slice(y0, y0 + yy.shape[0]), slice(x0, x0 + yy.shape[1]))
        labels[box][disc] = lab
        img[0][box][nuc] += 3000
        img[1 if types[i] == "immune" else 2][box][disc] += 2000 * rng.uniform(0.7, 1.3)
        rows.append((f"c{i}", lab, xx[disc].mean(), yy[disc].mean(), types[i], int(cx[i] * 3 // width)))
    xx = np.arange(width)[None, :]
    img += rng.normal(200, 30, img.shape)
    img *= 1.0 + gradient * (xx / width)[None]
    img = np.clip(img, 0, np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else None).astype(dtype)
    cells = pd.DataFrame(rows, columns=["cell_id", "label", "x_px", "y_px", "cell_type", "niche"])
    expr = None
    if expression:
        import anndata as ad

        X = rng.poisson(2.0, size=(n, 5)).astype(np.float32)
        expr = ad.AnnData(X=X, var=pd.DataFrame(index=[f"g{j}" for j in range(5)]))
        expr.obs_names = cells["cell_id"].to_numpy()
    return SlideData(
        image=ArrayImage(img, list(CHANNELS)), labels=ArrayLabels(labels), cells=cells,
        pixel_size_um=pixel_size_um, slide_id=slide_id, source=Path(f"/toy/{slide_id}"), expression=expr,
    )


