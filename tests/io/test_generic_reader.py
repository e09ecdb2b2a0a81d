from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import tifffile

from io_testdata import make_tissue
from madcell.errors import InputError
from madcell.io import read_input
from madcell.io.cells import mask_stats


def test_full_folder(tmp_path):
    truth = make_tissue(tmp_path / "s")
    (s,) = read_input(tmp_path / "s")
    assert s.meta["format"] == "generic" and s.slide_id == "s"
    assert s.n_cells == 16 and s.pixel_size_um == pytest.approx(0.5)
    assert s.image.channel_names == ["DAPI", "CD3", "PanCK"]
    assert np.array_equal(s.image.read(0, 80, 0, 80), truth["image"])
    assert np.array_equal(s.labels.read(0, 80, 0, 80), truth["labels"])
    assert s.label_columns == ["cell_type"]
    assert np.allclose(s.cells["x_um"], s.cells["x_px"] * 0.5)
    assert list(s.expression.obs_names) == list(s.cells["cell_id"])
    assert np.array_equal(s.expression.X, truth["X"])  # realigned from the reversed file order


def test_mask_only(tmp_path):
    truth = make_tissue(tmp_path / "s")
    (tmp_path / "s" / "cells.parquet").unlink()
    (tmp_path / "s" / "expression.h5ad").unlink()
    (s,) = read_input(tmp_path / "s", options={"channels": ["PanCK", "DAPI"]})
    assert s.image.shape == (2, 80, 80) and np.array_equal(s.image.read(0, 5, 0, 5), truth["image"][[2, 0], :5, :5])
    assert list(s.cells["cell_id"]) == [str(i) for i in range(1, 17)]
    expected = truth["cells"].set_index("label")
    assert np.allclose(s.cells["x_px"], expected.loc[s.cells["label"], "x_px"])
    assert np.allclose(s.cells["y_px"], expected.loc[s.cells["label"], "y_px"])
    assert s.expression is None


def test_mask_stats_streams_tiles(tmp_path):
    make_tissue(tmp_path / "s")
    (s,) = read_input(tmp_path / "s")
    a, b = mask_stats(s.labels, tile=7), mask_stats(s.labels, tile=4096)
    pd.testing.assert_frame_equal(a, b)
    assert (a["count"] == 100).all()


def _squares(n=4, cell=10):
    out = []
    for lab in range(1, n * n + 1):
        i, j = divmod(lab - 1, n)
        y0, x0 = i * 2 * cell + cell // 2, j * 2 * cell + cell // 2
        # ring on pixel edges: pixel centres x0..x0+cell-1 inside
        out.append((f"c{lab}", [(x0 - 0.5, y0 - 0.5), (x0 + cell - 0.5, y0 - 0.5), (x0 + cell - 0.5, y0 + cell - 0.5),
                                 (x0 - 0.5, y0 + cell - 0.5), (x0 - 0.5, y0 - 0.5)]))
    return out


