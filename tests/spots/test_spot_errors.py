"""Bad spot inputs raise InputError naming the file and the problem."""

from __future__ import annotations

import shutil

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from madcell.errors import InputError
from madcell.spots import read_spots
from spots_testdata import write_legacy_st


@pytest.fixture
def outs(tmp_path, visium_dir):
    return shutil.copytree(visium_dir, tmp_path / "v")


def _raises(path_part: str, problem: str, *args, **kwargs):
    with pytest.raises(InputError, match=problem) as exc:
        read_spots(*args, **kwargs)
    assert path_part in str(exc.value.path), exc.value
    return exc.value


def test_missing_files(tmp_path, outs):
    _raises(str(tmp_path / "nowhere"), "does not exist", tmp_path / "nowhere")
    (outs / "filtered_feature_bc_matrix.h5").unlink()
    _raises("filtered_feature_bc_matrix.h5", "does not exist", outs)
    _raises("v", "unknown spot format", tmp_path / "v" / "spatial")
    legacy = write_legacy_st(tmp_path / "st")
    (legacy / "data" / "ST-spotfiles" / "A1_selection.tsv").unlink()
    _raises("A1_selection.tsv", "does not exist", legacy)


def test_mismatched_spot_ids(tmp_path, outs):
    pos_path = outs / "spatial" / "tissue_positions.csv"
    pos = pd.read_csv(pos_path)
    pos.iloc[1:].to_csv(pos_path, index=False)  # one barcode of the matrix loses its position
    _raises("filtered_feature_bc_matrix.h5", "spot ids do not match", outs)

    legacy = write_legacy_st(tmp_path / "st")
    cnt_path = legacy / "data" / "ST-cnts" / "A1.tsv.gz"
    cnt = pd.read_csv(cnt_path, sep="\t", index_col=0)
    cnt.rename(index={"1x1": "9x9"}).to_csv(cnt_path, sep="\t")
    _raises("A1.tsv.gz", "spot ids do not match", legacy)


def test_labels_with_unknown_or_moved_spots(tmp_path):
    legacy = write_legacy_st(tmp_path / "st")
    lbl_path = legacy / "res" / "ST-cluster" / "lbl" / "A1-cluster-annotation.tsv"
    lbl = pd.read_csv(lbl_path, sep="\t", index_col=0)
    lbl.assign(pixel_x=lbl["pixel_x"] + 50).to_csv(lbl_path, sep="\t")
    _raises("A1-cluster-annotation.tsv", "other pixel positions", legacy)
    lbl.assign(x=lbl["x"] + 10).to_csv(lbl_path, sep="\t")
    _raises("A1-cluster-annotation.tsv", "spot ids do not match", legacy)


def test_no_spot_under_tissue(tmp_path, outs):
    pos_path = outs / "spatial" / "tissue_positions.csv"
    pd.read_csv(pos_path).assign(in_tissue=0).to_csv(pos_path, index=False)
    _raises("tissue_positions.csv", "no spot under tissue", outs)
    legacy = write_legacy_st(tmp_path / "st")
    sel_path = legacy / "data" / "ST-spotfiles" / "A1_selection.tsv"
    pd.read_csv(sel_path, sep="\t").assign(selected=0).to_csv(sel_path, sep="\t", index=False)
    _raises("A1.tsv.gz", "no spot under tissue", legacy)


def test_malformed_files(tmp_path, outs):
    pos_path = outs / "spatial" / "tissue_positions.csv"
    good = pd.read_csv(pos_path)
    good.drop(columns="pxl_row_in_fullres").to_csv(pos_path, index=False)
    _raises("tissue_positions.csv", "lack column", outs)
    good.assign(array_row="a").to_csv(pos_path, index=False)
    _raises("tissue_positions.csv", "'array_row' must hold numbers", outs)
    good.to_csv(pos_path, index=False)
    (outs / "spatial" / "scalefactors_json.json").write_text("{not json")
    _raises("scalefactors_json.json", "cannot parse", outs)
    bad = ad.AnnData(X=np.ones((3, 2), np.float32))
    bad.write_h5ad(tmp_path / "bad.h5ad")
    _raises("bad.h5ad", "no spot pixel coordinates", tmp_path / "bad.h5ad")


def test_spots_outside_the_image(tmp_path, outs):
    Image.fromarray(np.zeros((100, 80, 3), np.uint8)).save(tmp_path / "small.png")
    err = _raises("tissue_positions.csv", "outside the image", outs, image=tmp_path / "small.png")
    assert "80 wide x 100 high" in err.problem


def test_bad_options(tmp_path, outs):
    _raises("v", "unknown option", outs, pixel_size=0.5)
    _raises("v", "platform must be one of", outs, platform="slideseq")
    _raises("v", "pitch_um must be positive", outs, pitch_um=-1)
    _raises("v", "unknown spot format 'visium'", outs, format="visium")
    _raises("missing.tif", "image file does not exist", outs, image=tmp_path / "missing.tif")
    _raises("st", "section 'B9' not in", write_legacy_st(tmp_path / "st"), section="B9")
