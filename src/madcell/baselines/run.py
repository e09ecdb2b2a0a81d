"""Fit a baseline on the training cells, embed every cell, write the shared AnnData form."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Mapping

import anndata as ad
import numpy as np

from madcell.baselines.registry import get_baseline
from madcell.data.source import ViewSource, open_views
from madcell.embed.anndata_form import embedding_to_anndata, write_h5ad


def run_baseline(
    name: str,
    store: str | Path | ViewSource,
    out: str | Path | None = None,
    cfg: Mapping | None = None,
    train_idx: np.ndarray | None = None,
    key: str | None = None,
) -> ad.AnnData:
    """Baseline ``name`` (``cfg``: overrides of ``baselines.<name>``) fitted on ``train_idx`` (None:
    every cell). ``obsm[key]`` (default ``X_<name>``) holds the embedding, ``key_morph`` /
    ``key_micro`` the per-view parts when the method has two views. Written to ``out`` when given."""
    store = open_views(store)
    key = key or f"X_{name}"
    model = get_baseline(name, cfg)
    t0 = time.monotonic()
    model.fit(store, train_idx)
    t_fit = time.monotonic() - t0
    parts = model.embed(store)
    info = {
        "baseline_config": json.dumps(model.cfg, default=str),
        "fit_seconds": float(t_fit),
        "embed_seconds": float(time.monotonic() - t0 - t_fit),
        "n_train_cells": int(len(store) if train_idx is None else len(train_idx)),
    }
    if getattr(model, "log", None):
        info["fit_steps"] = int(model.log["steps"])
    adata = embedding_to_anndata(store, {key + suffix: v for suffix, v in parts.items()}, key, name, info)
    if out is not None:
        write_h5ad(adata, out)
    return adata
