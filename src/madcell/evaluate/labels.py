"""Metrics of one label column: clustering agreement and the supervised probes (kNN, linear, MLP).

Probes are fit on each split's training cells and predict its held-out cells
(:func:`probe_predictions`); what is scored is the per-cell correctness, re-weighted by the shared
bootstrap matrix ``W`` (:func:`probe_scores`), so resamples never refit a model. The same two
functions score a label inside the groups of another label (:mod:`.within`), restricted to a group's
cells.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from madcell.evaluate import clustering, probes
from madcell.evaluate.bootstrap import fold_samples, summarise
from madcell.evaluate.samples import SampleLog


def probe_predictions(X: np.ndarray, y: np.ndarray, cells: np.ndarray, splits, ec: Mapping, dc: Mapping | None,
                      mlp: bool) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """``{probe: [(held-out cell indices, predicted labels as str), ...]}`` over the splits, using only
    the cells where the bool mask ``cells`` is set (for training and for testing)."""
    ys = y.astype(str)
    preds: dict[str, list] = {"knn": [], "linear": []}
    if mlp:
        preds["mlp"] = []
    decoder_seeds = set(int(v) for v in ec["seeds"][: max(1, int(ec["decoder_seeds"]))])
    for s in splits:
        tr, te = s.train[cells[s.train]], s.test[cells[s.test]]
        if len(te) == 0 or len(tr) == 0:
            continue
        preds["knn"].append((te, probes.knn_predict(X[tr], ys[tr], X[te], int(ec["knn_k"]))))
        preds["linear"].append((te, probes.linear_predict(X[tr], ys[tr], X[te], float(ec["linear_C"]),
                                                          int(ec["linear_max_iter"]))))
        if mlp and s.seed in decoder_seeds:
            dcs = {**dc, "seed": int(dc["seed"]) + s.seed}
            preds["mlp"].append((te, probes.mlp_predict(X, y, tr, te, dcs)))
    return {name: [(te, np.asarray(p).astype(str)) for te, p in folds] for name, folds in preds.items()}


def probe_scores(folds: list, ys: np.ndarray, W: np.ndarray) -> dict[str, tuple]:
    """``{"accuracy": (point, (B,) samples), "balanced_accuracy": ...}`` of one probe's folds."""
    acc = [(te, probes.accuracy_fn(p == ys[te])) for te, p in folds]
    bal = [(te, probes.balanced_accuracy_fn(ys[te], p == ys[te])) for te, p in folds]
    return {"accuracy": fold_samples(acc, W), "balanced_accuracy": fold_samples(bal, W)}


def label_metrics(X, y, known, splits, W, clusters, ec, dc, log: SampleLog, path: str) -> dict:
    """Clustering scores and probe accuracies of label ``y`` (None = unknown) on the ``known`` cells;
    probe samples are kept in ``log`` under ``path``.<probe>.<metric>."""
    yk = y[known].astype(str)
    classes = np.unique(yk)
    out: dict = {"n_cells": int(known.sum()), "n_classes": int(len(classes))}
    if len(classes) < 2:
        out["skipped"] = "fewer than two classes"
        return out
    Wk = W[:, known]
    ci = float(ec["ci"])
    for name, lab in (("kmeans", clusters["kmeans"](len(classes))), ("leiden", clusters["leiden"])):
        pt = clustering.clustering_scores(yk, lab[known], np.ones((1, len(yk))))
        bs = clustering.clustering_scores(yk, lab[known], Wk)
        out[name] = {m: summarise(pt[m][0], bs[m], ci) for m in pt}
        out[name]["n_clusters"] = int(len(np.unique(lab[known])))
    ys = y.astype(str)
    for name, folds in probe_predictions(X, y, known, splits, ec, dc, bool(ec["mlp_probe"])).items():
        out[name] = {m: log.summary(f"{path}.{name}.{m}", *v) for m, v in probe_scores(folds, ys, W).items()}
    return out
