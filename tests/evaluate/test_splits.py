"""Group-aware folds never split a slide or a spatial block between train and test."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from madcell.evaluate.splits import assign_folds, make_splits, resolve_split, spatial_blocks


def _adata(n=400, slides=1, seed=0):
    rng = np.random.default_rng(seed)
    obs = pd.DataFrame({"slide": [f"s{i % slides}" for i in range(n)]}, index=[str(i) for i in range(n)])
    a = ad.AnnData(obs=obs)
    a.obsm["spatial"] = rng.uniform(0, 800, size=(n, 2))
    return a


def test_spatial_blocks_never_shared_between_train_and_test():
    a = _adata(slides=2)
    cfg = {"seeds": [0, 1], "n_folds": 4, "split": "auto", "block_um": None}
    assert resolve_split(a, 4, "auto") == "spatial_block"
    blocks = spatial_blocks(a.obsm["spatial"], a.obs["slide"].to_numpy(), 4)
    assert len(np.unique(blocks)) == 32  # 4 x 4 per slide, slides never share an id
    splits = make_splits(a, cfg)
    assert len(splits) == 8
    for s in splits:
        assert not set(blocks[s.train]) & set(blocks[s.test])
        assert len(np.intersect1d(s.train, s.test)) == 0 and len(s.train) + len(s.test) == a.n_obs
    sizes = [len(s.test) for s in splits[:4]]
    assert max(sizes) < 2 * min(sizes)  # greedy assignment keeps folds balanced
    f0, f1 = assign_folds(a, 4, 0), assign_folds(a, 4, 1)
    assert not np.array_equal(f0, f1)  # seeds give different fold layouts


def test_slide_split_when_enough_slides():
    a = _adata(slides=5)
    assert resolve_split(a, 4, "auto") == "slide"
    fold = assign_folds(a, 4, 0)
    for s in a.obs["slide"].unique():
        assert len(np.unique(fold[a.obs["slide"].to_numpy() == s])) == 1


def test_block_um_sets_the_block_side():
    xy = np.array([[0.0, 0.0], [99.0, 0.0], [101.0, 0.0], [0.0, 150.0]])
    b = spatial_blocks(xy, np.zeros(4), 4, block_um=100.0)
    assert b[0] == b[1] and b[1] != b[2] and b[3] not in (b[0], b[2])


def test_unknown_split_is_an_error():
    with pytest.raises(ValueError):
        resolve_split(_adata(), 4, "bogus")
