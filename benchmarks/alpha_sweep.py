"""Sweep the cross-view weight alpha of the MAD loss; each run is also the trained-vs-untrained check.

    python benchmarks/alpha_sweep.py --work /tmp/alpha_sweep [--tissues 0 1] [--alphas 0 0.5 1 2] [--steps 400]

For every synthetic tissue (easy, fluorescence, ``--cells`` cells, one seed each) and every alpha:
pretrain cpu-tiny for the same number of optimiser steps (``--steps``; or ``--budget`` seconds) with
the same training seed and held-out cells, then embed the held-out cells with the trained teacher and
with the untrained initial model (same seed, so the very model the run started from) and compare
them with the same cross-validated cosine kNN probe ([morph CLS | micro CLS], k = 15, 5 folds, same
folds for both). Per label the table gives the trained accuracy, the paired difference to the
untrained model and its 95 % bootstrap CI (cells resampled, both models on the same resample), and
cross-view Recall@5 with its chance level. Appends a Markdown table to ``--md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from madcell.config import load_config
from madcell.data.store import ViewStore
from madcell.train import pretrain
from madcell.train.checkpoint import load_checkpoint
from madcell.train.data import split_cells
from madcell.train.heldout import HeldOut
from madcell.train.probes import knn_cv_predict
from madcell.train.setup import build_parts, view_sizes

from protocol import append_results

LABELS = ("niche", "subtype", "cell_type")


def make_store(work: Path, cells: int, seed: int) -> Path:
    store = work / f"tissue{seed}" / "store.h5"
    if not store.exists():
        from madcell.synthetic import make_tissue
        from madcell.views import prepare

        make_tissue(store.parent / "tissue", n_cells=cells, seed=seed, modality="fluorescence", difficulty="easy")
        prepare(store.parent / "tissue", store, config="cpu-tiny", progress=False)
    return store


def correct(emb: dict[str, np.ndarray], labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Per held-out cell: is its cross-validated kNN prediction right? (1.0 / 0.0)."""
    both = np.concatenate([emb["morph"], emb["micro"]], axis=1)
    _, y, pred = knn_cv_predict(both, labels, k=k, n_folds=5, seed=seed)
    return (pred == y).astype(float)


