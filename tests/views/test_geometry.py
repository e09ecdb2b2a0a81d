import numpy as np

from madcell.views import geometry


def test_micro_side_holds_about_k_neighbours():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 2000, size=(8000, 2))
    k = 25
    sides = geometry.micro_sides(xy, k, "per_slide", (2000, 2000))
    assert (sides == sides[0]).all()
    S = sides[0]
    inner = xy[(xy > 300).all(1) & (xy < 1700).all(1)][:400]
    counts = [int((np.abs(xy - c) <= S / 2).all(1).sum()) for c in inner]  # includes the cell itself
    assert abs(np.mean(counts) - (k + 1)) < 0.15 * (k + 1)


def test_per_cell_sides_follow_local_density_and_are_clipped():
    rng = np.random.default_rng(1)
    dense = rng.uniform(0, 200, size=(800, 2))
    sparse = rng.uniform(0, 200, size=(80, 2)) + [600, 0]
    far = np.array([[5000.0, 5000.0]])
    xy = np.concatenate([dense, sparse, far])
    sides = geometry.micro_sides(xy, 10, "per_cell", (6000, 6000))
    base = geometry.micro_sides(xy, 10, "per_slide", (6000, 6000))[0]
    assert np.median(sides[800:880]) > 2 * np.median(sides[:800])
    assert sides[-1] == base * 4  # the isolated cell is clipped
    assert sides.min() >= max(1, base // 4)


def test_single_cell_window_is_the_slide():
    assert geometry.micro_sides(np.array([[3.0, 4.0]]), 25, "per_slide", (50, 80))[0] == 80


def test_units_cover_every_cell_once_and_split_dense_tiles():
    rng = np.random.default_rng(2)
    xy = np.concatenate([rng.uniform(0, 500, (300, 2)), rng.uniform(0, 120, (400, 2))])
    units = geometry.plan_units(0, xy, (500, 500), tile=128, max_cells=100)
    allc = np.concatenate([u.cells for u in units])
    assert sorted(allc.tolist()) == list(range(len(xy)))
    assert max(len(u.cells) for u in units) <= 100
    r, c = geometry.centroid_pixels(xy, (500, 500))
    for u in units:
        assert ((r[u.cells] >= u.y0) & (r[u.cells] < u.y1) & (c[u.cells] >= u.x0) & (c[u.cells] < u.x1)).all()
        assert (np.diff(u.cells) > 0).all()  # table order inside a unit


def test_unit_tile_shrinks_when_upsampled_window_is_large():
    assert geometry.unit_tile_side(1024, 150, 224, 4, 1) == 1024
    small = geometry.unit_tile_side(2048, 20, 224, 4, 1)  # 11x upsampling
    assert small < 2048
    f = 224 / 20
    window = small + 2 * geometry.micro_halo(20, 224) + 20
    assert (window * f) ** 2 * (4 + 4) <= geometry.RESIZED_BUDGET_BYTES


def test_per_slide_side_is_a_multiple_of_the_lattice_quantum():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 2000, size=(3000, 2))
    free = geometry.micro_sides(xy, 25, "per_slide", (2000, 2000))[0]
    q = geometry.lattice_quantum(224)
    assert q == 28
    side = geometry.micro_sides(xy, 25, "per_slide", (2000, 2000), quantum=q)[0]
    assert side % q == 0 and abs(side - free) <= q / 2
