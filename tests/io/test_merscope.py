from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from madcell.errors import InputError
from madcell.io import read_input

from io_testdata import MERSCOPE_OPTS, centroid_hit_rate, real, transcript_hit_rate


def test_cells_image_and_ids(merscope_slide):
    s = merscope_slide
    assert s.n_cells == 498
    assert s.image.shape == (2, 4143, 4603) and s.image.channel_names == ["dapi", "polyT"]
    assert s.pixel_size_um == pytest.approx(0.108627)
    ids = pd.read_csv(real("merscope_brain_mini") / "cell_boundaries" / "z0_polygons.gz", dtype={"poly_ID": str})
    assert set(s.cells["cell_id"]) == set(ids["poly_ID"])  # ~38-digit ids kept exactly, as strings


def test_transcripts_fall_in_their_cell(merscope_slide):
    tx = merscope_slide.transcripts
    assert len(tx) == 36197
    assert (tx["cell_id"] != "").mean() == pytest.approx(0.421, abs=0.005)
    assert transcript_hit_rate(merscope_slide) >= 0.95


def test_centroids_inside_mask(merscope_slide):
    assert centroid_hit_rate(merscope_slide) >= 0.97  # concave cells have their centroid outside
    assert centroid_hit_rate(merscope_slide, radius=20) == 1.0  # 20 px = 2.2 µm
    assert int(merscope_slide.labels.tiny.sum()) == 3  # zero-area rings in the file still own a pixel


def test_expression(merscope_slide):
    e = merscope_slide.expression
    assert list(e.obs_names) == list(merscope_slide.cells["cell_id"])
    assert e.n_vars == 450 and not any(v.startswith("Blank-") for v in e.var_names)
    per_cell = np.asarray(e.X.sum(axis=1)).ravel() + e.obs["control_counts"].to_numpy()
    assert per_cell.sum() == (merscope_slide.transcripts["cell_id"] != "").sum()
    assert np.median(per_cell) == 25 and (per_cell == 0).sum() == 42


def test_dapi_brighter_inside_cells(merscope_slide):
    img = merscope_slide.image.read(1000, 2000, 1000, 2000)[0].astype(float)
    lab = merscope_slide.labels.read(1000, 2000, 1000, 2000)
    assert img[lab > 0].mean() > 1.5 * img[lab == 0].mean()


def test_z1_and_transform_option():
    m = np.array([[1 / 0.108627, 0, -6400.029 / 0.108627], [0, 1 / 0.108627, -4699.967 / 0.108627], [0, 0, 1]])
    (s,) = read_input(real("merscope_brain_mini"), options={"z": 1, "transform": m.tolist(), "channels": ["dapi"]})
    assert s.n_cells == 504 and s.image.shape == (1, 4143, 4603) and s.slide_id.endswith("_z1")


def test_no_transform_is_an_error():
    with pytest.raises(InputError, match="no micron_to_mosaic_pixel_transform.csv"):
        read_input(real("merscope_brain_mini"))


def test_unknown_channel_is_an_error():
    with pytest.raises(InputError, match=r"channel\(s\) \['CD3'\] not in the image"):
        read_input(real("merscope_brain_mini"), options={**MERSCOPE_OPTS, "channels": ["CD3"]})


def test_vizgen_outs_layout(tmp_path):
    """Real MERSCOPE outs: mosaic TIFFs, the µm -> px transform file, cell_boundaries.parquet (WKB)."""
    import shapely
    import tifffile

    (tmp_path / "images").mkdir()
    rng = np.random.default_rng(0)
    for stain in ("PolyT", "DAPI"):
        tifffile.imwrite(tmp_path / "images" / f"mosaic_{stain}_z2.tif", rng.integers(0, 999, (60, 80), dtype=np.uint16))
    (tmp_path / "images" / "micron_to_mosaic_pixel_transform.csv").write_text("2 0 -20\n0 2 -40\n0 0 1\n")
    squares = {101: (15.0, 25.0), 102: (30.0, 40.0)}  # lower-left corner in µm, 5 µm side
    geoms, rows = [], []
    for eid, (x, y) in squares.items():
        geoms.append(shapely.MultiPolygon([shapely.box(x, y, x + 5, y + 5)]))
        rows += [(x + 1, y + 1, 2, "Gad1"), (x + 2, y + 3, 2, "Gad1"), (x + 4, y + 1, 2, "Blank-0001"), (x + 1, y + 1, 0, "Sst")]
    pd.DataFrame({"EntityID": list(squares), "ZIndex": 2, "Geometry": shapely.to_wkb(geoms)}).to_parquet(
        tmp_path / "cell_boundaries.parquet")
    pd.DataFrame(rows, columns=["global_x", "global_y", "global_z", "gene"]).to_csv(
        tmp_path / "detected_transcripts.csv", index=False)
    (s,) = read_input(tmp_path, options={"z": 2, "keep_transcripts": True})
    assert s.image.channel_names == ["DAPI", "PolyT"] and s.pixel_size_um == pytest.approx(0.5)
    assert list(s.cells["cell_id"]) == ["101", "102"]
    assert np.allclose(s.cells[["x_px", "y_px"]].to_numpy(), [[15, 15], [45, 45]])  # (17.5 - 10) * 2, ...
    assert list(s.expression.var_names) == ["Gad1", "Sst"]
    assert s.expression.X.toarray().tolist() == [[2, 0], [2, 0]]
    assert s.expression.obs["control_counts"].tolist() == [1, 1]
    assert transcript_hit_rate(s) == 1.0
