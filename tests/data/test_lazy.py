"""Lazy views (``prepare --views lazy``): the same views as the materialised store, cut on read."""

from __future__ import annotations

import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from madcell.cli import app
from madcell.config import load_config
from madcell.data.dataset import ViewDataset
from madcell.data.lazy import LazyViews
from madcell.data.source import open_views
from madcell.data.store import ViewStore
from madcell.embed import embed_store
from madcell.errors import InputError
from madcell.io.read import crop_to_region
from madcell.models import Encoder
from madcell.views import prepare_slides
from madcell.views.cut import lattice_window
from madcell.views.geometry import lattice_quantum
from madcell.views.lazy import origin

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "views"))
from views_toy import make_toy_slide  # noqa: E402

CFG = {"morph_size": 28, "micro_size": 56, "k_neighbors": 8, "tile_size": 128, "stats_sample_pixels": 20000}


def _pair(tmp_path, slides, **cfg):
    cfg = dict(CFG, **cfg)
    a = ViewStore(prepare_slides(slides, tmp_path / "a.h5", cfg, progress=False))
    b = ViewStore(prepare_slides(slides, tmp_path / "b.h5", dict(cfg, views="lazy"), progress=False))
    return a, b


def _assert_same_views(a, b, idx=slice(None)):
    assert isinstance(b, LazyViews) and not isinstance(a, LazyViews)
    for read in ("read_morph", "read_micro"):
        x = getattr(a, read)(idx, raw=True).astype(int)
        y = getattr(b, read)(idx, raw=True).astype(int)
        assert x.shape == y.shape
        assert np.abs(x - y).max() <= 1  # one grey level: the slide is rounded before resizing
        # the masks agree: nothing clearly inside a cell in one is outside (exactly 0) in the other
        assert not ((x > 1) & (y == 0)).any() and not ((y > 1) & (x == 0)).any()


@pytest.mark.parametrize("scale,micro_level", [("per_slide", True), ("per_slide", False), ("per_cell", True)])
@pytest.mark.parametrize("compression", ["none", "lzf"])
def test_lazy_views_equal_materialised(tmp_path, scale, micro_level, compression):
    s = make_toy_slide(height=400, width=450, gradient=0.4)
    a, b = _pair(tmp_path, [s], micro_scale=scale, lazy_compression=compression, flatfield=True,
                 lazy_micro_level=micro_level)
    assert ("micro" in b.h5["lazy"]) == (micro_level and scale == "per_slide")  # per_cell: no lattice to store
    assert list(a.cell_ids) == list(b.cell_ids) and b.identity() == a.identity()
    _assert_same_views(a, b)
    _assert_same_views(a, b, [7, 3, 7, 200])  # unsorted, repeated
    _assert_same_views(a, b, 5)
    assert (a.obs.drop(columns=[]) == b.obs).all().all()
    level0 = b.level(0, 0)
    assert isinstance(level0, np.memmap) == (compression == "none")


@pytest.mark.parametrize("scale,micro_level", [("per_slide", True), ("per_slide", False), ("per_cell", True)])
def test_a_region_stores_only_the_part_its_views_read(tmp_path, scale, micro_level):
    s = make_toy_slide(height=1100, width=1300, spacing=20, expression=False)
    s.cells["x_um"], s.cells["y_um"] = s.cells["x_px"] * 0.5, s.cells["y_px"] * 0.5
    part = crop_to_region(s, [300, 280, 400, 360], Path("/toy"))  # slide px 600-800 (x), 560-720 (y)
    a, b = _pair(tmp_path, [part], micro_scale=scale, lazy_micro_level=micro_level)
    _assert_same_views(a, b)  # no view reaches past the stored part
    lv = b.h5["lazy/slides/0/0"]
    (oy, ox), (h, w) = origin(lv), lv.shape[1:]
    assert 0 < oy <= 560 - 28 and 0 < ox <= 600 - 28 and oy % 256 == ox % 256 == 0
    assert oy + h < 1100 and ox + w < 1300 and h * w < 0.2 * 1100 * 1300
    assert b.slides["toy"]["stored_px"] == [oy, oy + h, ox, ox + w]
    if "micro" in b.h5["lazy"]:  # only the lattice pixels of the views
        S, M = int(b.h5["lazy/micro/0"].attrs["S"]), b.micro_size
        assert b.h5["lazy/micro/0"].shape[1] <= (160 + 2 * S) * M / S
    # the thumbnail still covers the whole slide: the materialised one where stored, black elsewhere
    (ta, sa), (tb, sb) = a.thumbnail("toy"), b.thumbnail("toy")
    assert ta.shape == tb.shape == (1100, 1300, 3) and sa == sb == 1.0
    assert np.abs(ta[oy:oy + h, ox:ox + w].astype(int) - tb[oy:oy + h, ox:ox + w]).max() <= 2
    assert tb[:oy].max() == tb[:, :ox].max() == tb[oy + h:].max() == tb[:, ox + w:].max() == 0
    assert ta[:oy].max() > 0  # the materialised store streams the whole slide for it


