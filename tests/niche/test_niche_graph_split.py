import numpy as np
import pytest

from madcell.niche.composition import neighbourhood_composition, one_hot
from madcell.niche.graph import neighbour_lists, spatial_graph
from madcell.niche.split import block_ids, spatial_block_split


def _two_slides(n=200, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 300, size=(n, 2))
    slides = np.array(["a"] * (n // 2) + ["b"] * (n - n // 2))
    return xy, slides  # same coordinates range: only the slide column separates them


@pytest.mark.parametrize("method", ["knn", "radius", "delaunay"])
def test_graph_never_crosses_slides(method):
    xy, slides = _two_slides()
    g = spatial_graph(xy, slides, method, k=10, radius_um=60.0).tocoo()
    assert g.nnz > 0
    assert (slides[g.row] == slides[g.col]).all()
    assert (g.row != g.col).all()


def test_knn_degree_and_nearest():
    xy, slides = _two_slides()
    g = spatial_graph(xy, slides, "knn", k=7)
    assert (np.diff(g.indptr) == 7).all()
    i = 3
    same = np.flatnonzero(slides == slides[i])
    d = np.linalg.norm(xy[same] - xy[i], axis=1)
    expected = set(same[np.argsort(d)[1:8]])
    assert set(g.indices[g.indptr[i] : g.indptr[i + 1]]) == expected


def test_delaunay_prunes_long_edges():
    # a tight grid plus one far-away cell: its Delaunay edges are long and must be pruned
    gx, gy = np.meshgrid(np.arange(6) * 10.0, np.arange(6) * 10.0)
    xy = np.vstack([np.c_[gx.ravel(), gy.ravel()], [[500.0, 25.0]]])
    slides = np.zeros(len(xy), dtype=str)
    g = spatial_graph(xy, slides, "delaunay", prune_factor=3.0)
    assert g[len(xy) - 1].nnz == 0
    assert (g != g.T).nnz == 0  # symmetric
    unpruned = spatial_graph(xy, slides, "delaunay", prune_factor=0)
    assert unpruned[len(xy) - 1].nnz > 0


def test_neighbour_lists_pad_and_order():
    xy, slides = _two_slides(60)
    g = spatial_graph(xy, slides, "radius", radius_um=80.0)
    idx, mask = neighbour_lists(g, xy, 5)
    assert idx.shape == mask.shape and idx.shape[1] <= 5
    for i in range(len(xy)):
        nb = g.indices[g.indptr[i] : g.indptr[i + 1]]
        assert mask[i].sum() == min(len(nb), idx.shape[1])
        assert set(idx[i][mask[i]]) <= set(nb)
        assert (idx[i][~mask[i]] == i).all()


def test_composition_rows_sum_to_one_and_by_hand():
    xy = np.array([[0.0, 0], [1, 0], [2, 0], [100, 0]])
    slides = np.zeros(4, dtype=str)
    types = np.array(["A", "B", "B", "A"])
    g = spatial_graph(xy, slides, "radius", radius_um=1.5)
    oh, cats = one_hot(types)
    comp = neighbourhood_composition(g, oh)
    np.testing.assert_allclose(comp.sum(1), 1.0)
    assert cats == ["A", "B"]
    np.testing.assert_allclose(comp[1], [0.5, 0.5])  # neighbours 0 (A) and 2 (B)
    np.testing.assert_allclose(comp[0], [0.0, 1.0])
    np.testing.assert_allclose(comp[3], [1.0, 0.0])  # isolated -> own type
    comp2 = neighbourhood_composition(g, oh, hops=2)
    np.testing.assert_allclose(comp2.sum(1), 1.0)
    # 2-hop of cell 0: (0->1) gives [.5,.5]; averaged with 1-hop [0,1]
    np.testing.assert_allclose(comp2[0], [0.25, 0.75])


def test_heldout_split_is_whole_blocks():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 1000, size=(3000, 2))
    slides = np.repeat(["a", "b", "c"], 1000)
    held = spatial_block_split(xy, slides, frac=0.25, blocks_per_axis=4, seed=3)
    blocks = block_ids(xy, slides, 4)
    for b in np.unique(blocks):
        vals = held[blocks == b]
        assert vals.all() or not vals.any()  # a block is held out entirely or not at all
    for s in "abc":
        f = held[slides == s].mean()
        assert 0.15 <= f <= 0.35
    assert (held == spatial_block_split(xy, slides, 0.25, 4, seed=3)).all()  # deterministic
    assert (held != spatial_block_split(xy, slides, 0.25, 4, seed=4)).any()
    val = spatial_block_split(xy, slides, 0.15, 4, seed=4, candidates=~held)
    assert not (val & held).any() and val.any()
