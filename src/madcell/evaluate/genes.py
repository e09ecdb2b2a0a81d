"""Gene-expression decoding on held-out cells: per-gene Pearson r and MAE.

decode's MLP regressor is fit on the training folds (with its own validation split for early
stopping) and predicts the held-out fold, in the configured target transform's space. The per-cell
predictions are kept, so bootstrap CIs only re-weight held-out cells.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from madcell.evaluate.bootstrap import weighted_pearson
from madcell.evaluate.splits import Split


def heldout_gene_predictions(X: np.ndarray, Y: np.ndarray, splits: Sequence[Split], decode_cfg: Mapping,
                             genes: Sequence[str]) -> list[np.ndarray]:
    """Predictions (n_test, G) for the test cells of every split."""
    from madcell.decode.mlp import split_train_val
    from madcell.decode.regressor import fit_regressor

    out = []
    for s in splits:
        tr, va = split_train_val(s.train, float(decode_cfg["val_frac"]), int(decode_cfg["seed"]) + s.seed)
        dec = fit_regressor(X, Y, decode_cfg, tr, va, genes, decode_cfg["gene_transform"])
        out.append(dec.predict(X[s.test]))
    return out


def pearson_fn(y_true: np.ndarray, y_pred: np.ndarray):
    """metric(w) -> (B, G) weighted per-gene Pearson r."""
    return lambda w: weighted_pearson(y_pred, y_true, w)


def mae_fn(y_true: np.ndarray, y_pred: np.ndarray):
    """metric(w) -> (B, G) weighted per-gene mean absolute error."""
    err = np.abs(np.asarray(y_pred, np.float64) - np.asarray(y_true, np.float64))
    return lambda w: (w @ err) / w.sum(axis=1, keepdims=True)


def per_cell_mse(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """(n,) mean over genes of the squared error of each cell."""
    return ((np.asarray(y_pred, np.float64) - np.asarray(y_true, np.float64)) ** 2).mean(axis=1)
