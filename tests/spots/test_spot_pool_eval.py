"""Cell embeddings pooled under spots, and the spot-level scores (HEST protocol) of every embedding."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from madcell.config import load_config
from madcell.data.source import open_views
from madcell.embed import embed_store
from madcell.errors import InputError
from madcell.models import Encoder
from madcell.spots import read_spots
from madcell.spots.evaluate import evaluate_spots, summary_rows
from madcell.spots.pool import pool_to_spots
from madcell.synthetic.params import CELL_TYPES
from madcell.synthetic.spots import read_spot_truth
from madcell.views import prepare

TINY = {"model": {"arch": "custom", "embed_dim": 32, "depth": 1, "num_heads": 2, "layer_scale": None},
        "head": {"n_layers": 2, "hidden_dim": 32, "bottleneck_dim": 16, "out_dim": 64},
        "augment": {"morph_size": 28, "micro_size": 56}}
FAST = {"evaluate": {"bootstrap": 40, "n_folds": 3, "seeds": [0], "mlp_probe": False}}


@pytest.fixture(scope="module")
def cells(tissue, tmp_path_factory):
    d = tmp_path_factory.mktemp("emb")
    store = prepare(tissue, d / "v.h5", overrides=["prepare.morph_size=28", "prepare.micro_size=56"], progress=False)
    vs = open_views(store)
    enc = Encoder.untrained(load_config(None, TINY), vs.n_channels, list(vs.channel_names), seed=0)
    embed_store(vs, enc, d / "e.h5ad", progress=False)
    return ad.read_h5ad(d / "e.h5ad")


@pytest.fixture(scope="module")
def spots(visium_dir):
    s = read_spots(visium_dir)
    s.add_labels(*read_spot_truth(visium_dir))
    return s


def test_pooled_embedding_is_the_mean_of_the_cells_under_the_spot(cells, spots):
    out = pool_to_spots(cells, spots)
    xy = cells.obs[["x_px", "y_px"]].to_numpy()
    r = spots.spot_radius_px
    for sid in out.obs_names[:10]:
        cx, cy = spots.counts.obs.loc[sid, ["x_px", "y_px"]]
        inside = np.hypot(xy[:, 0] - cx, xy[:, 1] - cy) <= r
        assert inside.sum() == out.obs.loc[sid, "n_cells"] > 0
        np.testing.assert_allclose(out[sid].obsm["X_mad"][0], cells.obsm["X_mad"][inside].mean(0), rtol=1e-5, atol=1e-6)
    assert set(out.obsm) >= {"X_mad", "X_mad_morph", "X_mad_micro", "spatial", "composition"}
    assert out.uns["madcell_spots"]["label_tables"]["composition"] == list(CELL_TYPES)
    np.testing.assert_allclose(out.obsm["composition"].sum(1), 1.0, atol=1e-6)
    # the spot counts are the sum of its cells' counts (the synthetic grid's definition)
    sid = out.obs_names[0]
    cx, cy = spots.counts.obs.loc[sid, ["x_px", "y_px"]]
    inside = np.hypot(xy[:, 0] - cx, xy[:, 1] - cy) <= r
    np.testing.assert_allclose(np.asarray(out[sid].X.sum()), np.asarray(cells.X[inside].sum()), rtol=1e-6)
    wide = pool_to_spots(cells, spots, radius_factor=1.8)
    assert (wide.obs["n_cells"].to_numpy() >= out.obs["n_cells"].reindex(wide.obs_names).fillna(0).to_numpy()).all()
    assert wide.obs["n_cells"].sum() > out.obs["n_cells"].sum()


def test_cells_off_the_spot_grid_are_an_error(cells, spots):
    far = cells.copy()
    far.obs["x_px"] = far.obs["x_px"] + 1e6
    with pytest.raises(InputError, match="no spot holds"):
        pool_to_spots(far, spots)
    two = cells.copy()
    two.obs["slide"] = np.where(np.arange(two.n_obs) % 2, "a", "b")
    with pytest.raises(InputError, match="2 slides"):
        pool_to_spots(two, spots)
    with pytest.raises(InputError, match="matches a spot"):
        spots.add_labels(pd.DataFrame({"c": ["x"]}, index=["nope"]))


def test_every_embedding_scored_on_the_same_spots(cells, spots):
    pooled = pool_to_spots(cells, spots)
    res = evaluate_spots(pooled, cfg=FAST, hest={"n_genes": 8, "pca_dims": 16})
    assert set(res["methods"]) == {"X_mad", "X_mad_morph", "X_mad_micro"}
    assert set(res["labels"]) <= {"dominant_type", "niche"} and res["labels"]
    assert len(res["genes"]) == 8
    rows = pd.DataFrame(summary_rows(res))
    for metric in ("genes: ridge Pearson (mean over genes)", "genes: MLP pearson (mean over genes)",
                   "composition: ridge Pearson (mean over columns)"):
        sub = rows[rows["metric"] == metric]
        assert len(sub) == 3, metric
    assert (rows["lo"] <= rows["mean"] + 1e-9).all() and (rows["mean"] <= rows["hi"] + 1e-9).all()
    assert np.isfinite(rows["mean"]).all()
    hest = res["methods"]["X_mad"]["hest"]
    assert hest["per_gene"]["gene"] == res["genes"] and "spatial_block" in hest["protocol"]["split"]
