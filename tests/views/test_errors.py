"""Every bad input gives one InputError naming the file and the problem, and writes nothing."""

import numpy as np
import pytest

from madcell.errors import InputError
from madcell.io.base import ArrayImage, ArrayLabels
from madcell.views import prepare_slides
from madcell.views.normalize import sample_windows

from views_toy import make_toy_slide

CFG = {"morph_size": 28, "micro_size": 56, "k_neighbors": 8, "tile_size": 96, "stats_sample_pixels": 20000}


def fails(slide_or_slides, tmp_path, match, cfg=None):
    out = tmp_path / "out.h5"
    slides = slide_or_slides if isinstance(slide_or_slides, list) else [slide_or_slides]
    with pytest.raises(InputError, match=match) as info:
        prepare_slides(slides, out, dict(CFG, **(cfg or {})), progress=False)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left either
    return info.value


def test_image_mask_shape_mismatch(tmp_path):
    s = make_toy_slide(expression=False)
    s.labels = ArrayLabels(s.labels.data[:100])
    err = fails(s, tmp_path, "label mask is 100x224")
    assert err.path == "/toy/toy"


def test_channel_not_in_image(tmp_path):
    fails(make_toy_slide(expression=False), tmp_path, r"no channel \['cd8'\]", {"channels": ["dapi", "cd8"]})


def test_slides_with_different_channels(tmp_path):
    a, b = make_toy_slide(expression=False), make_toy_slide(slide_id="b", expression=False)
    b.image = ArrayImage(b.image.data[:2], ["dapi", "cd45"])
    fails([a, b], tmp_path, "differ")


def test_one_cell_missing_from_mask_is_skipped_and_reported(tmp_path):
    from madcell.data.store import ViewStore

    s = make_toy_slide(expression=False)  # 143 cells: 1 missing is below prepare.max_missing_frac (1 %)
    lab = int(s.cells["label"].iloc[60])
    s.labels.data[s.labels.data == lab] = 0  # e.g. a small cell covered by its neighbour's polygon
    out = tmp_path / "out.h5"
    with pytest.warns(UserWarning, match=r"skipped 1 of 143 cells .*\['c60'\]"):
        prepare_slides([s], out, CFG, progress=False)
    with ViewStore(out) as vs:
        assert len(vs) == 142 and "c60" not in set(vs.cell_ids)
        rep = vs.slides["toy"]["geometry"]
    assert rep["skipped_ids"] == ["c60"] and rep["skipped_not_in_mask"] == 1 and rep["centroid_on_own_label"] == 1.0


def test_many_cells_missing_from_mask_fail_before_any_work(tmp_path):
    s = make_toy_slide(expression=False)
    for lab in s.cells["label"].iloc[:10]:
        s.labels.data[s.labels.data == int(lab)] = 0
    err = fails(s, tmp_path, r"10 of 143 cells of the table have no pixel in the label mask \(e.g. \['c0'")
    assert "/toy/toy" in str(err)


def test_swapped_coordinates_inside_the_image_are_refused(tmp_path):
    s = make_toy_slide(expression=False)
    s.cells = s.cells.assign(x_px=s.cells["y_px"], y_px=s.cells["x_px"])  # still inside the 192 x 224 image
    fails(s, tmp_path, r"only \d+% of the centroids fall on their own cell's label")


def test_mask_label_missing_from_table(tmp_path):
    s = make_toy_slide(expression=False)
    lab = int(s.cells["label"].iloc[70])
    s.cells = s.cells.drop(index=70).reset_index(drop=True)
    fails(s, tmp_path, rf"label mask has 1 label\(s\) that are not in the cell table \(e.g. \[{lab}\]\)")


def test_empty_mask(tmp_path):
    s = make_toy_slide(expression=False)
    s.labels.data[:] = 0
    fails(s, tmp_path, "label mask is empty")


def test_empty_table(tmp_path):
    s = make_toy_slide(expression=False)
    s.cells = s.cells.iloc[:0]
    fails(s, tmp_path, "cell table is empty")


