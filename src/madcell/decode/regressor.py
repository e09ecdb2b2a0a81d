"""Gene-expression decoder: a two-layer MLP regressor with a Smooth-L1 loss.

Targets are the configured transform of the counts (see :mod:`madcell.decode.transforms`), then
z-scored per gene with the training cells' statistics so that every gene weighs alike in the loss
and Smooth-L1's ``beta`` means the same for all of them; predictions are mapped back to the
transform's space.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from torch import nn

from madcell.decode.classifier import decode_section
from madcell.decode.mlp import MLP, hidden_width, predict_batched, split_train_val, train_mlp
from madcell.decode.persist import load_decoder_files, save_decoder


class RegressionDecoder:
    """A fitted regressor; ``predict`` returns (n, G) values in the target transform's space."""

    def __init__(self, model: MLP, genes: list[str], y_mean: np.ndarray, y_std: np.ndarray, meta: dict):
        self.model, self.genes, self.meta = model, list(genes), meta
        self.y_mean, self.y_std = np.asarray(y_mean, np.float32), np.asarray(y_std, np.float32)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return predict_batched(self.model, X) * self.y_std + self.y_mean

    def save(self, folder: str | Path, name: str) -> Path:
        meta = {**self.meta, "kind": "regressor", "genes": self.genes,
                "y_mean": self.y_mean.tolist(), "y_std": self.y_std.tolist()}
        return save_decoder(self.model, meta, folder, name)

    @classmethod
    def load(cls, folder: str | Path, name: str) -> "RegressionDecoder":
        meta, state = load_decoder_files(folder, name)
        model = MLP(meta["in_dim"], len(meta["genes"]), meta["hidden"], meta["dropout"])
        model.load_state_dict(state)
        model.eval()
        return cls(model, meta["genes"], np.array(meta["y_mean"]), np.array(meta["y_std"]), meta)


def fit_regressor(
    X: np.ndarray,
    Y: np.ndarray,
    cfg: Mapping | None = None,
    train_idx: np.ndarray | None = None,
    val_idx: np.ndarray | None = None,
    genes: Sequence[str] | None = None,
    transform: str | None = None,
) -> RegressionDecoder:
    """Fit ``Y`` (already in the target space, (n, G)) from ``X``. ``transform`` is only recorded."""
    c = decode_section(cfg)
    X = np.asarray(X, dtype=np.float32)
    Y = np.asarray(Y, dtype=np.float32)
    if Y.ndim == 1:
        Y = Y[:, None]
    if train_idx is None:
        train_idx, auto_val = split_train_val(len(X), float(c["val_frac"]), int(c["seed"]))
        val_idx = auto_val if val_idx is None else val_idx
    train_idx = np.asarray(train_idx)
    val_idx = np.zeros(0, np.int64) if val_idx is None else np.asarray(val_idx)
    y_mean = Y[train_idx].mean(axis=0)
    y_std = Y[train_idx].std(axis=0)
    y_std[y_std < 1e-6] = 1.0
    Z = (Y - y_mean) / y_std
    hidden = hidden_width(X.shape[1], c)
    model = MLP(X.shape[1], Y.shape[1], hidden, float(c["dropout"]))
    loss = nn.SmoothL1Loss(beta=float(c["smooth_l1_beta"]))
    hist = train_mlp(model, X, Z.astype(np.float32), loss, c, train_idx, val_idx)
    genes = [f"g{i}" for i in range(Y.shape[1])] if genes is None else [str(g) for g in genes]
    meta = {"in_dim": int(X.shape[1]), "hidden": hidden, "dropout": float(c["dropout"]),
            "transform": transform or c["gene_transform"], "n_train": int(len(train_idx)),
            "n_val": int(len(val_idx)), "history": hist}
    return RegressionDecoder(model, genes, y_mean, y_std, meta)
