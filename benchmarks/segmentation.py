"""Measure `madcell segment` (default scikit-image method): F1 at IoU 0.5 against true nuclei / cells.

    python benchmarks/segmentation.py STARDIST [--cells 2000] [--out benchmarks/results/segmentation.md]

STARDIST is the ``stardist`` wheel or its unzipped folder (``pip download --no-deps stardist==0.9.2``;
nothing is downloaded here). It ships ``img2d.tif`` + ``mask2d.tif`` (a fluorescence image of the 2018
Data Science Bowl with 125 ground-truth nuclei; no pixel size) and ``histo.jpg`` (an H&E crop, no
ground truth: only counted and drawn). The synthetic tissues (``madcell.synthetic``, H&E and
fluorescence, seed 0) are scored against their true nuclei (repainted, :mod:`madcell.segment.truth`)
and true cells. Parameters are fixed before looking at the scores (nucleus diameter 8 µm on the
synthetic slides, 20 px on the DSB image by eye); the sweeps below only show the sensitivity.
Writes a Markdown report (and an overlay PNG of the H&E crop next to it).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import tifffile

from madcell.segment import match_labels, segment
from madcell.segment.truth import stardist_examples, synthetic_masks
from madcell.synthetic import make_tissue

HERE = Path(__file__).resolve().parent


def _scores(true: np.ndarray, pred: np.ndarray) -> str:
    m = match_labels(true, pred)
    return f"{m.n_true} | {m.n_pred} | {m.precision:.3f} | {m.recall:.3f} | **{m.f1:.3f}** | {m.mean_matched_iou:.3f}"


def _run(image: Path, out: Path, **kwargs) -> tuple[np.ndarray, np.ndarray, float]:
    t0 = time.perf_counter()
    segment(image, out, progress=False, **kwargs)
    wall = time.perf_counter() - t0
    return tifffile.imread(out / "nuclei.tif"), tifffile.imread(out / "labels.tif"), wall


def _overlay(image: Path, labels: np.ndarray, target: Path) -> None:
    from PIL import Image
    from skimage.segmentation import find_boundaries

    rgb = np.asarray(Image.open(image).convert("RGB")).copy()
    rgb[find_boundaries(labels, mode="inner")] = (0, 255, 0)
    Image.fromarray(rgb).save(target, optimize=True)


def _peak_rss(image: Path, out: Path, tile: int) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MiB) of segmenting ``image`` in a fresh process."""
    code = ("import resource, time; from madcell.segment import segment; t = time.perf_counter(); "
            f"segment({str(image)!r}, {str(out)!r}, tile_size={tile}, progress=False); "
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    wall, rss = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    return float(wall), float(rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stardist", type=Path, help="stardist wheel (.whl) or its unzipped folder")
    ap.add_argument("--cells", type=int, default=2000, help="cells of each synthetic tissue")
    ap.add_argument("--large-cells", type=int, default=12000, help="cells of the tissue of the memory check")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "segmentation.md")
    args = ap.parse_args()
    t_start = time.perf_counter()
    head = "| data | true | found | precision | recall | F1 @ IoU 0.5 | mean IoU of matches | wall (s) |\n|---|---|---|---|---|---|---|---|"
    rows, sweeps = [head], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        images = stardist_examples(args.stardist, tmp / "stardist")
        truth = tifffile.imread(images / "mask2d.tif")
        nuclei, _, wall = _run(images / "img2d.tif", tmp / "dsb", pixel_size_um=1.0, nucleus_diameter_um=20, expand_um=0)
        rows.append(f"| StarDist `img2d.tif` (DSB 2018 fluorescence), nuclei, d = 20 px | {_scores(truth, nuclei)} | {wall:.1f} |")
        f1 = []
        for d in (14, 16, 18, 20, 22, 25):
            nuclei, _, _ = _run(images / "img2d.tif", tmp / f"dsb{d}", pixel_size_um=1.0, nucleus_diameter_um=d, expand_um=0)
            f1.append(f"{d} px: {match_labels(truth, nuclei).f1:.3f}")
        sweeps.append("- DSB image, nucleus diameter (F1 of nuclei): " + ", ".join(f1))

        _, histo, wall = _run(images / "histo.jpg", tmp / "histo", pixel_size_um=0.5, nucleus_diameter_um=8, expand_um=0)
        overlay = args.out.with_name(args.out.stem + "_histo.png")
        _overlay(images / "histo.jpg", histo, overlay)
        n_histo = len(np.unique(histo)) - 1

        for modality in ("he", "fluorescence"):
            t0 = time.perf_counter()
            folder = make_tissue(tmp / f"synth-{modality}", args.cells, 0, modality=modality)
            t_synth = time.perf_counter() - t0
            true_nuclei, true_cells = synthetic_masks(folder)
            nuclei, cells, wall = _run(folder / "image.ome.tif", tmp / f"seg-{modality}")
            _, tiled, wall_tiled = _run(folder / "image.ome.tif", tmp / f"tiled-{modality}", tile_size=256)
            shape = "x".join(map(str, true_cells.shape))
            rows.append(f"| synthetic {modality} ({args.cells} cells, {shape} px, 0.5 µm/px), nuclei | "
                        f"{_scores(true_nuclei, nuclei)} | {wall:.1f} |")
            rows.append(f"| synthetic {modality}, cells (nuclei + 3 µm) | {_scores(true_cells, cells)} | {wall:.1f} |")
            same = match_labels(cells, tiled, 0.9)
            sweeps.append(f"- synthetic {modality}: 256 px tiles vs one tile: {same.tp} of {same.n_true} cells "
                          f"identical at IoU > 0.9 ({same.n_pred} found with tiles; {wall_tiled:.1f} s); "
                          f"generating the tissue took {t_synth:.0f} s")
            f1 = []
            for e in (0, 2, 3, 5):
                _, cells, _ = _run(folder / "image.ome.tif", tmp / f"e{e}-{modality}", expand_um=e)
                f1.append(f"{e} µm: {match_labels(true_cells, cells).f1:.3f}")
            sweeps.append(f"- synthetic {modality}, expansion (F1 of cells): " + ", ".join(f1))
        big = make_tissue(tmp / "synth-large", args.large_cells, 0, modality="fluorescence")
        scale = [(args.cells, tmp / "synth-fluorescence"), (args.large_cells, big)]
        memory = ["| cells | image (px) | tile (px) | wall (s) | peak RSS (MiB) |", "|---|---|---|---|---|"]
        for n, folder in scale:
            wall, rss = _peak_rss(folder / "image.ome.tif", tmp / f"rss-{n}", 1024)
            with tifffile.TiffFile(folder / "image.ome.tif") as tf:
                h, w = tf.series[0].shape[1:]
            memory.append(f"| {n} | {h} x {w} | 1024 | {wall:.1f} | {rss:.0f} |")
    total = time.perf_counter() - t_start
    text = f"""# Nucleus / cell segmentation (`madcell segment`, default scikit-image method)

Command: `python benchmarks/segmentation.py <stardist-0.9.2 wheel> --cells {args.cells} --large-cells {args.large_cells}`
Date {date.today()}; machine {platform.machine()}, {os.cpu_count()} cores (shared with other jobs);
total wall time {total:.0f} s. F1 counts a found object as correct when its IoU with a true one
exceeds 0.5 (`madcell.segment.metrics.match_labels`).

{chr(10).join(rows)}

StarDist `histo.jpg` (H&E, no ground truth; 0.5 µm/px and 8 µm nuclei assumed): {n_histo} nuclei,
drawn in `{overlay.name}`.

Memory: two synthetic fluorescence slides of different size, the same 1024 px tiles, each run in a
fresh process (peak RSS includes the Python / NumPy / scikit-image imports).

{chr(10).join(memory)}

Sensitivity (not used to pick the defaults):

{chr(10).join(sweeps)}

Notes:
- The DSB image has no pixel size, so it is segmented with 1 "µm" = 1 px and a nucleus diameter
  of 20 px judged by eye (the ground truth's median nucleus is 440 px², 24 px across; smaller
  diameters score higher, see the sweep). The method's constants (local-mean threshold, marker
  spacing) were chosen while looking at this image and the synthetic tissue, so its F1 is not a
  held-out number.
- The synthetic true nuclei are not written by `madcell synth`; they are repainted from
  `synth.json` and the repainted cells are checked equal to `labels.tif`.
- Cells are nuclei grown by at most 3 µm (`expand_labels`), a geometric guess, not fitted: on the
  synthetic tissue 2 µm scores higher (sweep above); real cell sizes vary with type and tissue.
"""
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
