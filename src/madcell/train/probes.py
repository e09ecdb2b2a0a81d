"""Cheap representation probes used while training (and reusable by the evaluation code).

* :func:`recall_at_k` — cross-view retrieval: does a cell's morphology CLS find the same cell's
  microenvironment CLS among all held-out cells? Chance is ``k / n``.
* :func:`knn_accuracy` (predictions: :func:`knn_cv_predict`) — cross-validated cosine kNN classification
  of a label column, the standard frozen-feature probe of self-supervised learning (no training, no
  hyper-parameters beyond k).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def recall_at_k(query: np.ndarray, gallery: np.ndarray, ks: Sequence[int] = (1, 5, 10)) -> dict[int, float]:
    """Fraction of rows ``i`` of ``query`` whose cosine-nearest ``k`` rows of ``gallery`` contain row ``i``.

    Ties are broken pessimistically (a gallery row with the same similarity as the match ranks first).
    """
    q, g = _unit(query), _unit(gallery)
    if len(q) != len(g):
        raise ValueError("query and gallery must pair row by row")
    sim = q @ g.T
    own = np.diag(sim)[:, None]
    rank = (sim >= own).sum(axis=1) - 1  # other rows at least as similar as the true match
    return {int(k): float(np.mean(rank < k)) for k in ks}


def knn_predict(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, k: int = 15) -> np.ndarray:
    """Majority vote of the ``k`` cosine-nearest training rows (ties: highest summed similarity)."""
    train_labels = np.asarray(train_labels)
    classes, y = np.unique(train_labels, return_inverse=True)
    k = int(min(k, len(train)))
    sim = _unit(test) @ _unit(train).T
    nn = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    votes = np.zeros((len(test), len(classes)))
    score = np.zeros_like(votes)
    rows = np.repeat(np.arange(len(test)), k)
    np.add.at(votes, (rows, y[nn].ravel()), 1.0)
    np.add.at(score, (rows, y[nn].ravel()), np.take_along_axis(sim, nn, 1).ravel())
    best = votes + 1e-6 * score / (k + 1)  # vote count first, similarity only breaks ties
    return classes[np.argmax(best, axis=1)]


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
