"""The example-view grid PNG from a store (any channel count)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from madcell.data.store import ViewStore, create_store
from madcell.report.views import composite, plot_view_grid


def _store(path, C, names):
    n = 6
    rng = np.random.default_rng(0)
    with create_store(path, n, names, 28, 56, obs_columns={"cell_type": "str"}) as w:
        w.write(0, rng.integers(0, 255, (n, C, 28, 28), dtype=np.uint8), rng.integers(0, 255, (n, C, 56, 56), dtype=np.uint8),
                [f"c{i}" for i in range(n)], ["s"] * n, np.zeros((n, 2)), np.zeros((n, 2)), np.ones(n), np.ones(n),
                np.zeros(n, bool), {"cell_type": np.array(["a", "b", "c"] * 2)})
    return path


@pytest.mark.parametrize("C,names", [(1, ["dapi"]), (3, ["R", "G", "B"]), (4, ["nucleus", "membrane", "cytoplasm", "ecm"])])
def test_view_grid_png(tmp_path, C, names):
    store = _store(tmp_path / "s.h5", C, names)
    out = plot_view_grid(store, tmp_path / "grid.png", n=10, label="cell_type")
    img = Image.open(out)
    assert img.size[0] > 200 and img.size[1] > 200
    with ViewStore(store) as vs:
        rgb = composite(vs.read_morph([0, 1]), vs.channel_names)
    assert rgb.shape == (2, 28, 28, 3) and 0 <= rgb.min() and rgb.max() <= 1


def test_composite_rgb_passthrough():
    v = np.random.default_rng(1).random((2, 3, 5, 5)).astype(np.float32)
    assert np.allclose(composite(v, ["R", "G", "B"]), np.moveaxis(v, 1, -1))


def test_example_cells_cover_the_largest_classes_away_from_the_border(tmp_path):
    """The issue: the grid picked border cells and skipped the largest class (alphabetical order)."""
    from madcell.report.views import pick_cells

    n = 400
    rng = np.random.default_rng(0)
    xy = rng.random((n, 2)) * 1000
    # 'zz_big' is the largest class but last alphabetically; 12 classes, the grid shows 10
    classes = np.array(["zz_big"] * 180 + [f"a{i:02d}" for i in range(11) for _ in range(20)])
    edge = (xy < 100).any(1) | (xy > 900).any(1)
    with create_store(tmp_path / "s.h5", n, ["dapi"], 28, 56, obs_columns={"cell_type": "str"}) as w:
        w.write(0, np.zeros((n, 1, 28, 28), np.uint8), np.zeros((n, 1, 56, 56), np.uint8), [f"c{i}" for i in range(n)],
                ["s"] * n, xy, xy * 0.5, np.ones(n), np.ones(n), edge, {"cell_type": classes})
    with ViewStore(tmp_path / "s.h5") as vs:
        idx, titles = pick_cells(vs, 10, "cell_type")
    assert titles[0] == "zz_big" and len(titles) == 10
    assert not edge[idx].any()
    assert ((xy[idx] >= np.percentile(xy, 10, axis=0)) & (xy[idx] <= np.percentile(xy, 90, axis=0))).all()