def test_two_slides_and_huge_cells(tmp_path, monkeypatch):
    from madcell.views import extract

    s1 = make_toy_slide(height=300, width=260, seed=1, slide_id="s1")
    s2 = make_toy_slide(height=500, width=520, seed=2, slide_id="s2", expression=False)
    yy, xx = np.mgrid[0:500, 0:520]
    r2 = (yy - 250) ** 2 + (xx - 260) ** 2
    gone = np.unique(s2.labels.data[r2 <= 190**2])
    s2.labels.data[np.isin(s2.labels.data, gone)] = 0
    s2.labels.data[r2 <= 180**2] = 99999  # wider than a lazy unit's window (tile + 2 x 128 px of labels)
    cells = s2.cells[~s2.cells["label"].isin(gone)]
    s2.cells = pd.concat([cells, cells.iloc[[0]].assign(cell_id="giant", label=99999, x_px=260.0, y_px=250.0)],
                         ignore_index=True)
    s1.expression = None
    calls = []
    original = extract._direct_box
    monkeypatch.setattr(extract, "_direct_box", lambda job, label, *a: calls.append(label) or original(job, label, *a))
    a, b = _pair(tmp_path, [s1, s2])
    assert set(calls) == {99999}  # re-read around its centroid, by both paths
    assert set(b.obs["slide"]) == {"s1", "s2"}
    _assert_same_views(a, b)
    g = int(np.flatnonzero(np.char.endswith(b.cell_ids.astype(str), "giant"))[0])
    assert b.read_morph(g)[0].max() > 0.2


def test_micro_level_crops_are_the_views_cut_on_read(tmp_path):
    s = make_toy_slide(height=330, width=410, seed=3)
    cfg = dict(CFG, views="lazy")
    b = ViewStore(prepare_slides([s], tmp_path / "b.h5", cfg, progress=False))
    c = ViewStore(prepare_slides([s], tmp_path / "c.h5", dict(cfg, lazy_micro_level=False), progress=False))
    x, y = b.read_micro(slice(None), raw=True).astype(int), c.read_micro(slice(None), raw=True).astype(int)
    assert np.abs(x - y).max() <= 1 and (x == y).mean() > 0.999  # the same arithmetic; float noise may round apart
    lv = b.micro_level(0)
    S, M = int(b.h5["lazy"]["micro"]["0"].attrs["S"]), b.micro_size
    assert b.micro_windows([0, 1]) is None and c.micro_windows([0, 1]) is not None  # stored: nothing left to resize
    # the level covers every lattice pixel its filter lets the slide reach; beyond it the views are 0
    ry, rx = (np.asarray(lv).sum((0, 2)) > 0).nonzero()[0], (np.asarray(lv).sum((0, 1)) > 0).nonzero()[0]
    assert ry[0] > 0 and rx[0] > 0 and ry[-1] < lv.shape[1] - 1 and rx[-1] < lv.shape[2] - 1
    assert abs(lv.shape[1] - 330 * M / S) <= 2 * (M / S + 1) + 6


def test_lazy_store_is_smaller_and_has_a_pyramid(tmp_path):
    s = make_toy_slide(height=1200, width=1100, spacing=20)
    a, b = _pair(tmp_path, [s], lazy_micro_level=False)
    assert b.path.stat().st_size < a.path.stat().st_size / 5
    sizes = set()
    for micro in (56, 84):  # the micro level adds (M / S)^2 x level 0, or nothing when it links to it (S = M)
        cfg = dict(CFG, views="lazy", micro_size=micro)
        b2, c = (ViewStore(prepare_slides([s], tmp_path / f"m{micro}-{flag}.h5", dict(cfg, lazy_micro_level=flag),
                                          progress=False)) for flag in (False, True))
        S, M = int(c.h5["lazy"]["micro"]["0"].attrs["S"]), c.micro_size
        sizes.add(S == M)
        extra = c.path.stat().st_size - b2.path.stat().st_size
        expected = 0 if S == M else 3 * 1200 * 1100 * (M / S) ** 2
        assert abs(extra - expected) < 0.1 * 3 * 1200 * 1100, (S, M, extra)
    assert sizes == {True, False}  # both kinds of level were checked
    lv0, lv1 = np.asarray(b.level(0, 0)).astype(float), np.asarray(b.level(0, 1)).astype(float)
    assert lv1.shape == (3, 600, 550)
    mean = lv0.reshape(3, 600, 2, 550, 2).mean((2, 4))
    assert np.abs(mean - lv1).max() <= 1.0  # the level is the 2 x 2 mean (rounded from the unrounded slide)
    assert b.slides["toy"]["levels"] == 2


