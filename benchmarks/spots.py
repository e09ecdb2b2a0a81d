"""H&E + spots end to end: `madcell run` on a spot folder, with its numbers as Markdown.

    python benchmarks/spots.py --synthetic 20000 --out /tmp/spots_syn --time-budget 600
    python benchmarks/spots.py --folder ../shared/data/her2st_b4 --out /tmp/spots_her2st --time-budget 600

``--synthetic N``: an N-cell synthetic H&E tissue (seed 0, 0.5 µm/px) with a Visium grid
(:func:`madcell.synthetic.spots.make_spots`, the true composition / dominant type / niche per spot are
attached as spot labels); the segmentation is also scored against the true cell masks (F1 at IoU 0.5).
``--folder``: a real spot folder as it is. Both run :func:`madcell.spots.run.run_spot_pipeline` (cpu-tiny,
pretraining limited by ``--time-budget``) and print: cells found, spots matched, the spot-level scores of
every embedding (mean [95 % CI]), the niche student against the baselines, and the wall time per step.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import pandas as pd


def _ci(m, lo, hi) -> str:
    return f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synthetic", type=int, default=None)
    ap.add_argument("--folder", type=Path, default=None)
    ap.add_argument("--option", nargs="*", default=[], help="spot reader options key=value")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--time-budget", type=float, default=600.0)
    ap.add_argument("--niche-source", default="expression")
    ap.add_argument("--k-niches", type=int, default=None)
    ap.add_argument("--set", dest="overrides", nargs="*", default=[])
    args = ap.parse_args()
    from madcell.config import parse_overrides
    from madcell.spots.run import run_spot_pipeline

    t0 = time.perf_counter()
    options = parse_overrides(args.option) or {}
    folder = args.folder
    if args.synthetic:
        from madcell.synthetic import make_tissue
        from madcell.synthetic.spots import make_spots

        tissue = args.out.parent / f"{args.out.name}_tissue"
        if not (tissue / "cells.parquet").exists():
            make_tissue(tissue, args.synthetic, 0, modality="he")
        folder = tissue / "spots_visium"
        if not folder.exists():
            make_spots(tissue, "visium")
        options["image"] = str(tissue / "image.ome.tif")
    niche = {"source": args.niche_source, **({"k_niches": args.k_niches} if args.k_niches else {})}
    res = run_spot_pipeline(folder, args.out, "cpu-tiny", args.overrides, None, args.time_budget, options,
                            niche=niche, log=lambda m: print(m, flush=True))
    out = args.out
    print(f"\n### {folder} — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, "
          f"{os.cpu_count()} cores; wall {time.perf_counter() - t0:.0f} s (this invocation)\n")
    seg = json.loads((out / "segment" / "segment.json").read_text())
    print(f"segmentation: {seg['n_cells']} cells ({seg['method']}, nuclei from {seg['nuclear_signal']}, "
          f"{seg['pixel_size_um']:.4f} µm/px)")
    if args.synthetic:
        from madcell.io.images import open_labels
        from madcell.segment import match_labels

        true = open_labels(folder.parent / "labels.tif")
        found = open_labels(out / "segment" / "labels.tif")
        m = match_labels(true.read(0, true.shape[0], 0, true.shape[1]), found.read(0, found.shape[0], 0, found.shape[1]))
        print(f"segmentation vs the true cell masks: F1 @ IoU 0.5 = {m.f1:.3f} (precision {m.precision:.3f}, "
              f"recall {m.recall:.3f}; {m.n_true} true, {m.n_pred} found)")
    sp = json.loads((out / "spot_eval" / "metrics.json").read_text())
    info = sp["spots"]
    print(f"spots: {info['n_spots_kept']} of {info['n_spots_in_tissue']} in-tissue spots hold cells; "
          f"{info['n_cells_under_spots']} of {info['n_cells']} cells under a spot; median "
          f"{info['cells_per_spot_median']:g} cells per spot; {info['um_per_px']:.4f} µm/px ({info['um_per_px_source']})\n")
    s = pd.read_csv(out / "spot_eval" / "summary.csv")
    s["v"] = [_ci(*r) for r in s[["mean", "lo", "hi"]].to_numpy()]
    piv = s.pivot(index="metric", columns="embedding", values="v")
    print("| metric | " + " | ".join(piv.columns) + " |\n" + "|---" * (len(piv.columns) + 1) + "|")
    for mname in piv.index:
        print(f"| {mname} | " + " | ".join(piv.loc[mname].fillna("–")) + " |")
    nm = json.loads((out / "spot_niche" / "metrics.json").read_text())
    print(f"\nniches: K = {nm['k_niches']} from spot {nm['teacher_source']}, student on {nm['embedding_key']} "
          f"({nm['n_cells_fit']} cells fitted), {nm['n_spots_heldout']} held-out spots\n")
    print("| method | ARI | NMI | AMI |\n|---|---|---|---|")
    for name, r in nm["methods"].items():
        print(f"| {name} | " + " | ".join(_ci(r[k]["value"], r[k]["lo"], r[k]["hi"]) for k in ("ari", "nmi", "ami")) + " |")
    print("\nseconds per step: " + ", ".join(f"{k} {v:.0f}" for k, v in res["seconds"].items()))


if __name__ == "__main__":
    main()
