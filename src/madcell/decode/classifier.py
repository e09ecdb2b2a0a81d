"""Cell-label decoder: a two-layer MLP classifier on a frozen embedding.

Cell types are imbalanced (a few abundant types, many rare ones), so training is class-balanced,
either by reweighting the cross-entropy (``balance: reweight``, weights n / (C x n_c)) or by a
``WeightedRandomSampler`` that draws every class equally often (``balance: sample``). Early stopping
watches the (equally balanced) loss on a stratified validation split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from torch import nn

from madcell.decode.mlp import MLP, hidden_width, predict_batched, split_train_val, train_mlp
from madcell.decode.persist import load_decoder_files, save_decoder


def decode_section(cfg: Mapping | None) -> dict:
    """Accept the full config, the ``decode`` section, or None (defaults)."""
    if cfg is None:
        from madcell.config import load_config

        return dict(load_config()["decode"])
    return dict(cfg["decode"]) if "decode" in cfg else dict(cfg)


class ClassifierDecoder:
    """A fitted classifier: ``predict`` (class names), ``predict_proba`` ((n, C), columns = ``classes``)."""

    def __init__(self, model: MLP, classes: list[str], meta: dict):
        self.model, self.classes, self.meta = model, list(classes), meta

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return torch.softmax(torch.as_tensor(predict_batched(self.model, X)), dim=1).numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes, dtype=object)[self.predict_proba(X).argmax(axis=1)]

    def save(self, folder: str | Path, name: str) -> Path:
        return save_decoder(self.model, {**self.meta, "kind": "classifier", "classes": self.classes}, folder, name)

    @classmethod
    def load(cls, folder: str | Path, name: str) -> "ClassifierDecoder":
        meta, state = load_decoder_files(folder, name)
        model = MLP(meta["in_dim"], len(meta["classes"]), meta["hidden"], meta["dropout"])
        model.load_state_dict(state)
        model.eval()
        return cls(model, meta["classes"], meta)


def fit_classifier(
    X: np.ndarray,
    y,
    cfg: Mapping | None = None,
    train_idx: np.ndarray | None = None,
    val_idx: np.ndarray | None = None,
) -> ClassifierDecoder:
    """Fit on ``train_idx`` (default: every cell with a label), early-stop on ``val_idx`` (default:
    a stratified ``val_frac`` of the training cells). Missing labels (NaN/None/"") are never used."""
    c = decode_section(cfg)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=object)
    known = np.array([v is not None and v == v and str(v) != "" for v in y])
    if train_idx is None:
        train_idx = np.flatnonzero(known)
        if val_idx is None:
            train_idx, val_idx = split_train_val(train_idx, float(c["val_frac"]), int(c["seed"]), y.astype(str))
    train_idx = np.asarray(train_idx)[known[np.asarray(train_idx)]]
    val_idx = np.zeros(0, np.int64) if val_idx is None else np.asarray(val_idx)[known[np.asarray(val_idx)]]
    classes = sorted({str(v) for v in y[train_idx]})
    if len(classes) < 2:
        raise ValueError("a classifier needs at least two classes among the training cells")
    lookup = {k: i for i, k in enumerate(classes)}
    codes = np.array([lookup.get(str(v), -1) for v in y], dtype=np.int64)
    val_idx = val_idx[codes[val_idx] >= 0]  # classes unseen in training cannot be scored
    counts = np.bincount(codes[train_idx], minlength=len(classes)).astype(np.float64)
    hidden = hidden_width(X.shape[1], c)
    model = MLP(X.shape[1], len(classes), hidden, float(c["dropout"]))
    if c["balance"] == "reweight":
        w = torch.as_tensor(counts.sum() / (len(classes) * np.maximum(counts, 1)), dtype=torch.float32)
        loss_fn, sample_w = nn.CrossEntropyLoss(weight=w), None
    elif c["balance"] == "sample":
        loss_fn, sample_w = nn.CrossEntropyLoss(), 1.0 / counts[codes[train_idx]]
    else:
        raise ValueError(f"decode.balance must be reweight or sample (got {c['balance']!r})")
    hist = train_mlp(model, X, codes, loss_fn, c, train_idx, val_idx, sample_w)
    meta = {"in_dim": int(X.shape[1]), "hidden": hidden, "dropout": float(c["dropout"]), "balance": c["balance"],
            "n_train": int(len(train_idx)), "n_val": int(len(val_idx)), "history": hist}
    return ClassifierDecoder(model, classes, meta)