def paired_ci(a: np.ndarray, b: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``a - b`` and its 95 % percentile bootstrap interval over cells."""
    d = a - b
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    return float(d.mean()), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def compare(store: Path, run: Path) -> dict:
    """Trained teacher (``run``'s last checkpoint) vs its untrained initial model on the held-out cells."""
    ck = load_checkpoint(run / "checkpoints" / "last.pt")
    cfg = ck["cfg"]
    vs = ViewStore(store)
    sizes = view_sizes(cfg, vs)
    seed, k = int(cfg["train"]["seed"]), int(cfg["evaluate"]["knn_k"])
    _, ev = split_cells(len(vs), int(cfg["train"]["eval_cells"]), seed)
    held = HeldOut(vs, ev, list(LABELS), sizes, knn_k=k, seed=seed)
    _, untrained = build_parts(cfg, vs.n_channels, sizes)
    _, trained = build_parts(cfg, vs.n_channels, sizes)
    trained.load_state_dict(ck["teacher"])
    out = {"steps": int(ck["it"]), "n_eval": len(held)}
    embs = {}
    for name, net in (("untrained", untrained), ("trained", trained)):
        net.eval()
        embs[name] = held.embed(net, torch.device("cpu"), "fp32")
        out[f"recall@5_{name}"] = held.probe(embs[name])["recall@5"]
    out["recall@5_chance"] = min(5, len(held)) / len(held)
    for c in LABELS:
        t, u = correct(embs["trained"], held.labels[c], k, seed), correct(embs["untrained"], held.labels[c], k, seed)
        d, lo, hi = paired_ci(t, u)
        out[c] = {"trained": float(t.mean()), "untrained": float(u.mean()), "diff": d, "ci": [lo, hi]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--cells", type=int, default=3000)
    ap.add_argument("--tissues", type=int, nargs="*", default=[0, 1], help="synthetic tissue seeds")
    ap.add_argument("--alphas", type=float, nargs="*", default=[0.0, 0.5, 1.0, 2.0])
    ap.add_argument("--steps", type=int, default=400, help="optimiser steps per run (same for every alpha)")
    ap.add_argument("--budget", type=float, default=None, help="seconds per run instead of --steps")
    ap.add_argument("--eval-cells", type=int, default=600)
    ap.add_argument("--md", type=Path, default=Path(__file__).with_name("results") / "alpha_sweep.md")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    t0, rows = time.perf_counter(), []
    for tissue in args.tissues:
        store = make_store(args.work, args.cells, tissue)
        for a in args.alphas:
            run = args.work / f"tissue{tissue}" / f"alpha_{a:g}"
            shutil.rmtree(run, ignore_errors=True)
            train = {"probe_labels": list(LABELS), "eval_cells": args.eval_cells}
            train.update({"time_budget_s": args.budget} if args.budget else {"max_steps": args.steps})
            s = pretrain(store, load_config("cpu-tiny", {"loss": {"alpha": a}, "train": train}), run, progress=False)
            rows.append({"tissue": tissue, "alpha": a, "wall_s": s["wall_s"], **compare(store, run)})
            print(json.dumps(rows[-1], default=float), flush=True)
    wall = time.perf_counter() - t0

    runs = f"{args.budget:g} s per run" if args.budget else f"{args.steps} steps per run"
    lines = [f"\n### {date.today()} — {platform.machine()}, {torch.get_num_threads()} torch threads, cpu-tiny, "
             f"{args.cells}-cell easy fluorescence tissues (seeds {', '.join(map(str, args.tissues))}), {runs}, "
             f"{rows[0]['n_eval']} held-out cells; total {wall / 60:.0f} min\n",
             "Trained teacher's kNN accuracy (k = 15, 5-fold CV on the held-out cells, [morph CLS | micro CLS]); "
             "in brackets the paired difference to the untrained initial model with its 95 % bootstrap CI. "
             "R@5 = cross-view Recall@5 (trained / untrained; chance "
             f"{rows[0]['recall@5_chance']:.3f}).\n",
             "| tissue | alpha | steps | wall (s) | " + " | ".join(LABELS) + " | R@5 |",
             "|---|---|---|---|" + "---|" * len(LABELS) + "---|"]
    for tissue in args.tissues:
        first = next(r for r in rows if r["tissue"] == tissue)
        lines.append(f"| {tissue} | untrained | 0 | – | " + " | ".join(f"{first[c]['untrained']:.3f}" for c in LABELS)
                     + f" | {first['recall@5_untrained']:.3f} |")
        for r in (r for r in rows if r["tissue"] == tissue):
            cells = " | ".join(f"{r[c]['trained']:.3f} ({r[c]['diff']:+.3f} [{r[c]['ci'][0]:+.3f}, {r[c]['ci'][1]:+.3f}])"
                               for c in LABELS)
            lines.append(f"| {tissue} | {r['alpha']:g} | {r['steps']} | {r['wall_s']:.0f} | {cells} | "
                         f"{r['recall@5_trained']:.3f} |")
    lines += ["", "Mean paired difference to the untrained model over the tissues:", "",
              "| alpha | " + " | ".join(LABELS) + " |", "|---|" + "---|" * len(LABELS)]
    for a in args.alphas:
        sel = [r for r in rows if r["alpha"] == a]
        lines.append(f"| {a:g} | " + " | ".join(f"{np.mean([r[c]['diff'] for r in sel]):+.3f}" for c in LABELS) + " |")
    append_results(args.md, "\n".join(lines))


if __name__ == "__main__":
    main()
