"""SpatialData reader: element choice, transformations, pyramid level, table join; and a real Xenium
set written as SpatialData by hand read the same as by madcell's Xenium reader."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from io_testdata import XENIUM_OPTS, real  # noqa: E402
from sdata_testdata import CENTRES, ORIGIN, PS, build, spatialdata_or_skip  # noqa: E402

from madcell.errors import InputError  # noqa: E402
from madcell.io import detect_format, read_input  # noqa: E402

spatialdata_or_skip()

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _check_cells(slide, factor: float):
    cells = slide.cells.set_index("cell_id")
    assert len(cells) == len(CENTRES)  # label 13 has no table row: left out, and counted
    for k, (cx, cy) in enumerate(CENTRES, start=1):
        row = cells.loc[str(k) if str(k) in cells.index else f"c{k}"]
        # centroid on the chosen level's grid (centre convention: level px = (px0 + 0.5) / f - 0.5)
        assert abs(row["x_px"] - ((cx + 0.5) / factor - 0.5)) < 0.6 and abs(row["y_px"] - ((cy + 0.5) / factor - 0.5)) < 0.6
        np.testing.assert_allclose([row["x_um"], row["y_um"]], [ORIGIN[0] + PS * cx, ORIGIN[1] + PS * cy], atol=0.6)
        win = slide.labels.read(int(round(row["y_px"])), int(round(row["y_px"])) + 1,
                                int(round(row["x_px"])), int(round(row["x_px"])) + 1)
        assert win[0, 0] == row["label"]  # the mask under the centroid is the cell's own


def test_labels_table_transform_and_level(tmp_path):
    path, table = build(tmp_path / "s.zarr")
    assert detect_format(path) == "spatialdata"
    (slide,) = read_input(path, options={"level": 0})
    assert slide.meta["level"] == 0 and slide.image.shape == (3, 400, 400) and slide.pixel_size_um == pytest.approx(PS)
    assert slide.image.channel_names == ["DAPI", "CD45", "PanCK"]
    assert slide.meta["cells_without_table_row"] == 1 and slide.meta["segmentation"] == "labels/cells"
    _check_cells(slide, 1.0)
    # expression and the cell type joined on the instance key, in cell order
    ids = slide.cells["cell_id"].astype(int).to_numpy()
    np.testing.assert_array_equal(slide.expression.X, table.X[ids - 1])
    assert list(slide.expression.obs_names) == list(slide.cells["cell_id"])
    assert list(slide.cells["cell_type"]) == list(table.obs["cell_type"].astype(str).to_numpy()[ids - 1])
    assert "area" not in slide.cells  # numbers are not labels
    # the image is read straight from the level-0 array, and the nuclei are bright
    win = slide.image.read(50, 90, 40, 80)
    assert win.shape == (3, 40, 40) and win[0].max() > 900


def test_auto_level_takes_the_coarsest_that_keeps_cells_big_enough(tmp_path):
    path, _ = build(tmp_path / "s.zarr")
    (slide,) = read_input(path, options={"min_cell_px": 15})  # cells are ~40 px at level 0, ~20 at level 1
    assert slide.meta["level"] == 1 and slide.image.shape == (3, 200, 200)
    assert slide.pixel_size_um == pytest.approx(2 * PS)
    _check_cells(slide, 2.0)
    (fine,) = read_input(path, options={"min_cell_px": 70})  # paper morphology side: no level is enough -> 0
    assert fine.meta["level"] == 0


def test_pixel_coordinate_system_takes_um_from_the_table(tmp_path):
    path, _ = build(tmp_path / "px.zarr", pixel_system=True)
    (slide,) = read_input(path, options={"level": 0})
    assert slide.pixel_size_um == pytest.approx(PS, rel=1e-3)
    assert "obsm['spatial']" in slide.meta["pixel_size_source"]
    assert slide.meta["centroid_source"] == "table obsm['spatial']"
    _check_cells(slide, 1.0)  # µm from the table's scale, pixels from the mask
    (given,) = read_input(path, options={"level": 0, "pixel_size_um": 0.25})
    assert given.pixel_size_um == 0.25 and given.meta["pixel_size_source"] == "option pixel_size_um"


def test_table_centroids_in_another_frame_are_ignored(tmp_path):
    import spatialdata as sd

    path, _ = build(tmp_path / "f.zarr")
    s = sd.read_zarr(path)
    t = s.tables["table"]
    t.obsm["spatial"] = np.column_stack([1000 + PS * CENTRES[:, 0], PS * CENTRES[:, 1]])  # shifted by 1 mm
    del s.tables["table"]
    s.tables["table"] = t
    s.delete_element_from_disk("table")
    s.write_element("table")
    (slide,) = read_input(path, options={"level": 0})
    assert slide.meta["centroid_source"].startswith("geometry (table obsm['spatial'] is up to")
    _check_cells(slide, 1.0)


def test_polygon_shapes_give_the_same_cells(tmp_path):
    path, _ = build(tmp_path / "p.zarr", shapes=True)
    (slide,) = read_input(path, options={"level": 0})
    assert slide.meta["segmentation"] == "shapes/cells"
    _check_cells(slide, 1.0)
    assert list(slide.cells["cell_id"]) == [f"c{k}" for k in range(1, len(CENTRES) + 1)]


def test_choice_errors_name_the_elements(tmp_path):
    path, _ = build(tmp_path / "two.zarr", two_images=True)
    with pytest.raises(InputError, match="2 image elements .*other.*stain.*--option image=NAME"):
        read_input(path)
    (slide,) = read_input(path, options={"image": "stain", "level": 0})
    assert slide.image.shape[0] == 3
    with pytest.raises(InputError, match="no image element 'nope'"):
        read_input(path, options={"image": "nope"})
    with pytest.raises(InputError, match="coordinate system 'aligned' not found"):
        read_input(path, options={"coordinate_system": "aligned", "image": "stain"})
    with pytest.raises(InputError, match="unknown option"):
        read_input(path, options={"imgae": "stain"})


def test_circles_are_not_a_segmentation(tmp_path):
    import geopandas as gpd
    import shapely
    import spatialdata as sd
    from spatialdata.models import ShapesModel

    path, _ = build(tmp_path / "c.zarr")
    s = sd.read_zarr(path)
    spots = gpd.GeoDataFrame({"radius": [5.0, 5.0]}, geometry=shapely.points([[10, 10], [50, 50]]))
    s.shapes["spots"] = ShapesModel.parse(spots)
    s.write_element("spots")
    with pytest.raises(InputError, match="circles or points"):
        read_input(path, options={"shapes": "spots"})


def test_xenium_mini_as_spatialdata_matches_the_xenium_reader(tmp_path):
    folder = real("xenium_outs_mini")
    sys.path.insert(0, str(BENCH))
    try:
        from xenium_to_sdata import xenium_to_spatialdata
    finally:
        sys.path.remove(str(BENCH))
    zarr = xenium_to_spatialdata(folder, tmp_path / "x.zarr", XENIUM_OPTS["pixel_size_um"], XENIUM_OPTS["origin_um"], [2])
    opts = {k: v for k, v in XENIUM_OPTS.items() if k != "keep_transcripts"}
    (a,) = read_input(folder, options=opts)
    (b,) = read_input(zarr, options={"level": "auto", "min_cell_px": 1000})  # cells ~6 px: level 0
    assert b.meta["level"] == 0 and b.pixel_size_um == pytest.approx(a.pixel_size_um)
    ca, cb = a.cells.set_index("cell_id"), b.cells.set_index("cell_id")
    assert len(ca) == 526 and set(ca.index) == set(cb.index)
    cb = cb.loc[ca.index]
    # the table's obsm['spatial'] (10x's centroids) won over the polygon centroids, which lie within 1 px
    assert b.meta["centroid_source"] == "table obsm['spatial']"
    np.testing.assert_allclose(ca[["x_px", "y_px"]].to_numpy(), cb[["x_px", "y_px"]].to_numpy(), atol=1e-6)
    np.testing.assert_allclose(ca[["x_um", "y_um"]].to_numpy(), cb[["x_um", "y_um"]].to_numpy(), atol=1.7)
    ea, eb = a.expression, b.expression[list(ca.index)]
    assert list(ea.var_names) == list(eb.var_names)
    np.testing.assert_array_equal(np.asarray(ea.X.todense()), np.asarray(eb.X.todense()))
    np.testing.assert_array_equal(a.image.read(0, 237, 0, 237), b.image.read(0, 237, 0, 237))
    # the rasterised masks agree pixel for pixel (by cell id; the label numbers may differ)
    la, lb = a.labels.read(0, 237, 0, 237), b.labels.read(0, 237, 0, 237)
    ida = np.r_[[""], a.cells.sort_values("label")["cell_id"].to_numpy()]
    idb = np.r_[[""], b.cells.sort_values("label")["cell_id"].to_numpy()]
    assert (ida[la] == idb[lb]).mean() > 0.999