def test_duplicate_ids_and_bad_centroids(tmp_path):
    s = make_toy_slide(expression=False)
    s.cells.loc[3, "cell_id"] = "c2"
    fails(s, tmp_path, "not unique")
    s = make_toy_slide(expression=False)
    s.cells.loc[5, "x_px"] = 500.0
    fails(s, tmp_path, "outside the 192x224 image")


def test_nan_pixels_found_in_the_sample(tmp_path):
    s = make_toy_slide(expression=False, dtype=np.float32)
    s.image.data[1, 50:60, 50:60] = np.nan
    fails(s, tmp_path, r"NaN or infinite pixels")


def test_nan_pixels_found_while_streaming(tmp_path):
    s = make_toy_slide(height=600, width=600, spacing=30, expression=False, dtype=np.float32)
    sampled = sample_windows(600, 600, 1000)
    assert len(sampled) == 1
    y0, _, x0, _ = sampled[0]
    # a NaN in a tile the statistics never look at: only the streaming pass can see it
    ny, nx = (300, 300) if (y0, x0) != (256, 256) else (50, 50)
    s.image.data[2, ny, nx] = np.inf
    fails(s, tmp_path, r"NaN or infinite pixels in rows", {"stats_sample_pixels": 1000})


def test_flatfield_needs_pixel_size(tmp_path):
    fails(make_toy_slide(pixel_size_um=None, expression=False), tmp_path, "pixel size is unknown", {"flatfield": True})


@pytest.mark.parametrize("key,value", [("micro_size", 100), ("morph_size", 20), ("micro_size", 0)])
def test_view_size_not_multiple_of_patch(tmp_path, key, value):
    err = fails(make_toy_slide(expression=False), tmp_path, "multiple of the patch size 14", {key: value})
    assert err.path == f"prepare.{key}"


def test_unreadable_window_while_streaming(tmp_path):
    class Truncated(ArrayLabels):
        calls = 0

        def read(self, y0, y1, x0, x1):
            Truncated.calls += 1
            if Truncated.calls > 3:
                raise OSError("TIFF tile 7 is truncated")
            return super().read(y0, y1, x0, x1)

    s = make_toy_slide(expression=False)
    s.labels = Truncated(s.labels.data)
    fails(s, tmp_path, "label mask could not be read at rows .*truncated")


def test_failed_run_keeps_an_existing_store(tmp_path):
    out = tmp_path / "views.h5"
    out.write_bytes(b"previous store")
    s = make_toy_slide(expression=False)
    s.labels.data[:] = 0
    with pytest.raises(InputError):
        prepare_slides([s], out, CFG, progress=False)
    assert out.read_bytes() == b"previous store"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["views.h5"]


@pytest.mark.timeout(180)
def test_error_in_a_worker_process(tmp_path):
    """Raised in a worker, while other units are in flight; 20 times, because stopping the old
    ``multiprocessing.Pool`` here hung in 1 of ~15-110 runs (its ``terminate``), and in CI."""
    for i in range(20):
        s = make_toy_slide(expression=False, seed=i % 4)
        lab = int(s.cells["label"].iloc[100 + i])
        s.cells = s.cells.drop(index=100 + i).reset_index(drop=True)  # found only while streaming, in a worker
        out = tmp_path / f"w{i}.h5"
        with pytest.raises(InputError, match=rf"not in the cell table \(e.g. \[{lab}\]\)"):
            prepare_slides([s], out, dict(CFG, tile_size=64), workers=2, progress=False)
        assert not out.exists()


@pytest.mark.parametrize("value, what", [(np.nan, "1 NaN/Inf and 0 negative"), (-3.0, "0 NaN/Inf and 1 negative")])
def test_nan_or_negative_counts_are_refused(tmp_path, value, what):
    s = make_toy_slide(expression=True)
    X = np.asarray(s.expression.X.toarray() if hasattr(s.expression.X, "toarray") else s.expression.X, np.float32).copy()
    X[2, 1] = value
    s.expression.X = X
    fails(s, tmp_path, what)


def test_constant_channel_is_warned_about(tmp_path):
    s = make_toy_slide(expression=False)
    s.image.data[1] = 7
    with pytest.warns(UserWarning, match=r"channel\(s\) .* are constant \(7\)"):
        prepare_slides([s], tmp_path / "out.h5", dict(CFG), progress=False)
