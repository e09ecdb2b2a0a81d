"""``run_niche``: teacher on expression, student on images, baselines, held-out evaluation.

Order of operations (nothing from the held-out blocks is used for fitting):

1. held-out = whole spatial blocks per slide; validation = blocks of the remaining training region;
2. cell types: given column, or Leiden fitted on training cells and transferred (kNN in PCA space);
3. per-slide spatial graph -> neighbourhood compositions -> teacher mixture fitted on training cells,
   applied to all cells (held-out reference niches = teacher applied to held-out compositions);
4. student distilled from the teacher's soft niches on training cells (early stopping on validation),
   applied to every cell from image embeddings + positions only;
5. clustering baselines on the same features; ARI / NMI / AMI with bootstrap CIs and composition JS
   on held-out cells; outputs written atomically when ``out_dir`` is given.
"""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch

from madcell.config import default_config, merge
from madcell.errors import InputError
from madcell.niche.baselines import cluster_baselines
from madcell.niche.celltypes import cell_types_from_column, derive_cell_types
from madcell.niche.composition import neighbourhood_composition, one_hot
from madcell.niche.distill import NeighbourBatches, predict_student, train_student
from madcell.niche.evaluate import bootstrap_scores, composition_agreement
from madcell.niche.graph import neighbour_lists, spatial_graph
from madcell.niche.split import spatial_block_split
from madcell.niche.student import build_student
from madcell.niche.teacher import NicheTeacher, choose_k
from madcell.utils.device import single_threaded
from madcell.utils.log import status

METHODS = ("student", "kmeans", "gmm", "nbr_gmm")


def niche_config(cfg: dict | None) -> dict:
    """The ``niche`` section: accepts a full config, the section itself, or None (defaults)."""
    base = default_config()["niche"]
    if not cfg:
        return base
    return merge(base, cfg["niche"] if "niche" in cfg else cfg, "niche config")


def _inputs(adata: ad.AnnData, c: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, str]:
    key = c["embedding_key"] or adata.uns.get("madcell", {}).get("embedding_key")
    if not key or key not in adata.obsm:
        raise InputError("embedding AnnData", f"has no embedding obsm[{key!r}] (obsm: {', '.join(adata.obsm)})")
    if "spatial" not in adata.obsm:
        raise InputError("embedding AnnData", "has no obsm['spatial'] (cell centroids)")
    feats = np.asarray(adata.obsm[key], dtype=np.float32)
    xy = np.asarray(adata.obsm["spatial"], dtype=np.float64)
    if not np.isfinite(feats).all() or not np.isfinite(xy).all():
        raise InputError("embedding AnnData", f"obsm[{key!r}] or obsm['spatial'] contains NaN/inf")
    slides = adata.obs["slide"].astype(str).to_numpy() if "slide" in adata.obs else np.full(adata.n_obs, "0")
    unit = adata.uns.get("madcell", {}).get("spatial_unit", "um")
    return feats, xy, slides, key, unit


def distil_student(feats: np.ndarray, xy: np.ndarray, graph, t_proba: np.ndarray, train: np.ndarray, fit: np.ndarray,
                   val: np.ndarray, c: dict, seed: int) -> dict:
    """The student (``c['student']``) distilled from ``t_proba`` on the ``fit`` cells, early-stopped on ``val``,
    features standardised on ``train``; returns model, batches, history, every cell's probabilities."""
    device = c["device"] if c["device"] != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    nbr_idx, nbr_mask = neighbour_lists(graph, xy, c["max_neighbours"])
    d = np.linalg.norm(xy[nbr_idx] - xy[:, None], axis=2)[nbr_mask]
    pos_scale = float(np.median(d)) if d.size and np.median(d) > 0 else 1.0
    batches = NeighbourBatches(feats, xy, nbr_idx, nbr_mask, fit_on=train, device=device)
    model = build_student(c["student"], feats.shape[1], t_proba.shape[1], c, pos_scale)
    status("niche: distilling the %s student (at most %d epochs)", c["student"], int(c["max_epochs"]))
    hist = train_student(model, batches, t_proba, np.flatnonzero(fit), np.flatnonzero(val), c, seed)
    return {"model": model, "batches": batches, "hist": hist, "proba": predict_student(model, batches, len(feats)),
            "pos_scale": pos_scale, "device": device}


