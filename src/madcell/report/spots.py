"""The report of an H&E + spots run (:mod:`madcell.spots.run`): segmentation, spots matched, spot-level
scores of every embedding, spot niches distilled into the image-only student, wall time per step.

Figures: the segmentation outlined on a window of the H&E, with the spot discs (``segmentation.png``);
the section with the spots coloured by the teacher's niche and the cells by the student's
(``niches.png``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from madcell.report.figures import _legend_handles, _palette, _point_size, _save, plt
from madcell.report.tables import fmt_ci
from madcell.utils.atomic import atomic_write_text


def _rgb(img: np.ndarray) -> np.ndarray:
    a = np.moveaxis(np.asarray(img)[:3], 0, -1).astype(np.float32)
    return np.clip(a / (255.0 if a.max() > 1 else 1.0), 0, 1)


def plot_segmentation(image_path: Path, labels_path: Path, spots_xy: np.ndarray, radius_px: float, path: Path,
                      side: int = 1200) -> Path:
    """Cell outlines (from the label image) over a ``side``-pixel window of the H&E centred on the spot nearest the
    spots' centre, with the spot discs."""
    from skimage.segmentation import find_boundaries

    from madcell.io.images import open_image, open_labels

    img, _ = open_image(image_path)
    lab = open_labels(labels_path)
    _, H, W = img.shape
    c = spots_xy[np.argmin(np.linalg.norm(spots_xy - np.median(spots_xy, 0), axis=1))]
    x0 = int(np.clip(c[0] - side / 2, 0, max(W - side, 0)))
    y0 = int(np.clip(c[1] - side / 2, 0, max(H - side, 0)))
    y1, x1 = min(y0 + side, H), min(x0 + side, W)
    rgb = _rgb(img.read(y0, y1, x0, x1))
    edge = find_boundaries(np.asarray(lab.read(y0, y1, x0, x1)), mode="inner")
    rgb[edge] = (0.0, 1.0, 0.2)
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.imshow(rgb, extent=(x0, x1, y1, y0))
    for x, y in spots_xy:
        if x0 - radius_px < x < x1 + radius_px and y0 - radius_px < y < y1 + radius_px:
            ax.add_patch(plt.Circle((x, y), radius_px, fill=False, color="yellow", lw=1.2))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)
    ax.set_title(f"cells found (green outlines) and spots (yellow), pixels {x0}-{x1} x {y0}-{y1}")
    return _save(fig, path)


def plot_niches(cells_xy: np.ndarray, student: np.ndarray, spots_xy: np.ndarray, teacher: np.ndarray,
                heldout: np.ndarray, path: Path) -> Path:
    pal = _palette(np.concatenate([student.astype(str), teacher.astype(str)]))
    fig, axes = plt.subplots(1, 2, figsize=(13, 6), sharex=True, sharey=True)
    axes[0].scatter(spots_xy[:, 0], spots_xy[:, 1], c=[pal[str(t)] for t in teacher], s=60,
                    edgecolors=np.where(heldout, "black", "none"), linewidths=1.0)
    axes[0].set_title("teacher niches of the spots (spot expression); black rim = held-out spot")
    axes[1].scatter(cells_xy[:, 0], cells_xy[:, 1], c=[pal[str(t)] for t in student], s=_point_size(len(cells_xy)),
                    linewidths=0)
    axes[1].set_title("student niches of every cell (H&E only)")
    for ax in axes:
        ax.set_aspect("equal")
        ax.invert_yaxis()
        ax.set_xlabel("x (µm)")
    axes[0].set_ylabel("y (µm)")
    fig.legend(handles=_legend_handles(pal), title="niche", loc="center right", bbox_to_anchor=(1.02, 0.5))
    return _save(fig, path)


def spot_report(out: Path, spots, seconds: Mapping[str, float]) -> Path:
    """Write ``out/report/report.md`` (and its figures) from the run folder ``out``."""
    import anndata as ad

    rep = out / "report"
    seg = json.loads((out / "segment" / "segment.json").read_text())
    sp = ad.read_h5ad(out / "spot_niche" / "spots.h5ad")
    cells = ad.read_h5ad(out / "spot_niche" / "cells.h5ad")
    info = sp.uns["madcell_spots"]
    niche = json.loads((out / "spot_niche" / "metrics.json").read_text())
    summary = pd.read_csv(out / "spot_eval" / "summary.csv")
    plot_segmentation(spots.image_path, out / "segment" / "labels.tif", spots.xy_px, spots.spot_radius_px,
                      rep / "figures" / "segmentation.png")
    plot_niches(np.asarray(cells.obsm["spatial"]), cells.obs["spot_niche_student"].to_numpy(), sp.obsm["spatial"],
                sp.obs["teacher_niche"].to_numpy(), (sp.obs["niche_split"] == "heldout").to_numpy(),
                rep / "figures" / "niches.png")
    lines = [f"# madcell report: {spots.source}", "",
             f"H&E + {spots.platform} spots: {spots.counts.n_obs} spots, {spots.counts.n_vars} genes; "
             f"{spots.um_per_px:.4f} µm/px ({spots.um_per_px_source}); spot diameter {spots.spot_diameter_um:g} µm "
             f"({spots.spot_diameter_source}).", "",
             "## Segmentation", "",
             f"{seg.get('n_cells', cells.n_obs)} cells found by `madcell segment` ({seg.get('method')}, nuclei from "
             f"{seg.get('nuclear_signal')}, grown by {seg.get('expand_um')} µm); {cells.n_obs} cells in the store.", "",
             "![segmentation](figures/segmentation.png)", "",
             "## Spots matched", "",
             f"{info['n_spots_kept']} of {info['n_spots_in_tissue']} spots under tissue hold at least "
             f"{info['min_cells']} cell centroid(s); {info['n_cells_under_spots']} of {info['n_cells']} cells lie under "
             f"a spot; median {info['cells_per_spot_median']:g} cells per spot.", "",
             "## Spot-level scores (HEST protocol, spatial-block folds)", "",
             "Mean with 95 % bootstrap CI over spots; every embedding scored on the same spots and folds.", ""]
    piv = summary.assign(v=[fmt_ci({"mean": m, "lo": lo, "hi": hi}) for m, lo, hi in summary[["mean", "lo", "hi"]].to_numpy()])
    piv = piv.pivot(index="metric", columns="embedding", values="v")
    lines += ["| metric | " + " | ".join(piv.columns) + " |", "|---" * (len(piv.columns) + 1) + "|"]
    lines += [f"| {m} | " + " | ".join(piv.loc[m].fillna("–")) + " |" for m in piv.index]
    lines += ["", "## Niches: spot expression distilled into an H&E-only cell student", "",
              f"Teacher: {niche['k_niches']} niches from spot {niche['teacher_source']}; student on "
              f"`{niche['embedding_key']}` fitted on {niche['n_cells_fit']} cells under training spots; scored on "
              f"{niche['n_spots_heldout']} held-out spots ({niche['scored_on']}). "
              f"{niche['n_cells_without_spot']} cells under no spot were labelled by the student alone.", "",
              "| method | ARI | NMI | AMI |", "|---|---|---|---|"]
    for name, r in niche["methods"].items():
        lines.append(f"| {name} | " + " | ".join(fmt_ci(r[m]) for m in ("ari", "nmi", "ami"))
                     + " |")
    lines += ["", "![niches](figures/niches.png)", "", "## Wall time (this invocation)", "",
              "| step | seconds |", "|---|---|"] + [f"| {k} | {v:.0f} |" for k, v in seconds.items() if k != "report"]
    path = rep / "report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
