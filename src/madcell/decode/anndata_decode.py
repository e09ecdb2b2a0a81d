"""Decoders on an embedding AnnData: fit, write predictions back, save the decoders.

Predictions land in ``obs['pred_<label>']`` (+ ``obsm['pred_proba_<label>']``, columns listed in
``uns['madcell_decode']``) and ``layers['pred_expression']`` (in the target transform's space, NaN
for genes that were not decoded; ``obsm['pred_expression']``, columns = ``uns['madcell_decode']['genes']``,
when decoders are applied to an AnnData without those genes in ``var``). With ``decode.cross_fit = k > 1`` every labelled cell is predicted
by a decoder that never saw it (group-aware folds, as in the evaluation), which is what maps of
predicted vs measured expression should show; the saved decoders are always fit on all labelled cells
and predict the unlabelled ones. ``apply_decoders`` reuses a saved folder on a new AnnData (e.g. an
H&E-only slide embedded with the same encoder).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd

from madcell.decode.classifier import ClassifierDecoder, decode_section, fit_classifier
from madcell.decode.mlp import split_train_val
from madcell.decode.regressor import RegressionDecoder, fit_regressor
from madcell.decode.transforms import transform_expression, transform_label
from madcell.errors import InputError
from madcell.utils.atomic import atomic_write_text
from madcell.utils.log import status
from madcell.utils.device import single_threaded


def read_embedding(path: str | Path) -> ad.AnnData:
    """Read an embedding .h5ad, turning a missing/unreadable file into an InputError."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "embedding AnnData does not exist")
    try:
        return ad.read_h5ad(p)
    except Exception as exc:  # h5py/anndata raise several types for a non-AnnData file
        raise InputError(p, f"is not a readable .h5ad ({type(exc).__name__}: {exc})") from exc


def embedding_of(adata: ad.AnnData, key: str | None = None) -> tuple[np.ndarray, str]:
    """The embedding matrix named by ``key`` or ``uns['madcell']['embedding_key']``."""
    key = key or adata.uns.get("madcell", {}).get("embedding_key")
    if key is None:
        raise InputError("--key", "the AnnData names no embedding (uns['madcell']['embedding_key']); pass --key")
    if key not in adata.obsm:
        raise InputError("--key", f"obsm has no {key!r} (has: {', '.join(adata.obsm.keys())})")
    X = np.asarray(adata.obsm[key], dtype=np.float32)
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        raise InputError(adata.uns.get("madcell", {}).get("path") or f"obsm[{key!r}]",
                         f"{int(bad.sum())} of {len(X)} embedding rows are NaN/Inf (e.g. cells "
                         f"{list(adata.obs_names[bad][:3])}); re-embed them")
    return X, key


def resolve_genes(adata: ad.AnnData, genes: str | Sequence[str] | None) -> list[str]:
    """``'all'`` -> every var (none if no expression), ``'none'``/None -> [], or an explicit list."""
    if genes is None or (isinstance(genes, str) and genes.lower() == "none"):
        return []
    if isinstance(genes, str) and genes.lower() == "all":
        return [str(g) for g in adata.var_names]
    if isinstance(genes, str):
        genes = [g.strip() for g in genes.split(",") if g.strip()]
    missing = [g for g in genes if g not in adata.var_names]
    if missing:
        raise InputError("--genes", f"not in the AnnData's var: {', '.join(missing[:10])}")
    return list(genes)


def check_labels(adata: ad.AnnData, labels: Sequence[str]) -> list[str]:
    missing = [c for c in labels if c not in adata.obs.columns]
    if missing:
        raise InputError("--label", f"obs has no column {', '.join(missing)} (has: {', '.join(map(str, adata.obs.columns))})")
    return list(labels)


def label_values(adata: ad.AnnData, col: str) -> np.ndarray:
    v = adata.obs[col].astype(object).to_numpy()
    return np.array([None if (x is None or x != x or str(x) == "") else str(x) for x in v], dtype=object)


