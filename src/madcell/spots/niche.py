"""Niche distillation with spot niches: transcriptomic niches of spots taught to an image-only cell student.

The setting of cross-modal niche distillation (Hizmi et al.) when the expression is measured per spot:

1. held-out spots = whole spatial blocks (``niche.heldout_frac`` of each section); validation = blocks of
   the remaining spots; the cells under a spot share its split;
2. teacher: a mixture (``niche.teacher``) with ``niche.k_niches`` components on the spots' expression
   (log1p CP10k -> PCA fitted on training spots) or on a spot table (``source``: e.g. deconvolved
   ``proportions``), fitted on training spots and applied to all;
3. the teacher's soft niche of each training spot is the target of every cell under it; the student
   (image embedding + neighbours, :func:`madcell.niche.pipeline.distil_student`) is fitted on those cells
   and then labels every cell, including cells under no spot;
4. scores on held-out spots: a spot's prediction is the argmax of its cells' mean probabilities (student,
   GMM baselines) or their majority label (k-means), compared with the teacher's niche (ARI / NMI / AMI,
   bootstrap CIs over spots). Baselines: the clustering baselines of :mod:`madcell.niche.baselines` on
   the same cell features, and k-means of the pooled spot embeddings.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

from madcell.decode.anndata_decode import embedding_of
from madcell.decode.transforms import transform_expression
from madcell.errors import InputError
from madcell.niche.baselines import cluster_baselines
from madcell.niche.evaluate import bootstrap_scores
from madcell.niche.graph import spatial_graph
from madcell.niche.pipeline import distil_student, niche_config
from madcell.niche.split import spatial_block_split
from madcell.niche.teacher import NicheTeacher
from madcell.spots.assign import assign_cells_to_spots
from madcell.utils.device import single_threaded
from madcell.utils.log import status


def _teacher_features(spots: ad.AnnData, source: str, train: np.ndarray, seed: int) -> np.ndarray:
    if source == "expression":
        Y = transform_expression(spots.X, "cp10k_log1p")
        k = max(1, min(20, Y.shape[1], int(train.sum()) - 1))
        return PCA(k, random_state=seed).fit(Y[train]).transform(Y)
    if source not in spots.obsm:
        raise InputError(source, f"spot table not found (spots have: expression, {', '.join(spots.uns['madcell_spots']['label_tables'])})")
    return np.asarray(spots.obsm[source], np.float64)


def _spot_vote(cell_lab: np.ndarray | None, cell_proba: np.ndarray | None, members: list[np.ndarray], k: int) -> np.ndarray:
    if cell_proba is not None:
        return np.array([cell_proba[m].mean(0).argmax() for m in members])
    return np.array([np.bincount(cell_lab[m], minlength=k).argmax() for m in members])


@single_threaded
def run_spot_niche(cells: ad.AnnData, spots: ad.AnnData, cfg: dict | None = None, source: str = "expression") -> tuple[ad.AnnData, dict]:
    """Teacher niches of ``spots`` (a :func:`~madcell.spots.pool.pool_to_spots` AnnData) distilled into a
    student on ``cells`` (the embedding AnnData of the same section). Annotates both; returns (cells, metrics)."""
    c = niche_config(cfg)
    seed, k = int(c["seed"]), int(c["k_niches"])
    feats, key = embedding_of(cells, c["embedding_key"])
    info = spots.uns["madcell_spots"]
    sxy = spots.obs[["x_um", "y_um"]].to_numpy(np.float64)
    sslide = spots.obs["slide"].astype(str).to_numpy()
    if spots.n_obs < 4 * k:
        raise InputError(info.get("source"), f"{spots.n_obs} spots with cells: too few for {k} niches (need {4 * k})")
    held = spatial_block_split(sxy, sslide, c["heldout_frac"], c["blocks_per_axis"], seed)
    val = spatial_block_split(sxy, sslide, c["val_frac"], c["blocks_per_axis"], seed + 1, candidates=~held)
    train = ~held
    X = _teacher_features(spots, source, train, seed)
    teacher = NicheTeacher(k, c["teacher"], seed).fit(X[train])
    t_proba = teacher.predict_proba(X)
    t_lab, K = t_proba.argmax(1), teacher.n_niches

    radius = float(info["pool_radius_px"])
    cxy_px = cells.obs[["x_px", "y_px"]].to_numpy(np.float64)
    assign = assign_cells_to_spots(spots.obs[["x_px", "y_px"]].to_numpy(np.float64), cxy_px, radius)
    spot = assign.spot_of_cell
    under = spot >= 0
    c_train = under & train[np.maximum(spot, 0)]
    c_val = under & val[np.maximum(spot, 0)]
    c_fit = c_train & ~c_val
    target = np.zeros((cells.n_obs, K), np.float32)
    target[under] = t_proba[spot[under]]
    status("spot niches: %d spots (%d held out), %d cells under spots, %d elsewhere; teacher K = %d on %s",
           spots.n_obs, int(held.sum()), int(under.sum()), int((~under).sum()), K, source)
    xy = np.asarray(cells.obsm["spatial"], np.float64)
    cslide = cells.obs["slide"].astype(str).to_numpy() if "slide" in cells.obs else np.full(cells.n_obs, "0")
    graph = spatial_graph(xy, cslide, c["graph"], c["graph_k"], c["radius_um"], c["delaunay_prune_factor"])
    st = distil_student(feats, xy, graph, target, c_train, c_fit, c_val, c, seed)

    members = assign.cells_of_spot
    preds = {"student": _spot_vote(None, st["proba"], members, K)}
    for name, (lab, proba) in cluster_baselines(feats, graph, c_train, K, seed, c["baseline_pca_dims"]).items():
        preds[f"cells_{name}"] = _spot_vote(lab, proba, members, K)
    E = np.asarray(spots.obsm[key], np.float64)
    E = PCA(max(1, min(int(c["baseline_pca_dims"]), E.shape[1], int(train.sum()) - 1)), random_state=seed).fit(E[train]).transform(E)
    preds["spots_kmeans"] = KMeans(K, n_init=3, random_state=seed).fit(E[train]).predict(E)
    results = {n: bootstrap_scores(t_lab[held], p[held], c["bootstrap"], c["ci"], seed) for n, p in preds.items()}

    s_lab = st["proba"].argmax(1)
    cells.obs["spot_niche_student"] = pd.Categorical(s_lab.astype(str))
    cells.obsm["spot_niche_student_proba"] = st["proba"].astype(np.float32)
    cells.obs["spot_niche_split"] = pd.Categorical(np.where(~under, "no spot", np.where(c_train, np.where(c_val, "val", "train"), "heldout")))
    spots.obs["teacher_niche"] = pd.Categorical(t_lab.astype(str))
    spots.obs["niche_split"] = pd.Categorical(np.where(held, "heldout", np.where(val, "val", "train")))
    for n, p in preds.items():
        spots.obs[f"{n}_niche"] = pd.Categorical(p.astype(str))
    metrics = {
        "embedding_key": key, "teacher_source": source, "k_niches": K, "n_spots": int(spots.n_obs),
        "n_spots_heldout": int(held.sum()), "n_cells": int(cells.n_obs), "n_cells_under_spots": int(under.sum()),
        "n_cells_fit": int(c_fit.sum()), "n_cells_without_spot": int((~under).sum()),
        "student_niche_sizes_without_spot": np.bincount(s_lab[~under], minlength=K).tolist(),
        "teacher_niche_sizes_heldout": np.bincount(t_lab[held], minlength=K).tolist(),
        "student": {"kind": c["student"], "epochs": len(st["hist"]["train"]), "best_epoch": st["hist"]["best_epoch"]},
        "scored_on": "held-out spots (whole spatial blocks): spot label = argmax of its cells' mean probabilities "
                     "(majority for k-means); ARI / NMI / AMI vs the teacher, bootstrap over spots",
        "methods": results,
    }
    return cells, metrics
