"""truth.parquet: the generator's per-cell morphology parameters and neighbour composition."""

import numpy as np
import pandas as pd

from madcell.synthetic import CELL_TYPES, OUTPUT_FILES
from madcell.synthetic.params import CHANNELS, MORPHOLOGY
from madcell.synthetic.truth import CONTEXT_K, TRUTH_FILE


def test_truth_table_matches_the_cells(easy_dir):
    assert TRUTH_FILE in OUTPUT_FILES
    cells = pd.read_parquet(easy_dir / "cells.parquet")
    truth = pd.read_parquet(easy_dir / TRUTH_FILE)
    assert list(truth["cell_id"]) == list(cells["cell_id"])
    feats = [c for c in truth.columns if c != "cell_id"]
    assert {c.split(".")[0] for c in feats} == {"morph", "context"}
    assert all(np.issubdtype(truth[c].dtype, np.number) for c in feats)
    # context: type counts among the K nearest cells
    counts = truth[[f"context.n_{t}" for t in CELL_TYPES]].to_numpy()
    assert (counts.sum(axis=1) == CONTEXT_K).all() and (truth["context.d_k_um"] > 0).all()
    tumour_nb = truth["context.n_tumour"].to_numpy()
    assert tumour_nb[cells["niche"] == "tumour"].mean() > 2 * tumour_nb[cells["niche"] != "tumour"].mean()
    # morph: the per-type tables, the proliferating nucleus mode, one level per channel
    prolif = truth["morph.prolif_condensed"] + truth["morph.prolif_dividing"]
    assert np.array_equal(prolif.to_numpy() > 0, cells["proliferating"].to_numpy())
    for t, row in MORPHOLOGY.items():
        m = cells["cell_type"] == t
        if m.any():
            assert np.allclose(truth.loc[m, "morph.cyto_tex"], row[7])
            assert np.allclose(truth.loc[m, "morph.a_um"] / truth.loc[m, "morph.size"], row[0])
    assert all(f"morph.level_{c}" in truth for c in CHANNELS)
    assert not any(c.startswith(("morph", "context")) for c in cells.columns)  # never label columns
