"""HEST-style ridge protocol on planted data: genes driven by the embedding are predicted, noise is not."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from madcell.benchmark.hest import fit_predict, hest_gene_prediction, select_genes

EVAL = {"n_folds": 3, "seeds": [0, 1], "split": "spatial_block", "block_um": None, "bootstrap": 200, "ci": 0.95}


def planted(n=600, d=12, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, d))
    W = rng.normal(size=(d, 4)) * 0.6
    signal = np.exp(1.0 + Z @ W)                    # 4 genes driven by the embedding
    noise = np.full((n, 3), np.exp(1.0))           # 3 genes of pure Poisson noise
    counts = rng.poisson(np.hstack([signal, noise])).astype(np.float32)
    obs = pd.DataFrame({"slide": np.where(np.arange(n) < n // 2, "a", "b")}, index=[f"c{i}" for i in range(n)])
    a = ad.AnnData(counts, obs=obs, var=pd.DataFrame(index=[f"sig{i}" for i in range(4)] + [f"noise{i}" for i in range(3)]))
    a.obsm["X_e"] = Z.astype(np.float32)
    a.obsm["spatial"] = rng.random((n, 2)) * 1000
    a.uns["madcell"] = {"embedding_key": "X_e", "method": "planted"}
    return a


def test_planted_genes_are_predicted_noise_is_not():
    a = planted()
    res = hest_gene_prediction(a, {"genes": "all", "pca_dims": 256}, EVAL)
    r = dict(zip(res["per_gene"]["gene"], res["per_gene"]["pearson"]["mean"]))
    assert min(r[f"sig{i}"] for i in range(4)) > 0.6
    assert max(abs(r[f"noise{i}"]) for i in range(3)) < 0.2
    pm = res["pearson_mean"]
    assert pm["lo"] <= pm["mean"] <= pm["hi"]
    np.testing.assert_allclose(pm["mean"], np.mean(list(r.values())), atol=1e-9)
    p = res["protocol"]
    assert "PCA (12 dims" in p["features"]  # capped at d
    assert "spatial_block" in p["split"] and "concatenated" in p["aggregation"] and p["n_genes"] == 7


def test_hvg_selection_and_no_pca():
    a = planted()
    cols = select_genes(a, "hvg", 4)
    assert cols == [0, 1, 2, 3]  # the embedding-driven genes vary most
    res = hest_gene_prediction(a, {"genes": "hvg", "n_genes": 4, "pca_dims": None, "alpha": 1.0}, EVAL)
    assert res["per_gene"]["gene"] == ["sig0", "sig1", "sig2", "sig3"]
    assert "no PCA" in res["protocol"]["features"] and "ridge, alpha = 1.0" in res["protocol"]["regressor"]


def test_fit_predict_uses_hest_alpha_and_caps_pca():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(30, 50)), rng.normal(size=(30, 5))
    P, k, alpha = fit_predict(X[:20], Y[:20], X[20:], 256, "hest")
    assert P.shape == (10, 5) and k == 19 and alpha == pytest.approx(100 / (19 * 5))
