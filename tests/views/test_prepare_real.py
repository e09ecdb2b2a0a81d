"""`madcell prepare` on the three real vendor sets in ../shared/data: one store each, every cell kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from madcell.cli import app
from madcell.data import ViewStore

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"

CASES = [
    ("cosmx_lung_mini", [], 120, {"F002", "F003"}),
    ("xenium_outs_mini", ["--option", "pixel_size_um=1.7", "--option", "origin_um=[995.5, 998.9]"], 526, None),
    ("merscope_brain_mini", ["--option", "pixel_size_um=0.108627", "--option", "origin_um=[6400.029, 4699.967]"], 498, None),
]


@pytest.mark.parametrize("name,opts,n_cells,slides", CASES, ids=[c[0] for c in CASES])
def test_prepare_real_set(tmp_path, name, opts, n_cells, slides):
    src = DATA / name
    if not src.is_dir():
        pytest.skip(f"real test data {src} is not present on this machine")
    out = tmp_path / "store.h5"
    res = CliRunner().invoke(app, ["prepare", str(src), "--out", str(out), "--no-progress",
                                   "--set", "prepare.morph_size=28", "--set", "prepare.micro_size=56", *opts])
    assert res.exit_code == 0, res.output
    with ViewStore(out) as vs:
        assert len(vs) == n_cells
        obs = vs.obs
        assert obs.index.is_unique
        assert vs.has_expression and vs.expression().n_obs == n_cells
        morph = vs.read_morph(slice(0, 32))
        assert morph.shape[1:] == (vs.n_channels, 28, 28)
        assert 0.0 <= morph.min() and morph.max() <= 1.0 and morph.max() > 0
        if slides is not None:
            assert set(obs["slide"]) == slides


def test_prepare_xenium_without_pixel_size_fails_cleanly(tmp_path):
    src = DATA / "xenium_outs_mini"
    if not src.is_dir():
        pytest.skip(f"real test data {src} is not present on this machine")
    out = tmp_path / "store.h5"
    res = CliRunner().invoke(app, ["prepare", str(src), "--out", str(out), "--no-progress"])
    assert res.exit_code == 2
    assert "pixel size" in res.output and "morphology_focus.ome.tif" in res.output
    assert not out.exists()


@pytest.mark.parametrize("origin, shift", [("[6420.029, 4699.967]", "(+181, +0) px"), ("[6400.029, 4689.967]", "(+0, -91) px")])
def test_wrong_origin_is_caught_by_registration(tmp_path, origin, shift):
    """A MERSCOPE origin off by 20 µm in x (10 µm in y) moves polygons and centroids together: the mask
    and the table agree, both miss the image, and 5-9 cells used to be dropped with exit 0."""
    src = DATA / "merscope_brain_mini"
    if not src.is_dir():
        pytest.skip(f"real test data {src} is not present on this machine")
    out = tmp_path / "store.h5"
    res = CliRunner().invoke(app, ["prepare", str(src), "--out", str(out), "--no-progress", "--option",
                                   "pixel_size_um=0.108627", "--option", f"origin_um={origin}"])
    assert res.exit_code == 2 and "does not sit on the image" in res.output and shift in res.output
    assert not out.exists()


def test_registration_finds_no_shift_on_correct_real_sets():
    from madcell.io import read_input
    from madcell.views.registration import mask_offset

    for name, opts in (("merscope_brain_mini", {"pixel_size_um": 0.108627, "origin_um": (6400.029, 4699.967)}),
                       ("cosmx_lung_mini", {"pixel_size_um": 0.18})):
        if not (DATA / name).is_dir():
            pytest.skip("real test data not present")
        for s in read_input(DATA / name, options=opts):
            r = mask_offset(s, list(range(s.image.shape[0])))
            assert (r["dx"], r["dy"]) == (0, 0) and r["ratio"] == pytest.approx(1.0), (name, r)
