"""The output folder: readable files, consistent ids, masks and centroids, determinism."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import tifffile

from madcell.synthetic import CHANNELS, HE_CHANNELS, LABEL_COLUMNS, OUTPUT_FILES, make_tissue


def test_files_readable_with_metadata(easy_dir):
    assert all((easy_dir / f).is_file() for f in OUTPUT_FILES)
    with tifffile.TiffFile(easy_dir / "image.ome.tif") as tf:
        assert tf.is_ome
        series = tf.series[0]
        assert series.axes == "CYX" and series.dtype == np.uint16
        assert tf.pages[0].is_tiled and tf.pages[0].tilewidth == 256
        ome = tf.ome_metadata
    assert 'PhysicalSizeX="0.5"' in ome and 'PhysicalSizeY="0.5"' in ome
    for name in CHANNELS:
        assert f'Name="{name}"' in ome
    labels = tifffile.imread(easy_dir / "labels.tif")
    assert labels.dtype == np.int32 and labels.shape == series.shape[1:]
    cells = pd.read_parquet(easy_dir / "cells.parquet")
    assert len(cells) == 500 and cells["cell_id"].is_unique
    for col in ["cell_id", "label", "x_px", "y_px", "x_um", "y_um", *LABEL_COLUMNS, "proliferating"]:
        assert col in cells.columns
    np.testing.assert_allclose(cells["x_um"], cells["x_px"] * 0.5)
    adata = ad.read_h5ad(easy_dir / "expression.h5ad")
    assert list(adata.obs_names) == list(cells["cell_id"])
    assert np.issubdtype(adata.X.dtype, np.integer) and adata.n_vars >= 50
    assert (adata.obs["subtype"].to_numpy() == cells["subtype"].to_numpy()).all()
    meta = json.loads((easy_dir / "synth.json").read_text())
    assert meta["seed"] == 3 and meta["cells"] == 500 and "madcell_version" in meta


def test_masks_match_cell_table(easy_dir):
    labels = tifffile.imread(easy_dir / "labels.tif")
    cells = pd.read_parquet(easy_dir / "cells.parquet")
    present = set(np.unique(labels)) - {0}
    assert present == set(cells["label"])
    rows = np.rint(cells["y_px"]).astype(int)
    cols = np.rint(cells["x_px"]).astype(int)
    assert (labels[rows, cols] == cells["label"].to_numpy()).all()
    areas = np.bincount(labels.ravel())[cells["label"]]
    assert np.median(areas) > 100  # cells are ~8-16 µm across at 0.5 µm/px


def test_same_seed_same_arrays(tmp_path):
    a = make_tissue(tmp_path / "a", 150, 11, modality="he")
    b = make_tissue(tmp_path / "b", 150, 11, modality="he")
    c = make_tissue(tmp_path / "c", 150, 12, modality="he")
    for name in ["image.ome.tif", "labels.tif"]:
        np.testing.assert_array_equal(tifffile.imread(a / name), tifffile.imread(b / name))
    pd.testing.assert_frame_equal(pd.read_parquet(a / "cells.parquet"), pd.read_parquet(b / "cells.parquet"))
    np.testing.assert_array_equal(ad.read_h5ad(a / "expression.h5ad").X, ad.read_h5ad(b / "expression.h5ad").X)
    assert not np.array_equal(pd.read_parquet(a / "cells.parquet")["x_px"][:20], pd.read_parquet(c / "cells.parquet")["x_px"][:20])


def test_he_modality(tmp_path):
    out = make_tissue(tmp_path / "he", 120, 0, modality="he")
    with tifffile.TiffFile(out / "image.ome.tif") as tf:
        img = tf.series[0].asarray()
        ome = tf.ome_metadata
    assert img.shape[0] == 3 and img.dtype == np.uint8
    assert all(f'Name="{c}"' in ome for c in HE_CHANNELS)
    labels = tifffile.imread(out / "labels.tif")
    assert img.shape[1:] == labels.shape
    # background is bright (transmitted light), cells absorb: darker inside masks
    assert img[:, labels > 0].mean() < img[:, labels == 0].mean()


def test_labels_do_not_depend_on_block_size(tmp_path):
    a = make_tissue(tmp_path / "a", 200, 5, block_tiles=1, tile_size=128)
    b = make_tissue(tmp_path / "b", 200, 5, block_tiles=3, tile_size=128)
    np.testing.assert_array_equal(tifffile.imread(a / "labels.tif"), tifffile.imread(b / "labels.tif"))


def test_parallel_rendering_gives_identical_files(tmp_path):
    a = make_tissue(tmp_path / "a", 150, 4, workers=1, tile_size=128, block_tiles=1)
    b = make_tissue(tmp_path / "b", 150, 4, workers=2, tile_size=128, block_tiles=1)
    for name in ["image.ome.tif", "labels.tif"]:
        np.testing.assert_array_equal(tifffile.imread(a / name), tifffile.imread(b / name))
