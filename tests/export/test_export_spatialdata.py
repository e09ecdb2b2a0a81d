"""Round trip: a SpatialData object -> prepare -> embed -> export -> spatialdata.read_zarr, with the
table joined to the right instances (a new zarr with image + mask, and into the source object)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from sdata_testdata import build, spatialdata_or_skip  # noqa: E402

sd = spatialdata_or_skip()

from madcell.cli import app  # noqa: E402
from madcell.config import load_config  # noqa: E402
from madcell.embed import embed_store  # noqa: E402
from madcell.export import export_spatialdata  # noqa: E402
from madcell.models import Encoder  # noqa: E402
from madcell.views import prepare  # noqa: E402

TINY = {"model": {"arch": "custom", "embed_dim": 32, "depth": 1, "num_heads": 2, "layer_scale": None},
        "head": {"n_layers": 2, "hidden_dim": 32, "bottleneck_dim": 16, "out_dim": 64},
        "augment": {"morph_size": 28, "micro_size": 56}}
PREPARE = ["prepare.morph_size=28", "prepare.micro_size=56", "prepare.k_neighbors=3", "prepare.workers=1"]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sdata_round_trip")
    zarr, table = build(tmp / "tissue.zarr")
    store = prepare(zarr, tmp / "views.h5", overrides=PREPARE, progress=False, reader_options={"level": 0})
    enc = Encoder.untrained(load_config(None, TINY), 3, ["DAPI", "CD45", "PanCK"], seed=0)
    emb = tmp / "emb.h5ad"
    adata = embed_store(store, enc, emb, progress=False)
    return tmp, zarr, emb, adata, table


def _label_at(labels_element, x_um, y_um, pixel_size, origin):
    """Value of a labels element (image-aligned, µm transformation) under a µm point."""
    arr = np.asarray(labels_element.data)
    col, row = int(round((x_um - origin[0]) / pixel_size)), int(round((y_um - origin[1]) / pixel_size))
    return arr[row, col]


def test_new_zarr_with_image_and_mask(embedded):
    tmp, zarr, emb, adata, _ = embedded
    out = export_spatialdata(adata, out=tmp / "export.zarr", progress=lambda m: None)
    s = sd.read_zarr(out)
    slide = adata.obs["slide"].iloc[0]
    assert set(s.images) == {f"{slide}_image"} and set(s.labels) == {f"{slide}_cells"}
    t = s.tables["madcell"]
    attrs = t.uns["spatialdata_attrs"]
    assert attrs["region"] == f"{slide}_cells" and attrs["instance_key"] == "instance_id"
    assert t.n_obs == adata.n_obs == 12
    np.testing.assert_array_equal(t.obsm["X_mad"], adata[t.obs_names].obsm["X_mad"])
    assert "leiden_X_mad" in t.obs and t.obs["cell_type"].notna().all()
    # every row's instance is the mask value under that cell's centroid in the exported mask
    lab = s.labels[f"{slide}_cells"]
    lab = lab["scale0"]["image"] if hasattr(lab, "children") and len(lab.children) else lab
    for cid, row in t.obs.iterrows():
        assert _label_at(lab, row["x_um"], row["y_um"], 0.5, (10.0, 20.0)) == row["instance_id"]
    # spatialdata's own join finds every row
    from spatialdata import join_spatialelement_table

    _, joined = join_spatialelement_table(sdata=s, spatial_element_names=f"{slide}_cells", table_name="madcell", how="left")
    assert joined.n_obs == 12
    img = s.images[f"{slide}_image"]
    img = img["scale0"]["image"] if hasattr(img, "children") and len(img.children) else img
    assert img.shape == (3, 400, 400) and list(img.coords["c"].values) == ["DAPI", "CD45", "PanCK"]


def test_into_the_source_object(embedded, tmp_path):
    import shutil

    tmp, zarr, emb, adata, table = embedded
    copy = tmp_path / "tissue.zarr"
    shutil.copytree(zarr, copy)
    with pytest.raises(Exception, match="was not prepared from this SpatialData"):
        export_spatialdata(adata, into=copy, progress=lambda m: None)  # a copy is another object
    export_spatialdata(adata, into=zarr, progress=lambda m: None)
    s = sd.read_zarr(zarr)
    assert set(s.tables) == {"table", "madcell"}
    t = s.tables["madcell"]
    assert t.uns["spatialdata_attrs"]["region"] == "cells"
    # instance ids are the source mask's labels: the cell ids madcell gave them
    np.testing.assert_array_equal(t.obs["instance_id"].astype(int).to_numpy(), t.obs_names.astype(int).to_numpy())
    src = table.obs.set_index(table.obs["cell_id"].astype(str))
    assert list(t.obs["cell_type"].astype(str)) == list(src.loc[t.obs_names, "cell_type"].astype(str))
    with pytest.raises(Exception, match="already has a table 'madcell'"):
        export_spatialdata(adata, into=zarr, progress=lambda m: None)
    # the object can be prepared again: madcell's own table is not mistaken for the input's
    from madcell.io import read_input

    (again,) = read_input(zarr, options={"level": 0})
    assert again.meta["table"] == "table" and again.n_cells == 12


def test_cli_circles_and_errors(embedded):
    tmp, zarr, emb, adata, _ = embedded
    runner = CliRunner()
    r = runner.invoke(app, ["export", str(emb), "--spatialdata", str(tmp / "circles.zarr"), "--no-image", "--no-cluster"])
    assert r.exit_code == 0, r.output
    s = sd.read_zarr(tmp / "circles.zarr")
    (name,) = s.shapes
    circles = s.shapes[name]
    t = s.tables["madcell"]
    np.testing.assert_allclose(np.column_stack([circles.geometry.x, circles.geometry.y]),
                               adata[circles.index].obsm["spatial"])
    assert list(t.obs["instance_id"]) == list(t.obs_names) and "leiden_X_mad" not in t.obs
    assert (circles["radius"] > 5).all()  # half the morphology box of a 20 µm-wide cell
    for args, msg in ((["--spatialdata", str(tmp / "circles.zarr")], "already exists"),
                      ([], "give exactly one of"),
                      (["--spatialdata", str(tmp / "x.zarr"), "--into", str(zarr)], "give exactly one of")):
        r = runner.invoke(app, ["export", str(emb), *args])
        assert r.exit_code == 2 and msg in r.output, r.output
    assert not (tmp / "x.zarr").exists()