@single_threaded
def run_niche(adata: ad.AnnData, cfg: dict | None = None, out_dir: str | Path | None = None) -> tuple[ad.AnnData, dict]:
    """Annotate ``adata`` in place with teacher / student / baseline niches; return it and the metrics."""
    c = niche_config(cfg)
    seed = int(c["seed"])
    feats, xy, slides, key, unit = _inputs(adata, c)
    if adata.n_obs < 50:
        raise InputError("embedding AnnData", f"has {adata.n_obs} cells; niche distillation needs at least 50")
    held = spatial_block_split(xy, slides, c["heldout_frac"], c["blocks_per_axis"], seed)
    train = ~held
    val = spatial_block_split(xy, slides, c["val_frac"], c["blocks_per_axis"], seed + 1, candidates=train)
    fit = train & ~val
    if c["cell_type_col"]:
        types, ct_source = cell_types_from_column(adata, c["cell_type_col"]), f"obs[{c['cell_type_col']!r}]"
    else:
        types = derive_cell_types(
            adata, train, c["leiden_n_pcs"], c["leiden_neighbors"], c["leiden_resolution"], seed=seed
        )
        ct_source = "leiden (fitted on training cells, kNN-transferred to held-out)"
    status("niche: %d cells (%d training, %d held out); cell types from %s", adata.n_obs, int(fit.sum()), int(held.sum()), ct_source)
    onehot, cats = one_hot(types)
    graph = spatial_graph(xy, slides, c["graph"], c["graph_k"], c["radius_um"], c["delaunay_prune_factor"])
    comp = neighbourhood_composition(graph, onehot, c["hops"])

    k, stab = int(c["k_niches"]), None
    if c["k_auto"]:
        k, stab = choose_k(comp[train], k, c["teacher"], seed, c["k_auto_boot"])
    status("niche: teacher with K = %d niches on neighbourhood compositions", k)
    teacher = NicheTeacher(k, c["teacher"], seed).fit(comp[train])
    t_proba = teacher.predict_proba(comp)
    t_lab = t_proba.argmax(1)

    st = distil_student(feats, xy, graph, t_proba, train, fit, val, c, seed)
    model, batches, hist, s_proba, pos_scale, device = (st[k] for k in ("model", "batches", "hist", "proba",
                                                                          "pos_scale", "device"))

    preds = {"student": (s_proba.argmax(1), s_proba)}
    status("niche: clustering baselines and held-out scores")
    preds.update(cluster_baselines(feats, graph, train, teacher.n_niches, seed, c["baseline_pca_dims"]))
    results = {}
    for name, (lab, _) in preds.items():
        r = bootstrap_scores(t_lab[held], lab[held], c["bootstrap"], c["ci"], seed)
        r["composition_js"] = composition_agreement(t_lab[held], lab[held], onehot[held])
        results[name] = r

    adata.obs["niche_cell_type"] = pd.Categorical(types.astype(str))
    adata.obs["niche_heldout"] = held
    adata.obs["niche_split"] = pd.Categorical(np.where(held, "heldout", np.where(val, "val", "train")))
    adata.obs["teacher_niche"] = pd.Categorical(t_lab.astype(str))
    adata.obsm["teacher_niche_proba"] = t_proba.astype(np.float32)
    adata.obsm["niche_composition"] = comp.astype(np.float32)
    for name, (lab, proba) in preds.items():
        adata.obs[f"{name}_niche"] = pd.Categorical(np.asarray(lab).astype(str))
        if proba is not None:
            adata.obsm[f"{name}_niche_proba"] = np.asarray(proba, dtype=np.float32)
    metrics = {
        "embedding_key": key,
        "spatial_unit": unit,
        "n_cells": int(adata.n_obs),
        "n_slides": int(len(np.unique(slides))),
        "n_train": int(fit.sum()),
        "n_val": int(val.sum()),
        "n_heldout": int(held.sum()),
        "cell_types": {"source": ct_source, "counts": {str(t): int(v) for t, v in zip(cats, onehot.sum(0))}},
        "graph": {"method": c["graph"], "mean_degree": float(graph.getnnz() / max(adata.n_obs, 1))},
        "k_niches": int(teacher.n_niches),
        "k_stability": None if stab is None else {str(a): b for a, b in stab.items()},
        "teacher_niche_sizes_heldout": np.bincount(t_lab[held], minlength=teacher.n_niches).tolist(),
        "student": {"kind": c["student"], "epochs": len(hist["train"]), "best_epoch": hist["best_epoch"],
                    "best_val_kd": float(min(hist["val"])), "device": device},
        "methods": results,
        "config": c,
    }
    adata.uns["madcell_niche"] = json.dumps(metrics)
    if out_dir is not None:
        from madcell.niche.persist import save_student
        from madcell.niche.report import write_outputs

        write_outputs(adata, metrics, Path(out_dir))
        # the teacher's mean neighbourhood composition per niche (training cells): what each niche means
        meaning = {str(j): dict(zip(map(str, cats), comp[train][t_lab[train] == j].mean(0).round(4).tolist()))
                   for j in range(teacher.n_niches) if (t_lab[train] == j).any()}
        save_student(model, Path(out_dir) / "student", kind=c["student"], d_in=feats.shape[1],
                     n_niches=teacher.n_niches, cfg=c, pos_scale=pos_scale, mu=batches.mu, sd=batches.sd,
                     embedding_key=key, spatial_unit=unit, niche_composition=meaning)
    return adata, metrics
