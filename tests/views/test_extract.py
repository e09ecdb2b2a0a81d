import numpy as np
import pandas as pd
import pytest

from madcell.data.store import ViewStore
from madcell.views import extract, prepare_slides

from views_toy import make_toy_slide

CFG = {"morph_size": 28, "micro_size": 56, "k_neighbors": 8, "stats_sample_pixels": 20000}


def giant_cell_slide():
    """The toy tissue with a cell of radius 110 px in its middle (larger than a unit's window)."""
    s = make_toy_slide(height=400, width=400, expression=False, seed=11)
    yy, xx = np.mgrid[0:400, 0:400]
    disc = (yy - 200) ** 2 + (xx - 210) ** 2 <= 110**2
    gone = np.unique(s.labels.data[(yy - 200) ** 2 + (xx - 210) ** 2 <= 120**2])
    s.labels.data[np.isin(s.labels.data, gone)] = 0
    s.labels.data[disc] = 9999
    s.image.data[1][disc] += 1500
    cells = s.cells[~s.cells["label"].isin(gone)]
    big = pd.DataFrame([("giant", 9999, 210.0, 200.0, "immune", 1)], columns=cells.columns)
    s.cells = pd.concat([cells, big], ignore_index=True)
    return s


@pytest.mark.parametrize("scale", ["per_slide", "per_cell"])
def test_views_do_not_depend_on_the_tiling(tmp_path, scale, monkeypatch):
    s = giant_cell_slide()
    calls = []
    original = extract._direct_box
    monkeypatch.setattr(extract, "_direct_box", lambda job, label, *a: calls.append(label) or original(job, label, *a))
    small = ViewStore(prepare_slides([s], tmp_path / "a.h5", dict(CFG, tile_size=64, micro_scale=scale), progress=False))
    assert calls and set(calls) == {9999}  # the giant cell, cut by its unit window, was re-read
    whole = ViewStore(prepare_slides([s], tmp_path / "b.h5", dict(CFG, tile_size=4096, micro_scale=scale), progress=False))
    order = pd.Index(whole.cell_ids).get_indexer(small.cell_ids)
    assert (order >= 0).all() and len(set(order)) == small.n_cells
    m_small, m_whole = small.read_morph(slice(None), raw=True), whole.read_morph(order, raw=True)
    assert np.array_equal(m_small, m_whole)  # incl. the giant cell, re-read around its centroid
    u_small, u_whole = small.read_micro(slice(None), raw=True), whole.read_micro(order, raw=True)
    assert np.abs(u_small.astype(int) - u_whole.astype(int)).max() <= 1
    g = int(np.flatnonzero(small.cell_ids == "giant")[0])
    view = small.read_morph(g)[0]
    assert view[1].max() > 0.5 and view[:, 0, 0].max() == 0
    assert np.isclose(small.obs["morph_um_per_px"].iloc[g], np.ceil(221 * 1.3) * 0.5 / 28)
