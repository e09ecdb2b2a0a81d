"""Supervised probes of a frozen embedding: kNN (cosine, majority vote; the same function as the
training-time probes), linear (logistic regression on
standardised features) and, optionally, decode's MLP classifier.

Each probe is fit on the training folds and predicts the held-out fold; what is kept is the per-cell
correctness on held-out cells, so bootstrap resamples only re-weight those cells (no refits).
Accuracy and balanced accuracy (mean per-class recall, the fairer number for rare cell types) are
both reported.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def knn_predict(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, k: int = 15,
                chunk: int = 512) -> np.ndarray:
    """Majority vote of the ``k`` cosine-nearest training rows (ties: highest summed similarity).

    The one kNN classifier of madcell (the training-time probes use it too). Test rows are processed
    in chunks, so memory is ``chunk x n_train`` whatever the number of cells; among training rows of
    equal similarity the lower index is taken (stable sort; above 4,096 training rows the top k are
    selected by partition first, and a tie exactly at the k-th place is then broken arbitrarily).
    """
    y_train = np.asarray(y_train)
    classes, y = np.unique(y_train, return_inverse=True)
    k = int(max(1, min(k, len(X_train))))
    train = _unit(X_train)
    test = _unit(X_test)
    out = np.empty(len(test), dtype=classes.dtype)
    for s in range(0, len(test), chunk):
        sim = test[s : s + chunk] @ train.T
        if sim.shape[1] > 4096 and k < sim.shape[1]:  # top k first: a full sort per row is slow on many cells
            part = np.argpartition(-sim, k - 1, axis=1)[:, :k]
            nn = np.take_along_axis(part, np.argsort(-np.take_along_axis(sim, part, 1), axis=1, kind="stable"), 1)
        else:
            nn = np.argsort(-sim, axis=1, kind="stable")[:, :k]
        m = len(sim)
        votes = np.zeros((m, len(classes)))
        score = np.zeros_like(votes)
        rows = np.repeat(np.arange(m), k)
        np.add.at(votes, (rows, y[nn].ravel()), 1.0)
        np.add.at(score, (rows, y[nn].ravel()), np.take_along_axis(sim, nn, 1).ravel())
        best = votes + 1e-6 * score / (k + 1)  # vote count first, similarity only breaks ties
        out[s : s + chunk] = classes[np.argmax(best, axis=1)]
    return out


def linear_predict(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, C: float = 1.0, max_iter: int = 300) -> np.ndarray:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(y_train)) < 2:
        return np.full(len(X_test), y_train[0], dtype=y_train.dtype)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X_train, y_train).predict(X_test)


def mlp_predict(X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, decode_cfg: Mapping) -> np.ndarray:
    from madcell.decode.classifier import fit_classifier
    from madcell.decode.mlp import split_train_val

    if len(np.unique(y[train])) < 2:
        return np.full(len(test), y[train][0], dtype=object)
    tr, va = split_train_val(train, float(decode_cfg["val_frac"]), int(decode_cfg["seed"]), y.astype(str))
    return fit_classifier(X, y, decode_cfg, tr, va).predict(X[test])


def accuracy_fn(correct: np.ndarray):
    """metric(w) -> (B,) weighted accuracy."""
    c = np.asarray(correct, dtype=np.float64)
    return lambda w: (w @ c) / w.sum(axis=1)


def balanced_accuracy_fn(y_true: np.ndarray, correct: np.ndarray):
    """metric(w) -> (B,) weighted mean per-class recall (classes absent from a resample are skipped)."""
    _, codes = np.unique(y_true, return_inverse=True)
    onehot = np.eye(codes.max() + 1)[codes]
    hit = onehot * np.asarray(correct, dtype=np.float64)[:, None]

    def fn(w: np.ndarray) -> np.ndarray:
        den = w @ onehot
        rec = np.where(den > 0, (w @ hit) / np.where(den > 0, den, 1.0), np.nan)
        return np.nanmean(rec, axis=1)

    return fn