def test_polygons_geojson_px(tmp_path):
    truth = make_tissue(tmp_path / "s")
    (tmp_path / "s" / "labels.tif").unlink()
    feats = [{"type": "Feature", "properties": {"cell_id": cid},
              "geometry": {"type": "Polygon", "coordinates": [ring]}} for cid, ring in _squares()]
    (tmp_path / "s" / "polygons.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    (s,) = read_input(tmp_path / "s")
    assert s.n_cells == 16 and s.label_columns == ["cell_type"]
    # polygon labels are 1..N in polygon order, which is the mask order here
    assert np.array_equal(s.labels.read(0, 80, 0, 80), truth["labels"])
    assert np.allclose(s.cells["x_px"], truth["cells"]["x_px"])


def test_polygons_csv_um_without_table(tmp_path):
    truth = make_tissue(tmp_path / "s")
    for f in ("labels.tif", "cells.parquet", "expression.h5ad"):
        (tmp_path / "s" / f).unlink()
    rows = [(cid, 100 + x * 0.5, 200 + y * 0.5) for cid, ring in _squares() for x, y in ring]
    pd.DataFrame(rows, columns=["cell_id", "x", "y"]).to_csv(tmp_path / "s" / "polygons.csv", index=False)
    (s,) = read_input(tmp_path / "s", options={"polygon_units": "um", "origin_um": (100, 200)})
    assert np.array_equal(s.labels.read(0, 80, 0, 80), truth["labels"])
    assert np.array_equal(s.labels.read(-5, 5, 75, 85)[:5], np.zeros((5, 10)))  # outside the slide
    assert list(s.cells["cell_id"]) == [f"c{i}" for i in range(1, 17)]


def test_polygons_with_a_label_only_cell_table(tmp_path):
    """A cell table with ids and labels but no centroids (the issue's crash: KeyError 'x_px_polygon'):
    the centroids come from the polygons, the labels from the table."""
    truth = make_tissue(tmp_path / "s")
    for f in ("labels.tif", "cells.parquet", "expression.h5ad"):
        (tmp_path / "s" / f).unlink()
    rows = [(cid, x, y) for cid, ring in _squares() for x, y in ring]
    pd.DataFrame(rows, columns=["cell_id", "x", "y"]).to_csv(tmp_path / "s" / "polygons.csv", index=False)
    pd.DataFrame({"cell_id": [f"c{i}" for i in range(1, 17)], "kind": ["a", "b"] * 8}).to_csv(
        tmp_path / "s" / "annot.csv", index=False)
    (s,) = read_input(tmp_path / "s", options={"cells": "annot.csv"})
    assert s.label_columns == ["kind"] and list(s.cells["kind"]) == ["a", "b"] * 8
    assert np.allclose(s.cells["x_px"], truth["cells"]["x_px"]) and np.allclose(s.cells["y_px"], truth["cells"]["y_px"])


def test_png_image(tmp_path):
    from PIL import Image

    make_tissue(tmp_path / "s")
    (tmp_path / "s" / "image.ome.tif").unlink()
    rgb = np.random.default_rng(0).integers(0, 255, (80, 80, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "s" / "image.png")
    (s,) = read_input(tmp_path / "s", options={"pixel_size_um": 0.25})
    assert s.image.shape == (3, 80, 80) and s.pixel_size_um == 0.25
    assert np.array_equal(s.image.read(0, 80, 0, 80), np.moveaxis(rgb, -1, 0))


# ---- errors ----------------------------------------------------------------------------------------------


def test_shape_mismatch(tmp_path):
    make_tissue(tmp_path / "s")
    tifffile.imwrite(tmp_path / "s" / "labels.tif", np.ones((40, 80), np.int32))
    with pytest.raises(InputError, match=r"labels.tif: mask shape \(40, 80\) does not match image shape \(80, 80\)"):
        read_input(tmp_path / "s")


def test_table_ids_not_in_mask(tmp_path):
    truth = make_tissue(tmp_path / "s")
    labels = truth["labels"].copy()
    labels[labels == 5] = 0
    tifffile.imwrite(tmp_path / "s" / "labels.tif", labels)
    with pytest.raises(InputError, match=r"cells.parquet: 1 cell labels are not in the mask labels.tif \(e.g. \[5\]\)"):
        read_input(tmp_path / "s")


def test_mask_ids_not_in_table(tmp_path):
    truth = make_tissue(tmp_path / "s")
    truth["cells"].iloc[1:].to_parquet(tmp_path / "s" / "cells.parquet")
    with pytest.raises(InputError, match=r"cells.parquet: 1 mask labels of labels.tif have no row"):
        read_input(tmp_path / "s")


def test_empty_mask(tmp_path):
    make_tissue(tmp_path / "s")
    (tmp_path / "s" / "cells.parquet").unlink()
    (tmp_path / "s" / "labels.tif").unlink()
    np.save(tmp_path / "s" / "labels.npy", np.zeros((80, 80), np.int32))
    with pytest.raises(InputError, match="labels.npy: label mask is empty"):
        read_input(tmp_path / "s")


def test_garbage_cells_parquet(tmp_path):
    make_tissue(tmp_path / "s")
    (tmp_path / "s" / "cells.parquet").write_bytes(b"not a parquet file at all")
    with pytest.raises(InputError, match="cells.parquet: cannot read table"):
        read_input(tmp_path / "s")


def test_expression_missing_cells(tmp_path):
    truth = make_tissue(tmp_path / "s")
    pd.DataFrame(truth["X"][:3], index=truth["cells"]["cell_id"][:3]).to_csv(tmp_path / "s" / "expr.csv")
    (tmp_path / "s" / "expression.h5ad").unlink()
    with pytest.raises(InputError, match="expr.csv: 13 cells of the cell table have no expression row"):
        read_input(tmp_path / "s", options={"expression": "expr.csv"})


def test_missing_channel_and_unknown_option(tmp_path):
    make_tissue(tmp_path / "s")
    with pytest.raises(InputError, match=r"image.ome.tif: channel\(s\) \['CD8'\] not in the image"):
        read_input(tmp_path / "s", options={"channels": ["CD8"]})
    with pytest.raises(InputError, match=r"unknown option\(s\) \['pixelsize'\]"):
        read_input(tmp_path / "s", options={"pixelsize": 1})


def test_polygons_in_um_need_pixel_size(tmp_path):
    make_tissue(tmp_path / "s", pixel_size=None)
    (tmp_path / "s" / "labels.tif").unlink()
    pd.DataFrame([("a", 0, 0), ("a", 5, 0), ("a", 5, 5)], columns=["cell_id", "x", "y"]).to_csv(
        tmp_path / "s" / "polygons.csv", index=False)
    (tmp_path / "s" / "cells.parquet").unlink()
    (tmp_path / "s" / "expression.h5ad").unlink()
    with pytest.raises(InputError, match="polygons.csv: polygons are in µm but the pixel size is unknown"):
        read_input(tmp_path / "s", options={"polygon_units": "um"})


def test_synthetic_tissue_reads_through_generic(tmp_path):
    from madcell.synthetic import make_tissue as synth

    synth(tmp_path / "syn", n_cells=40, seed=0, pixel_size_um=0.5)
    (s,) = read_input(tmp_path / "syn")
    assert s.n_cells == 40 and s.meta["format"] == "generic"
    assert s.pixel_size_um == pytest.approx(0.5)  # from the OME metadata
    assert {"cell_type", "niche", "subtype"} <= set(s.label_columns)
    assert list(s.expression.obs_names) == list(s.cells["cell_id"])
    win = s.labels.read(0, s.labels.shape[0], 0, s.labels.shape[1])
    assert set(np.unique(win)) - {0} == set(s.cells["label"])
