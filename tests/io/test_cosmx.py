from __future__ import annotations

import numpy as np
import pandas as pd

from madcell.io import read_input

from io_testdata import centroid_hit_rate, real, transcript_hit_rate


def test_two_fovs_two_slides(cosmx_slides):
    assert [s.slide_id for s in cosmx_slides] == ["F002", "F003"]
    assert [s.n_cells for s in cosmx_slides] == [67, 53]
    for s in cosmx_slides:
        assert s.image.shape == (3, 648, 672) and s.image.dtype == np.uint8
        assert s.labels.read(0, 2, 0, 2).dtype == np.int32
        assert s.cells["cell_id"].str.startswith(s.slide_id + "_").all()
        assert s.pixel_size_um is None


def test_transcripts_fall_in_their_cell(cosmx_slides):
    for s in cosmx_slides:
        assert transcript_hit_rate(s) >= 0.95


def test_centroids_inside_mask(cosmx_slides):
    for s in cosmx_slides:
        assert centroid_hit_rate(s, radius=2) >= 0.95


def test_expression_from_transcripts(cosmx_slides):
    tx = pd.read_csv(real("cosmx_lung_mini") / "Lung12_tx_file.csv")
    genes = tx.loc[~tx["target"].str.startswith("NegPrb"), "target"]
    for s in cosmx_slides:
        e = s.expression
        assert list(e.obs_names) == list(s.cells["cell_id"])
        assert e.n_vars == genes.nunique() == 960 and not any(v.startswith("NegPrb") for v in e.var_names)
    f2 = cosmx_slides[0]
    t = tx[(tx["fov"] == 2) & (tx["cell_ID"] != 0)]
    expected = t[~t["target"].str.startswith("NegPrb")].groupby("cell_ID").size()
    got = pd.Series(np.asarray(f2.expression.X.sum(axis=1)).ravel(), index=f2.cells["label"].to_numpy())
    assert np.array_equal(got.loc[expected.index].to_numpy(), expected.to_numpy())
    neg = t[t["target"].str.startswith("NegPrb")].groupby("cell_ID").size()
    assert f2.expression.obs["control_counts"].sum() == neg.sum()


def test_crop_offsets_inferred_when_not_given():
    slides = read_input(real("cosmx_lung_mini"), options={"keep_transcripts": True})
    assert [s.meta["crop_offsets"] for s in slides] == [(4800, 3000), (0, 3000)]
    assert all(s.meta["crop_offsets_hit_rate"] > 0.99 for s in slides)


def test_pixel_size_option_gives_um():
    s = read_input(real("cosmx_lung_mini"), options={"pixel_size_um": 0.18, "fovs": [3]})
    assert len(s) == 1 and s[0].pixel_size_um == 0.18 and {"x_um", "y_um"} <= set(s[0].cells.columns)


def test_missing_pixel_size_is_warned_about():
    """Without pixel_size_um the FOVs keep local pixel coordinates and overlap: say so, and how to fix it."""
    import pytest

    with pytest.warns(UserWarning, match=r"no pixel_size_um given.*2 FOVs overlap in obsm\['spatial'\]"):
        slides = read_input(real("cosmx_lung_mini"))
    assert all(s.pixel_size_um is None and "x_um" not in s.cells for s in slides)
    # the local pixel positions of the two FOVs do overlap: the warning is about a real problem
    (a, b) = (s.cells[["x_px", "y_px"]].to_numpy() for s in slides)
    assert a.min(0)[0] < b.max(0)[0] and b.min(0)[0] < a.max(0)[0]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_input(real("cosmx_lung_mini"), options={"pixel_size_um": 0.18, "fovs": [3]})


def test_a_fov_missing_its_image_or_mask_is_an_error(tmp_path):
    """It used to be skipped silently (67 of 120 cells gone, no notice)."""
    import shutil

    import pytest

    from madcell.errors import InputError

    src = real("cosmx_lung_mini")
    dst = tmp_path / "cosmx"
    shutil.copytree(src, dst)
    comp = sorted((dst / "CellComposite").iterdir())
    gone = comp[0]
    gone.unlink()
    with pytest.raises(InputError, match=r"FOV\(s\) F00\d have no CellComposite image") as exc:
        read_input(dst, options={"pixel_size_um": 0.18})
    assert str(dst) in str(exc.value)
    fov = int(gone.stem.split("_F")[1])
    other = {2: 3, 3: 2}[fov]
    (s,) = read_input(dst, options={"pixel_size_um": 0.18, "fovs": [other]})  # leaving it out is the way round
    assert s.slide_id.endswith(f"F{other:03d}")


def test_fractional_float_mask_is_an_error(tmp_path):
    import numpy as np
    import pytest
    import tifffile

    from madcell.errors import InputError
    from madcell.io.images import open_labels

    m = np.zeros((20, 20), np.float32)
    m[2:8, 2:8] = 1.0
    m[10:15, 10:15] = 2.0
    tifffile.imwrite(tmp_path / "ok.tif", m)
    assert set(np.unique(open_labels(tmp_path / "ok.tif").read(0, 20, 0, 20))) == {0, 1, 2}  # whole numbers: fine
    m[10:15, 10:15] = 1.6  # a resampled mask: rounding would merge this cell into cell 2's id
    tifffile.imwrite(tmp_path / "bad.tif", m)
    with pytest.raises(InputError, match="non-integer value") as exc:
        open_labels(tmp_path / "bad.tif").read(0, 20, 0, 20)
    assert "bad.tif" in str(exc.value)
    np.save(tmp_path / "bad.npy", m)
    with pytest.raises(InputError, match="non-integer value"):
        open_labels(tmp_path / "bad.npy")
