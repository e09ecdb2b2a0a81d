"""``uns['spatial']`` of the embedding AnnData: ``sc.pl.spatial(adata, color=...)`` with no other argument
draws the cells on their slide's thumbnail (both store kinds), and old stores still embed."""

from __future__ import annotations

import sys
from pathlib import Path

import anndata as ad
import h5py
import matplotlib
import numpy as np
import pytest
from scipy.spatial import cKDTree

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import scanpy as sc  # noqa: E402

from madcell.config import load_config  # noqa: E402
from madcell.embed import embed_store  # noqa: E402
from madcell.models import Encoder  # noqa: E402
from madcell.views import prepare_slides  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "views"))
from views_toy import CHANNELS, make_toy_slide  # noqa: E402

TINY = {"model": {"arch": "custom", "embed_dim": 32, "depth": 1, "num_heads": 2, "layer_scale": None},
        "head": {"n_layers": 2, "hidden_dim": 32, "bottleneck_dim": 16, "out_dim": 64},
        "augment": {"morph_size": 28, "micro_size": 56}}
CFG = {"morph_size": 28, "micro_size": 56, "k_neighbors": 8, "tile_size": 128, "stats_sample_pixels": 200000}
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # scanpy 1.11 deprecates sc.pl.spatial


def _embed(tmp_path, slides, views="materialised", drop_thumbnails=False, name="e"):
    store = prepare_slides(slides, tmp_path / f"{name}.h5", dict(CFG, views=views), progress=False)
    if drop_thumbnails:  # a store written before thumbnails existed
        with h5py.File(store, "a") as h5:
            del h5["thumbnails"]
    enc = Encoder.untrained(load_config(None, TINY), len(CHANNELS), list(CHANNELS), seed=0)
    return embed_store(store, enc, tmp_path / f"{name}.h5ad", progress=False)


def _check_drawing(ax, adata, lib):
    """The axes show the library's image and one circle per cell at obsm['spatial'] * scalef, of the spot size."""
    scalef = lib["scalefactors"]["tissue_hires_scalef"]
    assert len(ax.images) == 1
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), lib["images"]["hires"])
    (circles,) = [c for c in ax.collections if len(c.get_paths()) == adata.n_obs]
    verts = [p.vertices for p in circles.get_paths()]
    centres = np.array([(v.max(0) + v.min(0)) / 2 for v in verts])
    dist, _ = cKDTree(adata.obsm["spatial"] * scalef).query(centres)
    assert dist.max() < 1e-3
    diam = np.median([(v.max(0) - v.min(0))[0] for v in verts])
    assert diam == pytest.approx(lib["scalefactors"]["spot_diameter_fullres"] * scalef, rel=1e-3)


def _cells_are_bright(img, xy_img, radius):
    """Thumbnail brightness at the cells' centroids against pixels farther than 1.5 radii from any centroid."""
    grey = img.astype(float).sum(-1)
    h, w = grey.shape
    rc = np.rint(xy_img[:, ::-1]).astype(int)
    assert (rc >= 0).all() and (rc < [h, w]).all()  # every cell lies on the image
    yy, xx = np.mgrid[0:h, 0:w]
    far = cKDTree(xy_img).query(np.stack([xx.ravel(), yy.ravel()], 1))[0].reshape(h, w) > 1.5 * radius
    at_cells = grey[rc[:, 0], rc[:, 1]].mean()
    assert far.sum() > 100 and at_cells > 3 * grey[far].mean()


@pytest.mark.parametrize("views", ["materialised", "lazy"])
def test_spatial_plot_needs_no_argument(tmp_path, views):
    s = make_toy_slide(height=300, width=360, expression=False)  # 0.5 µm per px, cell radius ~5 px
    _embed(tmp_path, [s], views)
    a = ad.read_h5ad(tmp_path / "e.h5ad")  # what `madcell embed` leaves on disk
    lib = a.uns["spatial"]["toy"]
    assert list(a.uns["spatial"]) == ["toy"] and lib["metadata"]["image"] == "thumbnail"
    img, sf = lib["images"]["hires"], lib["scalefactors"]
    assert img.shape == (300, 360, 3) and img.dtype == np.uint8  # small slide: full size, one px per slide px
    assert sf["tissue_hires_scalef"] == pytest.approx(2.0)  # thumbnail px per µm
    assert 4.0 < sf["spot_diameter_fullres"] < 6.0  # µm: discs of radius 4-6 px at 0.5 µm per px
    _cells_are_bright(img, a.obsm["spatial"] * sf["tissue_hires_scalef"], 5.0 * 1.2)

    axs = sc.pl.spatial(a, color="cell_type", show=False)
    assert isinstance(axs, list) and len(axs) == 1 and isinstance(axs[0], plt.Axes)
    _check_drawing(axs[0], a, lib)
    axs[0].figure.savefig(tmp_path / f"spatial_{views}.png", dpi=100)
    plt.close("all")


