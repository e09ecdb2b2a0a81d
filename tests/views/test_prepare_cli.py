"""``madcell prepare`` end to end on generic folders: success, and exit code 2 with nothing written."""

import numpy as np
import tifffile
from typer.testing import CliRunner

from madcell.cli import app
from madcell.data.store import ViewStore

from views_toy import make_toy_slide

runner = CliRunner()
SMALL = ["--set", "prepare.morph_size=28", "--set", "prepare.micro_size=56", "--set", "prepare.k_neighbors=8",
         "--set", "prepare.tile_size=96", "--set", "prepare.stats_sample_pixels=20000", "--no-progress"]


def write_folder(path, slide=None, labels=None):
    slide = slide or make_toy_slide(expression=False)
    path.mkdir()
    tifffile.imwrite(path / "image.tif", slide.image.data, photometric="minisblack")
    tifffile.imwrite(path / "labels.tif", slide.labels.data if labels is None else labels)
    slide.cells.to_csv(path / "cells.csv", index=False)
    return slide


def test_help():
    res = runner.invoke(app, ["prepare", "--help"])
    assert res.exit_code == 0 and "--workers" in res.output and "--set" in res.output


def test_prepare_generic_folder(tmp_path):
    slide = write_folder(tmp_path / "in")
    out = tmp_path / "views.h5"
    res = runner.invoke(app, ["prepare", str(tmp_path / "in"), "--out", str(out), "--format", "generic", *SMALL])
    assert res.exit_code == 0, res.output
    vs = ViewStore(out)
    assert vs.n_cells == slide.n_cells and vs.morph_size == 28 and vs.micro_size == 56
    assert set(vs.obs["cell_type"]) == {"tumour", "immune"}


def run_fail(tmp_path, args, *needles):
    out = tmp_path / "views.h5"
    res = runner.invoke(app, ["prepare", "--out", str(out), *SMALL, *args])
    assert res.exit_code == 2, res.output
    for n in needles:
        assert n in res.output, res.output
    assert not out.exists()


def test_view_size_not_multiple_of_14(tmp_path):
    write_folder(tmp_path / "in")
    run_fail(tmp_path, [str(tmp_path / "in"), "--set", "prepare.micro_size=100"], "prepare.micro_size", "multiple")


def test_shape_mismatch(tmp_path):
    slide = make_toy_slide(expression=False)
    write_folder(tmp_path / "in", slide, labels=np.zeros((50, 50), np.int32))
    run_fail(tmp_path, [str(tmp_path / "in")], "labels.tif", "does not match")


def test_truncated_image(tmp_path):
    write_folder(tmp_path / "in")
    data = (tmp_path / "in" / "image.tif").read_bytes()
    (tmp_path / "in" / "image.tif").write_bytes(data[: len(data) // 3])
    run_fail(tmp_path, [str(tmp_path / "in")], "image.tif")


def test_missing_channel(tmp_path):
    write_folder(tmp_path / "in")
    run_fail(tmp_path, [str(tmp_path / "in"), "--set", "prepare.channels=[cd8]"], "cd8")


def test_flatfield_without_pixel_size(tmp_path):
    write_folder(tmp_path / "in")  # plain TIFF: no pixel size metadata
    run_fail(tmp_path, [str(tmp_path / "in"), "--set", "prepare.flatfield=true"], "pixel size")


def test_bad_workers(tmp_path):
    write_folder(tmp_path / "in")
    run_fail(tmp_path, [str(tmp_path / "in"), "--workers", "0"], "--workers")


def test_workers_on_lazy_tiff_input_match_one_process(tmp_path):
    """Forked workers read lazily opened TIFFs: each must use its own handle (same store bytes)."""
    import h5py

    write_folder(tmp_path / "in", make_toy_slide(height=320, width=320, expression=False, seed=2))
    outs = []
    for w in ("1", "2"):
        out = tmp_path / f"w{w}.h5"
        res = runner.invoke(app, ["prepare", str(tmp_path / "in"), "--out", str(out), "--workers", w, *SMALL,
                                  "--set", "prepare.tile_size=64"])
        assert res.exit_code == 0, res.output
        outs.append(out)
    with h5py.File(outs[0]) as a, h5py.File(outs[1]) as b:
        for name in ("morphology", "neighborhood", "cell_ids", "centroid_xy", "edge"):
            assert np.array_equal(a[name][()], b[name][()]), name


def test_long_error_stays_on_one_line_without_a_terminal(tmp_path):
    deep = tmp_path / ("a_rather_long_folder_name_" * 4) / "missing_input_folder"
    res = runner.invoke(app, ["prepare", str(deep), "--out", str(tmp_path / "v.h5"), *SMALL])
    assert res.exit_code == 2
    lines = [l for l in res.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "missing_input_folder" in lines[0], res.output
    assert len(lines[0]) > 120  # longer than the 80 columns rich wraps at when output is not a terminal
