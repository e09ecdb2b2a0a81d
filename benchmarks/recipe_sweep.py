"""Compare MAD training recipes at equal optimiser steps on several synthetic tissues, with paired CIs.

    python benchmarks/recipe_sweep.py --work /tmp/sweep --tissues 10 11 12 --steps 500 \
        --variant base= --variant keep=augment.micro_keep_center=0.1 --variant morph=train.views=morph

Each ``--variant NAME=KEY=VALUE[,KEY=VALUE...]`` is a set of ``--set`` overrides on the cpu-tiny preset
(``NAME=`` alone: the preset as it is). Every variant trains on every tissue (easy, fluorescence,
``--cells`` cells; seeds other than the ones reported elsewhere, so recipe choices are not tuned on
the reported tissues) for ``--steps`` steps with the same training seed; the exported teacher embeds
every cell and :func:`protocol.cell_scores` scores it: kNN accuracy of cell_type / niche / subtype, the
context-only subtype split *within* macrophages (TAM vs stromal) and fibroblasts (CAF vs stromal), and
cross-view Recall@5 (chance 5 / n). The table gives each variant's score (mean over tissues) and the
paired difference to ``--reference`` with its 95 % CI. Runs are cached: a rerun skips finished ones
and resumes an interrupted run from its last checkpoint.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from madcell.config import load_config, parse_overrides
from madcell.train import pretrain

import protocol as P
from protocol import append_results

METRICS = ("within", "knn_subtype", "knn_niche", "knn_cell_type", "recall5")


def train(store: Path, run: Path, overrides: dict, steps: int, snapshots: list[int] | None = None) -> Path:
    """Train (or resume, or skip when finished) one run; returns its export directory."""
    if (run / "summary.json").exists() and json.loads((run / "summary.json").read_text()).get("finished"):
        return run / "export"
    resume = (run / "checkpoints" / "last.pt").exists()
    cfg = load_config("cpu-tiny", overrides)
    cfg["train"].update(max_steps=steps, time_budget_s=None, eval_every=10**9, snapshot_steps=snapshots or [])
    pretrain(store, cfg, run, resume=resume, progress=False)
    return run / "export"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--cells", type=int, default=3000)
    ap.add_argument("--tissues", type=int, nargs="*", default=[10, 11, 12])
    ap.add_argument("--difficulty", default="easy")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--variant", action="append", required=True, help="NAME=KEY=VALUE[,KEY=VALUE...]")
    ap.add_argument("--reference", default=None, help="variant the others are compared with (default: the first)")
    ap.add_argument("--md", type=Path, default=Path(__file__).with_name("results") / "recipe_sweep.md")
    args = ap.parse_args()
    variants = {}
    for v in args.variant:
        name, _, sets = v.partition("=")
        variants[name] = parse_overrides([s for s in sets.split(",") if s])
    ref = args.reference or next(iter(variants))
    t0 = time.perf_counter()
    scores: dict[str, list[dict]] = {name: [] for name in variants}
    walls: dict[str, list[float]] = {name: [] for name in variants}
    for tissue in args.tissues:
        store = P.synthetic_store(args.work, tissue, args.difficulty, args.cells)
        for name, ov in variants.items():
            run = args.work / f"{args.difficulty}{tissue}" / f"{name}_{args.steps}"
            export = train(store, run, ov, args.steps)
            walls[name].append(json.loads((run / "summary.json").read_text())["wall_s"])
            adata = P.embed_export(store, export, run / "embedding.h5ad", name)
            s = P.cell_scores(adata)
            s["within"] = P.within_mean(s)
            scores[name].append(s)
            print(json.dumps({"tissue": tissue, "variant": name, **{m: float(np.nanmean(s[m])) for m in METRICS}}), flush=True)
    n = len(next(iter(scores[ref]))["recall5"])
    lines = [f"\n### {date.today()} — {platform.machine()}, {torch.get_num_threads()} torch threads, cpu-tiny, "
             f"{args.cells}-cell {args.difficulty} tissues (seeds {', '.join(map(str, args.tissues))}), {args.steps} steps "
             f"per run; total {(time.perf_counter() - t0) / 60:.0f} min\n",
             "Score = mean over tissues (kNN k = 15, 5-fold CV over all cells, [morph CLS | micro CLS]); in brackets the "
             f"paired difference to `{ref}` with its 95 % bootstrap CI. within = subtype inside macrophages (TAM vs "
             f"stromal) and fibroblasts (CAF vs stromal), groups weighted equally; R@5 chance = {5 / n:.4f}.\n",
             "| variant | overrides | wall (s) | " + " | ".join(METRICS) + " |", "|---|---|---|" + "---|" * len(METRICS)]
    for name, ov in variants.items():
        cells = []
        for m in METRICS:
            val = P.score_of([s[m] for s in scores[name]])
            if name == ref:
                cells.append(f"{val:.3f}")
            else:
                d, lo, hi = P.paired_diff([s[m] for s in scores[name]], [s[m] for s in scores[ref]])
                cells.append(f"{val:.3f} ({d:+.3f} [{lo:+.3f}, {hi:+.3f}])")
        sets = ", ".join(f"{k}.{kk}={vv}" for k, d in ov.items() for kk, vv in d.items()) or "preset"
        lines.append(f"| {name} | {sets} | {np.mean(walls[name]):.0f} | " + " | ".join(cells) + " |")
    append_results(args.md, "\n".join(lines))


if __name__ == "__main__":
    main()
