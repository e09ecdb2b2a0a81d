"""Ground truth from a synthetic folder -> view store (truth/<group>) -> embedding AnnData obsm."""

import numpy as np
import pandas as pd
import pytest

from madcell.data.store import ViewStore
from madcell.embed.anndata_form import embedding_to_anndata
from madcell.errors import InputError
from madcell.io.truth import read_truth
from madcell.synthetic import make_tissue
from madcell.views import prepare

SMALL = {"prepare": {"morph_size": 28, "micro_size": 56, "k_neighbors": 8, "tile_size": 96,
                     "stats_sample_pixels": 20000}}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("truth")
    tissue = make_tissue(root / "tissue", 150, 1, modality="fluorescence", difficulty="easy")
    return tissue, prepare(tissue, root / "views.h5", overrides=SMALL, progress=False)


def test_truth_reaches_store_and_anndata_but_not_labels(prepared):
    tissue, path = prepared
    store = ViewStore(path)
    assert store.truth_groups == ["context", "morph"]
    assert not any(c.startswith(("morph.", "context.", "truth")) for c in store.label_columns)
    table = pd.read_parquet(tissue / "truth.parquet").set_index("cell_id")
    truth = store.truth()
    a = embedding_to_anndata(store, {"X_e": np.zeros((len(store), 2), np.float32)}, "X_e", "e")
    for g in ("morph", "context"):
        expect = table.loc[a.obs_names, [f"{g}.{c}" for c in truth[g].columns]].to_numpy(np.float32)
        assert np.array_equal(a.obsm[f"truth_{g}"], expect)  # store order, aligned by cell id
        assert a.uns["madcell"]["truth_columns"][g] == list(truth[g].columns)
    assert not any(str(c).startswith(("morph.", "context.", "truth")) for c in a.obs.columns)


def test_read_truth_checks(tmp_path):
    p = tmp_path / "truth.csv"
    pd.DataFrame({"cell_id": ["a", "b"], "morph.x": [1.0, 2.0]}).to_csv(p, index=False)
    assert read_truth(p, ["b", "a"])["morph.x"].tolist() == [2.0, 1.0]
    with pytest.raises(InputError, match="no truth row"):
        read_truth(p, ["a", "c"])
    pd.DataFrame({"cell_id": ["a"], "x": [1.0]}).to_csv(p, index=False)
    with pytest.raises(InputError, match="<group>.<feature>"):
        read_truth(p, ["a"])