def test_store_without_thumbnail_still_embeds_and_plots(tmp_path):
    a = _embed(tmp_path, [make_toy_slide(expression=False)], drop_thumbnails=True)
    lib = a.uns["spatial"]["toy"]
    assert lib["metadata"]["image"] == "blank" and "no thumbnail" in lib["metadata"]["image_note"]
    assert (lib["images"]["hires"] == 255).all() and max(lib["images"]["hires"].shape) <= 257
    assert 4.0 < lib["scalefactors"]["spot_diameter_fullres"] < 6.0
    axs = sc.pl.spatial(a, color="cell_type", show=False)
    _check_drawing(axs[0], a, lib)
    plt.close("all")


def test_several_slides_and_frames(tmp_path):
    """One library per slide; a shifted µm frame pads the image, a flipped one gets a blank; scanpy
    wants ``library_id`` as soon as there are several."""
    plain = make_toy_slide(slide_id="plain", expression=False)
    shifted = make_toy_slide(seed=1, slide_id="shifted", expression=False)
    shifted.cells = shifted.cells.assign(x_um=100 + 0.5 * shifted.cells["x_px"], y_um=40 + 0.5 * shifted.cells["y_px"])
    flipped = make_toy_slide(seed=2, slide_id="flipped", expression=False)
    flipped.cells = flipped.cells.assign(x_um=0.5 * flipped.cells["x_px"], y_um=-0.5 * flipped.cells["y_px"])
    for k, s in enumerate((shifted, flipped)):
        s.cells["cell_id"] = f"{k}_" + s.cells["cell_id"]
    a = _embed(tmp_path, [plain, shifted, flipped])
    assert list(a.uns["spatial"]) == ["plain", "shifted", "flipped"]
    with pytest.raises(ValueError, match="multiple possible libraries"):
        sc.pl.spatial(a, color="cell_type", show=False)
    for sid in ("plain", "shifted"):
        lib, sub = a.uns["spatial"][sid], a[a.obs["slide"] == sid]
        assert lib["metadata"]["image"] == "thumbnail"
        _cells_are_bright(lib["images"]["hires"], sub.obsm["spatial"] * 2.0, 6.0)
        _check_drawing(sc.pl.spatial(sub, library_id=sid, color="cell_type", show=False)[0], sub, lib)
    assert a.uns["spatial"]["shifted"]["images"]["hires"].shape == (192 + 80, 224 + 200, 3)  # 40 / 100 µm of padding
    lib = a.uns["spatial"]["flipped"]
    assert lib["metadata"]["image"] == "blank" and "flipped" in lib["metadata"]["image_note"]
    plt.close("all")


def test_pixel_units_when_the_pixel_size_is_unknown(tmp_path):
    a = _embed(tmp_path, [make_toy_slide(pixel_size_um=None, expression=False)])
    lib = a.uns["spatial"]["toy"]
    assert a.uns["madcell"]["spatial_unit"] == "px" and lib["metadata"]["spatial_unit"] == "px"
    assert lib["scalefactors"]["tissue_hires_scalef"] == 1.0 and lib["metadata"]["image"] == "thumbnail"
    assert 8.0 < lib["scalefactors"]["spot_diameter_fullres"] < 20.0  # px: nearest centroids ~16 px apart
    _cells_are_bright(lib["images"]["hires"], a.obsm["spatial"], 6.0)
    _check_drawing(sc.pl.spatial(a, color="cell_type", show=False)[0], a, lib)
    plt.close("all")