def test_loader_workers_and_embedding(tmp_path, one_thread):
    s = make_toy_slide(height=300, width=300)
    a, b = _pair(tmp_path, [s])
    ds = ViewDataset(b)
    loader = torch.utils.data.DataLoader(ds, batch_size=16, num_workers=2, shuffle=False)
    got = torch.cat([batch["micro"] for batch in loader]).numpy()
    np.testing.assert_array_equal(got, b.read_micro(slice(None)))
    tiny = {"model": {"arch": "custom", "embed_dim": 32, "depth": 1, "num_heads": 2, "layer_scale": None},
            "head": {"n_layers": 2, "hidden_dim": 32, "bottleneck_dim": 16, "out_dim": 64},
            "augment": {"morph_size": 28, "micro_size": 56}}
    enc = Encoder.untrained(load_config(None, tiny), 3, list(b.channel_names), seed=0)
    out_a, out_b = tmp_path / "a.h5ad", tmp_path / "b.h5ad"
    embed_store(open_views(a.path), enc, out_a, progress=False)
    embed_store(open_views(b.path), enc, out_b, progress=False)
    ea, eb = ad.read_h5ad(out_a), ad.read_h5ad(out_b)
    assert list(ea.obs_names) == list(eb.obs_names)
    r = [np.corrcoef(x, y)[0, 1] for x, y in zip(ea.obsm["X_mad"], eb.obsm["X_mad"])]
    assert min(r) > 0.99  # one grey level of difference barely moves an embedding


def test_lazy_needs_uint8_and_known_mode(tmp_path):
    s = make_toy_slide()
    with pytest.raises(InputError, match="uint8"):
        prepare_slides([s], tmp_path / "x.h5", dict(CFG, views="lazy", dtype="float16"), progress=False)
    with pytest.raises(InputError, match="prepare.views"):
        prepare_slides([s], tmp_path / "x.h5", dict(CFG, views="virtual"), progress=False)
    assert not (tmp_path / "x.h5").exists()


def test_cli_prepare_lazy(tmp_path):
    res = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "t"), "--cells", "150", "--seed", "3"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["prepare", str(tmp_path / "t"), "--out", str(tmp_path / "v.h5"), "--views", "lazy",
                                   "--no-progress", "--set", "prepare.micro_size=56", "--set", "prepare.morph_size=28"])
    assert res.exit_code == 0, res.output
    assert "lazy views" in res.output
    vs = ViewStore(tmp_path / "v.h5")
    assert isinstance(vs, LazyViews) and len(vs) == 150 and vs.read_micro([0, 1]).shape == (2, vs.n_channels, 56, 56)


def test_lattice_window_holds_the_view_and_the_filter_support():
    for M in (56, 84, 224):
        q = lattice_quantum(M)
        assert M % q == 0 and M // q <= 8
        for S in (q, 3 * q, 7 * q, 16 * q):
            start = np.arange(-50, 400)
            y0, L, Lo, off = lattice_window(start, S, M)
            g = np.gcd(S, M)
            assert (y0 % (S // g) == 0).all() and Lo * S == L * M
            assert (off >= 0).all() and (off + M <= Lo).all()
            support = max(S / M, 1.0)
            lo = (start + 0.5) * S / M - 0.5 - support
            hi = (start + M - 0.5) * S / M - 0.5 + support
            assert (y0 <= lo).all() and (y0 + L >= hi).all()


def test_micro_level_is_a_link_when_the_lattice_is_the_slide(tmp_path):
    import h5py

    from madcell.views.lazy import write_micro_level

    img = np.random.default_rng(0).integers(0, 256, (2, 90, 70), dtype=np.uint8)
    with h5py.File(tmp_path / "s.h5", "w") as f:
        level0 = f.create_dataset("lazy/slides/0/0", data=img)
        write_micro_level(f.require_group("lazy/micro"), 0, level0, 56, 56, None)
        write_micro_level(f.require_group("lazy/micro"), 1, level0, 40, 56, None)
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert isinstance(f["lazy/micro"].get("0", getlink=True), h5py.SoftLink)  # no copy of the slide
        np.testing.assert_array_equal(f["lazy/micro/0"][:], img)
        assert list(f["lazy/micro/0"].attrs["origin"]) == [0, 0]
        assert f["lazy/micro/1"].shape[1] > 90 * 56 / 40  # resized, with its margin
