"""Cheap representation probes used while training.

* :func:`recall_at_k` — cross-view retrieval: does a cell's morphology CLS find the same cell's
  microenvironment CLS among all held-out cells? Chance is ``k / n``. It *is* the evaluation's
  implementation (:mod:`madcell.evaluate.retrieval`: ties count against the match), so a number in
  the training log and one in metrics.json mean the same thing.
* :func:`knn_accuracy` (predictions: :func:`knn_cv_predict`) — cross-validated cosine kNN classification
  of a label column, the standard frozen-feature probe of self-supervised learning (no training, no
  hyper-parameters beyond k), with the evaluation's classifier :func:`knn_predict`. The folds here
  are a seeded random partition of the held-out cells (cheap, label-free); ``evaluate`` uses
  group-aware spatial folds instead.
"""

from __future__ import annotations

import numpy as np

from madcell.evaluate.probes import knn_predict
from madcell.evaluate.retrieval import recall_at_k

__all__ = ["knn_accuracy", "knn_cv_predict", "knn_predict", "recall_at_k"]


def _labelled(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels as strings and the indices of the rows that have one (not NaN / empty / None)."""
    labels = np.asarray(labels).astype(str)
    return labels, np.flatnonzero(~np.isin(labels, ["", "nan", "None"]))


def knn_cv_predict(emb: np.ndarray, labels: np.ndarray, k: int = 15, n_folds: int = 5,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cross-validated kNN predictions: ``(kept, labels[kept], pred)``.

    Folds are a seeded random partition of the kept rows (rows with a missing label — NaN / empty
    string — are dropped); each fold is predicted from the other folds. The same ``seed`` gives the
    same folds for any embedding of the same cells, so two embeddings can be compared cell by cell.
    """
    labels, kept = _labelled(labels)
    emb, labels = np.asarray(emb)[kept], labels[kept]
    n = len(labels)
    n_folds = int(max(2, min(n_folds, n)))
    fold = np.random.default_rng(seed).permutation(n) % n_folds
    pred = np.empty(n, dtype=labels.dtype)
    for f in range(n_folds):
        te = fold == f
        pred[te] = knn_predict(emb[~te], labels[~te], emb[te], k)
    return kept, labels, pred


def knn_accuracy(emb: np.ndarray, labels: np.ndarray, k: int = 15, n_folds: int = 5, seed: int = 0) -> dict[str, float]:
    """Cross-validated cosine kNN probe (:func:`knn_cv_predict`): ``{"acc", "balanced_acc", "chance"}``.

    ``chance`` is the majority-class frequency; rows with a missing label are ignored.
    """
    labels, kept = _labelled(labels)
    if len(kept) < 2 or len(np.unique(labels[kept])) < 2:
        return {"acc": float("nan"), "balanced_acc": float("nan"), "chance": float("nan")}
    _, labels, pred = knn_cv_predict(emb, labels, k, n_folds, seed)
    classes, counts = np.unique(labels, return_counts=True)
    per_class = [np.mean(pred[labels == c] == c) for c in classes]
    return {"acc": float(np.mean(pred == labels)), "balanced_acc": float(np.mean(per_class)),
            "chance": float(counts.max() / len(labels))}