def _folds(adata: ad.AnnData, idx: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    from madcell.evaluate.splits import assign_folds

    fold = assign_folds(adata, k, seed, split="auto")
    return [idx[fold[idx] == f] for f in range(k)]


@single_threaded
def decode_anndata(
    adata: ad.AnnData,
    labels: Sequence[str],
    genes: str | Sequence[str] | None,
    cfg: Mapping | None = None,
    key: str | None = None,
    decoders_dir: str | Path | None = None,
) -> ad.AnnData:
    """Fit a classifier per label column and one regressor for ``genes``; return ``adata`` with the
    predictions added (in place). Decoders are saved to ``decoders_dir`` when given."""
    c = decode_section(cfg)
    X, key = embedding_of(adata, key)
    if adata.n_obs < 20:
        raise InputError("embedding AnnData", f"has {adata.n_obs} cells; fitting decoders needs at least 20 "
                                              "(training and validation cells)")
    labels = check_labels(adata, labels)
    gene_list = resolve_genes(adata, genes)
    k, seed = int(c["cross_fit"]), int(c["seed"])
    info: dict = {"embedding_key": key, "labels": {}, "genes": gene_list, "cross_fit": k,
                  "in_sample": k < 2}
    saved: dict = {}
    for col in labels:
        status("decode: label %s (%s)", col, f"{k}-fold out-of-fold + final fit" if k >= 2 else "in-sample fit")
        y = label_values(adata, col)
        known = np.flatnonzero(np.array([v is not None for v in y]))
        dec = fit_classifier(X, y, c)
        proba = dec.predict_proba(X)
        if k >= 2:
            for test in _folds(adata, known, k, seed):
                train, val = split_train_val(np.setdiff1d(known, test), float(c["val_frac"]), seed, y.astype(str))
                if len({y[i] for i in train}) < 2:
                    continue
                sub = fit_classifier(X, y, c, train, val)
                cols = [dec.classes.index(cl) for cl in sub.classes]
                p = np.zeros((len(test), len(dec.classes)), np.float32)
                p[:, cols] = sub.predict_proba(X[test])
                proba[test] = p
        pred = np.asarray(dec.classes, dtype=object)[proba.argmax(1)]
        adata.obs[f"pred_{col}"] = pd.Categorical(pred, categories=dec.classes)
        adata.obsm[f"pred_proba_{col}"] = proba.astype(np.float32)
        info["labels"][col] = {"classes": dec.classes, "best_epoch": dec.meta["history"]["best_epoch"],
                               "scores": label_scores(y[known].astype(str), pred[known].astype(str))}
        saved[col] = dec
    if gene_list:
        status("decode: %d genes (%s)", len(gene_list), f"{k}-fold out-of-fold + final fit" if k >= 2 else "in-sample fit")
        cols = adata.var_names.get_indexer(gene_list)
        Y = transform_expression(adata.X, c["gene_transform"], cols)
        dec = fit_regressor(X, Y, c, genes=gene_list, transform=c["gene_transform"])
        pred = dec.predict(X)
        if k >= 2:
            for test in _folds(adata, np.arange(adata.n_obs), k, seed):
                train, val = split_train_val(np.setdiff1d(np.arange(adata.n_obs), test), float(c["val_frac"]), seed)
                pred[test] = fit_regressor(X, Y, c, train, val, gene_list, c["gene_transform"]).predict(X[test])
        layer = np.full(adata.shape, np.nan, dtype=np.float32)
        layer[:, cols] = pred
        adata.layers["pred_expression"] = layer
        info["gene_scores"] = gene_scores(Y, pred, gene_list)
        info["transform"] = c["gene_transform"]
        info["space"] = transform_label(c["gene_transform"])
        saved["expression"] = dec
    if decoders_dir is not None:
        save_decoders(saved, decoders_dir, key)
        info["decoders_dir"] = str(decoders_dir)
    adata.uns["madcell_decode"] = info
    return adata


def label_scores(y: np.ndarray, pred: np.ndarray) -> dict:
    """Accuracy and balanced accuracy (mean per-class recall) of predictions on the labelled cells:
    held-out when ``decode.cross_fit`` >= 2, in-sample otherwise (``uns['madcell_decode']['in_sample']``)."""
    from madcell.evaluate.probes import accuracy_fn, balanced_accuracy_fn

    correct = y == pred
    one = np.ones((1, len(y)))
    return {"n_cells": int(len(y)), "accuracy": float(accuracy_fn(correct)(one)[0]),
            "balanced_accuracy": float(balanced_accuracy_fn(y, correct)(one)[0])}


def gene_scores(Y: np.ndarray, pred: np.ndarray, genes: Sequence[str]) -> dict:
    """Per-gene Pearson r (a list in the order of ``genes``) and MAE of the predictions (in the target
    transform's space), their mean / median."""
    from madcell.evaluate.genes import mae_fn, pearson_fn

    one = np.ones((1, len(Y)))
    r, mae = pearson_fn(Y, pred)(one)[0], mae_fn(Y, pred)(one)[0]
    return {"pearson_mean": float(np.nanmean(r)), "pearson_median": float(np.nanmedian(r)),
            "mae_mean": float(np.mean(mae)), "pearson": [float(v) for v in r]}  # in the order of ``genes``


def save_decoders(decoders: Mapping[str, ClassifierDecoder | RegressionDecoder], folder: str | Path, key: str) -> Path:
    """Save every decoder plus ``index.json`` (name -> kind) so ``apply_decoders`` finds them."""
    folder = Path(folder)
    index = {}
    for name, dec in decoders.items():
        fname = "expression" if name == "expression" else f"label_{name}"
        dec.save(folder, fname)
        index[name] = {"file": fname, "kind": "regressor" if isinstance(dec, RegressionDecoder) else "classifier"}
    atomic_write_text(folder / "index.json", json.dumps({"embedding_key": key, "decoders": index}, indent=2))
    return folder


def apply_decoders(adata: ad.AnnData, decoders_dir: str | Path, key: str | None = None) -> ad.AnnData:
    """Predict with a saved decoder folder (no training); adds the same fields as ``decode_anndata``."""
    folder = Path(decoders_dir)
    if not (folder / "index.json").exists():
        raise InputError(folder, "is not a decoder folder (no index.json)")
    index = json.loads((folder / "index.json").read_text())
    X, key = embedding_of(adata, key or index.get("embedding_key"))
    info: dict = {"embedding_key": key, "labels": {}, "genes": [], "applied_from": str(folder), "in_sample": False}
    for name, entry in index["decoders"].items():
        if entry["kind"] == "classifier":
            dec = ClassifierDecoder.load(folder, entry["file"])
            if dec.meta["in_dim"] != X.shape[1]:
                raise InputError(folder, f"decoder {name!r} expects {dec.meta['in_dim']}-d embeddings, {key!r} has {X.shape[1]}")
            proba = dec.predict_proba(X)
            adata.obs[f"pred_{name}"] = pd.Categorical(np.asarray(dec.classes, dtype=object)[proba.argmax(1)], categories=dec.classes)
            adata.obsm[f"pred_proba_{name}"] = proba
            info["labels"][name] = {"classes": dec.classes}
        else:
            dec = RegressionDecoder.load(folder, entry["file"])
            if dec.meta["in_dim"] != X.shape[1]:
                raise InputError(folder, f"decoder {name!r} expects {dec.meta['in_dim']}-d embeddings, {key!r} has {X.shape[1]}")
            pred = dec.predict(X).astype(np.float32)
            if adata.n_vars and all(g in adata.var_names for g in dec.genes):
                layer = np.full(adata.shape, np.nan, dtype=np.float32)
                layer[:, adata.var_names.get_indexer(dec.genes)] = pred
                adata.layers["pred_expression"] = layer
            else:  # no measured expression to align with (e.g. an H&E-only slide)
                adata.obsm["pred_expression"] = pred
            info.update(genes=dec.genes, transform=dec.meta["transform"], space=transform_label(dec.meta["transform"]))
    adata.uns["madcell_decode"] = info
    return adata
