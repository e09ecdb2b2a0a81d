"""scanpy-based analysis helpers on tiny data."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from madcell.analysis import cluster, differential_expression, enrichment, pseudotime, umap
from madcell.evaluate.synthetic import make_embedding_anndata


@pytest.fixture(scope="module")
def adata():
    a = make_embedding_anndata(n=240, dim=8, n_genes=10, signal=4.0)
    # plant markers: GENE0 high in type_0, GENE1 high in type_1
    X = np.asarray(a.X).copy()
    t = a.obs["cell_type"].astype(str).to_numpy()
    X[t == "type_0", 0] += 30
    X[t == "type_1", 1] += 30
    a.X = X
    return a


def test_umap_and_clusters(adata):
    umap(adata, "X_planted")
    xy = adata.obsm["X_umap_X_planted"]
    assert xy.shape == (adata.n_obs, 2) and np.isfinite(xy).all()
    assert "X_umap" not in adata.obsm  # per-key name only
    for method in ("leiden", "louvain"):
        cluster(adata, "X_planted", method=method, resolution=0.5)
        col = f"{method}_X_planted"
        assert adjusted_rand_score(adata.obs["cell_type"], adata.obs[col]) > 0.8
    with pytest.raises(ValueError):
        cluster(adata, "X_planted", method="kmeans")


def test_differential_expression_and_enrichment(adata):
    de = differential_expression(adata, "cell_type")
    top = de.sort_values("scores", ascending=False).groupby("group", observed=True).head(1).set_index("group")["names"]
    assert top["type_0"] == "GENE0" and top["type_1"] == "GENE1"
    assert np.asarray(adata.X).max() > 30  # X keeps counts (DE ran on a normalised copy)
    sets = {"type0_markers": ["GENE0", "GENE9"], "nothing": ["GENE5", "NOT_MEASURED"]}
    enr = enrichment(adata, "cell_type", sets, top_n=2, de=de)
    row = enr[(enr.group == "type_0") & (enr.gene_set == "type0_markers")].iloc[0]
    # hypergeometric by hand: universe 10, set 2, draws 2, overlap >= 1 -> 1 - C(8,2)/C(10,2)
    assert row["overlap"] >= 1
    if row["overlap"] == 1:
        assert row["pval"] == pytest.approx(1 - 28 / 45)
    assert set(enr.columns) >= {"group", "gene_set", "overlap", "pval", "pval_adj"}
    assert (enr["pval_adj"] >= enr["pval"] - 1e-12).all()
    assert enr[enr.gene_set == "nothing"]["set_size"].iloc[0] == 1  # unmeasured genes leave the set


def test_pseudotime_increases_along_a_path():
    t = np.linspace(0, 1, 150)
    rng = np.random.default_rng(0)
    emb = np.stack([np.cos(3 * t), np.sin(3 * t), t], 1) + rng.normal(scale=0.01, size=(150, 3))
    a = make_embedding_anndata(n=150, dim=3)
    a.obsm["X_planted"] = emb.astype(np.float32)
    a.obs["stage"] = pd.Categorical(np.where(t < 0.1, "start", "later"))
    pseudotime(a, "X_planted", ("stage", "start"))
    dpt = a.obs["dpt_X_planted"].to_numpy()
    assert np.corrcoef(dpt, t)[0, 1] > 0.9
    pseudotime(a, "X_planted", 0)
    assert a.obs["dpt_X_planted"].iloc[0] == 0.0


@pytest.mark.parametrize("method", ["leiden", "louvain"])
def test_resolution_is_honoured(adata, method):
    counts = []
    for res in (0.2, 3.0):
        cluster(adata, "X_planted", method=method, resolution=res)
        counts.append(adata.obs[f"{method}_X_planted"].nunique())
    assert counts[1] > counts[0], counts  # scanpy's igraph Louvain ignored the resolution (same count)
    first = adata.obs[f"{method}_X_planted"].copy()
    cluster(adata, "X_planted", method=method, resolution=3.0)
    assert (adata.obs[f"{method}_X_planted"] == first).all()  # seeded: the same partition again
