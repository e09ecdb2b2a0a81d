"""Slide thumbnails in both store kinds (``thumbnails/<k>``, read through ``ViewSource.thumbnail``)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from madcell.data import InMemoryViews
from madcell.data.store import ViewStore, write_reference_layout
from madcell.views import prepare_slides
from madcell.views.thumbnail import channel_colours

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "views"))
from views_toy import CHANNELS, make_toy_slide  # noqa: E402

CFG = {"morph_size": 28, "micro_size": 56, "k_neighbors": 8, "tile_size": 128, "stats_sample_pixels": 20000,
       "flatfield": True, "flatfield_sigma_um": 40.0}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The same two slides prepared materialised and lazy (flat field on, so the thumbnail must use it too)."""
    d = tmp_path_factory.mktemp("thumbs")
    slides = [make_toy_slide(height=200, width=230, gradient=0.5, slide_id="s1", expression=False),
              make_toy_slide(height=150, width=170, seed=3, slide_id="s2", expression=False)]
    slides[1].cells["cell_id"] = "b" + slides[1].cells["cell_id"]
    return {v: prepare_slides(slides, d / f"{v}.h5", dict(CFG, views=v), progress=False)
            for v in ("materialised", "lazy")}


def _mix(level0: np.ndarray) -> np.ndarray:
    """(C, H, W) uint8 normalised slide -> the (H, W, 3) uint8 thumbnail of a t = 1 slide."""
    rgb = np.tensordot(channel_colours(CHANNELS).T, level0.astype(np.float64) / 255.0, axes=(1, 0))
    return np.rint(np.clip(rgb, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)


def test_both_kinds_carry_the_same_thumbnail_of_the_normalised_slide(stores):
    mat, lazy = ViewStore(stores["materialised"]), ViewStore(stores["lazy"])
    for k, (sid, shape) in enumerate([("s1", (200, 230)), ("s2", (150, 170))]):
        a, sa = mat.thumbnail(sid)
        b, sb = lazy.thumbnail(sid)  # made from the lazy store's pyramid
        assert a.shape == b.shape == shape + (3,) and a.dtype == b.dtype == np.uint8
        assert sa == sb == 1.0  # small slides: full size
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 2  # the pyramid is uint8
        # the slide the lazy views are cut from, flat-field corrected and clipped like them: same picture
        ref = _mix(lazy.level(k, 0)[:])
        assert np.abs(a.astype(int) - ref.astype(int)).max() <= 2
        assert a.astype(float).mean() > 5  # not blank
    for store in (mat, lazy):
        assert store.thumbnail("nope") is None
    assert InMemoryViews(mat).thumbnail("s2")[0].shape == (150, 170, 3)  # the in-memory copy delegates
    with h5py.File(stores["lazy"], "r") as h5:
        assert "thumbnails" not in h5  # the lazy store does not duplicate its pyramid


def test_old_stores_have_none(stores, tmp_path):
    """A store written before thumbnails (no ``thumbnails`` group) or of the reference layout: None."""
    old = tmp_path / "old.h5"
    shutil.copy(stores["materialised"], old)
    with h5py.File(old, "a") as h5:
        del h5["thumbnails"]
    assert ViewStore(old).thumbnail("s1") is None
    ref = tmp_path / "ref.h5"
    write_reference_layout(ViewStore(stores["materialised"]), ref)
    assert ViewStore(ref).thumbnail("slide0") is None


def test_big_slide(tmp_path):
    """A slide longer than 2000 px: 2 x 2 blocks (materialised), pyramid level 1 (lazy)."""
    s = make_toy_slide(height=2100, width=80, spacing=26, expression=False)
    got = {}
    for views in ("materialised", "lazy"):
        path = prepare_slides([s], tmp_path / f"{views}.h5", dict(CFG, views=views, flatfield=False), progress=False)
        got[views] = ViewStore(path).thumbnail("toy")
        assert got[views][0].shape == (1050, 40, 3) and got[views][1] == 0.5
    a, b = got["materialised"][0].astype(int), got["lazy"][0].astype(int)
    assert np.abs(a - b).max() <= 2
