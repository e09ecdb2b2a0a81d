"""Shared pieces of the method benchmarks (recipe sweep, learning curves), all through madcell's public API.

* :func:`synthetic_store` — a synthetic tissue and its cpu-tiny view store (cached on disk).
* :func:`embed_export` — embed every cell of a store with an exported teacher (a run's ``export/`` or
  one of its ``snapshots/step_N/``) into the AnnData form (cached).
* :func:`cell_scores` — per-cell correctness of cross-validated cosine kNN probes on [morph | micro]
  (labels, and a label *within* the groups of another, e.g. subtype inside each cell type), and
  per-cell cross-view Recall@5 hits. Per-cell vectors are what paired bootstrap CIs need.
* :func:`append_results` — append a dated table to ``benchmarks/results/*.md`` (and print it).
* :func:`paired_diff` — mean and 95 % CI of ``a - b`` over cells, resampled within each dataset, the
  statistic being the mean over datasets of the per-dataset means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

CONTEXT_ONLY = {"macrophage": ("macrophage_TAM", "macrophage_stromal"), "fibroblast": ("CAF", "fibroblast_stromal")}


def synthetic_store(work: Path, seed: int, difficulty: str = "easy", cells: int = 3000, preset: str = "cpu-tiny") -> Path:
    """``work/<difficulty><seed>/store.h5`` (made once: synth -> prepare with ``preset``'s view sizes)."""
    store = Path(work) / f"{difficulty}{seed}" / "store.h5"
    if not store.exists():
        from madcell.synthetic import make_tissue
        from madcell.views import prepare

        make_tissue(store.parent / "tissue", n_cells=cells, seed=seed, modality="fluorescence", difficulty=difficulty)
        prepare(store.parent / "tissue", store, config=preset, progress=False)
    return store


def embed_export(store: Path, export: Path, out: Path, method: str):
    """AnnData of every cell of ``store`` embedded by the teacher exported at ``export`` (cached at ``out``)."""
    import anndata as ad

    from madcell.embed.encode import embed_store
    from madcell.models.export import Encoder

    out = Path(out)
    if out.exists():
        return ad.read_h5ad(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return embed_store(store, Encoder.load(export), out, method=method, progress=False)


def _knn_correct(X: np.ndarray, y: np.ndarray, seed: int = 0, k: int = 15) -> np.ndarray:
    """Per cell of ``y``: is its 5-fold cross-validated cosine kNN prediction right? (NaN: no label)."""
    from madcell.train.probes import knn_cv_predict

    out = np.full(len(y), np.nan)
    kept, labels, pred = knn_cv_predict(X, y, k=k, n_folds=5, seed=seed)
    out[kept] = (pred == labels).astype(float)
    return out


def cell_scores(adata, labels: Sequence[str] = ("cell_type", "niche", "subtype"), key: str | None = None,
                within: Mapping[str, Mapping[str, Sequence[str]]] | None = None) -> dict[str, np.ndarray]:
    """Per-cell 0/1 vectors (NaN where a cell does not take part): ``knn_<label>``, ``within_<group>``
    (``within``: {label: {group value of cell_type: classes of label scored inside that group}}, default the
    synthetic tissue's context-only splits), and ``recall5`` (own micro embedding among the 5 nearest)."""
    from madcell.evaluate.retrieval import recall_hits

    key = key or adata.uns["madcell"]["embedding_key"]
    X = np.asarray(adata.obsm[key], dtype=np.float64)
    out: dict[str, np.ndarray] = {}
    obs = adata.obs
    for col in labels:
        if col in obs:
            out[f"knn_{col}"] = _knn_correct(X, obs[col].astype(str).to_numpy())
    within = {"subtype": CONTEXT_ONLY} if within is None else within
    for label, groups in within.items():
        if label not in obs or "cell_type" not in obs:
            continue
        for group, classes in groups.items():
            sel = np.flatnonzero((obs["cell_type"].astype(str) == group).to_numpy()
                                 & obs[label].astype(str).isin(list(classes)).to_numpy())
            v = np.full(len(obs), np.nan)
            if len(sel) >= 10:
                v[sel] = _knn_correct(X[sel], obs[label].astype(str).to_numpy()[sel])
            out[f"within_{group}"] = v
    if f"{key}_morph" in adata.obsm:
        out["recall5"] = recall_hits(adata.obsm[f"{key}_morph"], adata.obsm[f"{key}_micro"], (5,))[5].astype(float)
    return out


def score_of(per_dataset: Sequence[np.ndarray]) -> float:
    """Mean over datasets of the per-dataset mean (NaNs ignored)."""
    return float(np.mean([np.nanmean(v) for v in per_dataset]))


def paired_diff(a: Sequence[np.ndarray], b: Sequence[np.ndarray], n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean over datasets of mean(a - b), and its 95 % percentile bootstrap CI (cells resampled per dataset)."""
    rng = np.random.default_rng(seed)
    point, boots = [], []
    for x, y in zip(a, b):
        d = np.asarray(x, float) - np.asarray(y, float)
        d = d[np.isfinite(d)]
        point.append(d.mean())
        boots.append(d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1))
    bs = np.mean(boots, axis=0)
    return float(np.mean(point)), float(np.quantile(bs, 0.025)), float(np.quantile(bs, 0.975))


def within_mean(scores: Mapping[str, np.ndarray]) -> np.ndarray:
    """One per-cell vector for 'context-only subtype within its cell type': the groups' vectors merged,
    each group weighted so that the groups count equally (a cell's value times n_cells / (n_groups * n_group))."""
    parts = [v for k, v in scores.items() if k.startswith("within_")]
    if not parts:
        return np.array([np.nan])
    merged = np.full(len(parts[0]), np.nan)
    n = sum(int(np.isfinite(p).sum()) for p in parts)
    for p in parts:
        ok = np.isfinite(p)
        merged[ok] = p[ok] * n / (len(parts) * max(int(ok.sum()), 1))
    return merged


def append_results(md: Path, text: str) -> None:
    """Append ``text`` (a dated Markdown block) to the results file ``md`` and print it."""
    md = Path(md)
    md.parent.mkdir(parents=True, exist_ok=True)
    with open(md, "a") as fh:
        fh.write(text.rstrip("\n") + "\n")
    print(text)
