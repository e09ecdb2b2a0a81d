"""Save the distilled niche student and apply it to a new, image-only slide.

``save_student`` writes ``student.safetensors`` (weights) and ``student.json`` (architecture, the
graph it was trained on, the feature standardisation of its training cells, the teacher's niche
compositions for reading the niches). ``apply_student`` rebuilds the same spatial graph on another
embedding AnnData (its positions and embeddings only: no expression), standardises the features with
the *training* statistics and writes ``obs['student_niche']`` and ``obsm['student_niche_proba']``.
"""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch

from madcell.errors import InputError
from madcell.utils.atomic import atomic_path, atomic_write_text

WEIGHTS, META = "student.safetensors", "student.json"
GRAPH_KEYS = ("graph", "graph_k", "radius_um", "delaunay_prune_factor", "max_neighbours")
ARCH_KEYS = ("d_model", "n_layers", "n_heads", "dropout", "hidden")


def save_student(model: torch.nn.Module, folder: str | Path, *, kind: str, d_in: int, n_niches: int, cfg: dict,
                 pos_scale: float, mu: np.ndarray, sd: np.ndarray, embedding_key: str, spatial_unit: str,
                 niche_composition: dict | None = None) -> Path:
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"kind": kind, "d_in": int(d_in), "n_niches": int(n_niches), "pos_scale": float(pos_scale),
            "arch": {k: cfg[k] for k in ARCH_KEYS}, "graph": {k: cfg[k] for k in GRAPH_KEYS},
            "feature_mean": np.asarray(mu, float).tolist(), "feature_sd": np.asarray(sd, float).tolist(),
            "embedding_key": embedding_key, "spatial_unit": spatial_unit,
            "niche_composition": niche_composition or {}}
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    atomic_write_text(folder / META, json.dumps(meta, indent=2))
    return folder


def load_student(folder: str | Path) -> tuple[torch.nn.Module, dict]:
    from safetensors.torch import load_file

    from madcell.niche.student import build_student

    folder = Path(folder)
    if not (folder / META).is_file() or not (folder / WEIGHTS).is_file():
        raise InputError(folder, f"is not a saved niche student ({META} + {WEIGHTS}; `madcell niche` writes one)")
    try:
        meta = json.loads((folder / META).read_text())
        model = build_student(meta["kind"], meta["d_in"], meta["n_niches"], meta["arch"], meta["pos_scale"])
        model.load_state_dict(load_file(str(folder / WEIGHTS)))
    except Exception as exc:  # noqa: BLE001 - any failure means the folder is unusable
        raise InputError(folder, f"niche student cannot be loaded ({type(exc).__name__}: {exc})") from exc
    return model.eval(), meta


def apply_student(adata: ad.AnnData, folder: str | Path, key: str | None = None) -> ad.AnnData:
    """Predict niches for every cell of ``adata`` from its embeddings and positions (in place)."""
    from madcell.niche.distill import NeighbourBatches, predict_student
    from madcell.niche.graph import neighbour_lists, spatial_graph

    model, meta = load_student(folder)
    key = key or meta["embedding_key"]
    if key not in adata.obsm:
        raise InputError(folder, f"the student reads obsm[{key!r}], which the AnnData lacks (has: {', '.join(adata.obsm)})")
    feats = np.asarray(adata.obsm[key], np.float32)
    if feats.shape[1] != meta["d_in"]:
        raise InputError(folder, f"the student expects {meta['d_in']}-d embeddings; obsm[{key!r}] is {feats.shape[1]}-d "
                                 "(embed with the run the student was trained on)")
    unit = adata.uns.get("madcell", {}).get("spatial_unit", "um")
    if unit != meta["spatial_unit"]:
        raise InputError(folder, f"the student was trained on positions in {meta['spatial_unit']}, this AnnData has {unit}")
    xy = np.asarray(adata.obsm["spatial"], np.float64)
    slides = adata.obs["slide"].astype(str).to_numpy() if "slide" in adata.obs else np.full(adata.n_obs, "0")
    g = meta["graph"]
    graph = spatial_graph(xy, slides, g["graph"], g["graph_k"], g["radius_um"], g["delaunay_prune_factor"])
    nbr_idx, nbr_mask = neighbour_lists(graph, xy, g["max_neighbours"])
    batches = NeighbourBatches(feats, xy, nbr_idx, nbr_mask, fit_on=None, device="cpu",
                               stats=(np.asarray(meta["feature_mean"], np.float32), np.asarray(meta["feature_sd"], np.float32)))
    proba = predict_student(model, batches, adata.n_obs)
    adata.obs["student_niche"] = pd.Categorical(proba.argmax(1).astype(str),
                                                categories=[str(i) for i in range(meta["n_niches"])])
    adata.obsm["student_niche_proba"] = proba.astype(np.float32)
    return adata
