"""`madcell segment` on the command line: end to end into `madcell prepare`, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image
from typer.testing import CliRunner

from madcell.cli import app


def _run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_segment_then_prepare(fluo_tissue, tmp_path):
    folder = fluo_tissue[0]
    out = tmp_path / "seg"
    res = _run("segment", folder / "image.ome.tif", "--out", out, "--modality", "fluorescence", "--channel", "nucleus",
               "--pixel-size-um", "0.5", "--tile-size", "256", "--no-progress")
    assert res.exit_code == 0, res.output
    assert "--option pixel_size_um=0.5" in res.output  # how to hand the pixel size on to prepare
    assert (out / "image.ome.tif").resolve() == (folder / "image.ome.tif").resolve()
    assert tifffile.imread(out / "labels.tif").dtype == np.uint32
    assert not list(out.glob(".*"))  # no scratch or partial files left
    res = _run("prepare", out, "--out", tmp_path / "views.h5", "--option", "pixel_size_um=0.5", "--no-progress")
    assert res.exit_code == 0, res.output
    n_cells = len(np.unique(tifffile.imread(out / "labels.tif"))) - 1
    assert f"{n_cells} cells, 4 channels" in res.output


def test_png_needs_a_pixel_size(he_tissue, tmp_path):
    rgb = np.moveaxis(tifffile.imread(he_tissue[0] / "image.ome.tif"), 0, -1)
    png = tmp_path / "slide.png"
    Image.fromarray(rgb).save(png)
    res = _run("segment", png, "--out", tmp_path / "a", "--no-progress")
    assert res.exit_code == 2 and "pixel size" in res.output
    assert not (tmp_path / "a").exists()
    res = _run("segment", png, "--out", tmp_path / "b", "--pixel-size-um", "0.5", "--no-progress")
    assert res.exit_code == 0, res.output
    assert "he, haematoxylin" in res.output  # modality auto-detected from the uint8 RGB
    assert (tmp_path / "b" / "image.png").is_symlink()


@pytest.mark.parametrize("args, message", [
    (["--channel", "membranee"], "neither a channel name nor an index"),
    (["--modality", "he"], "must be RGB"),
    (["--modality", "xray"], "must be auto, he or fluorescence"),
    (["--nucleus-diameter-um", "1"], "cannot be segmented"),
    (["--expand-um", "-1"], "must be >= 0"),
    (["--tile-size", "16"], "at least 64"),
    (["--method", "magic"], "must be one of"),
    (["--method", "stardist"], "never downloads"),
    (["--model", "."], "is for --method stardist or cellpose"),
])
def test_bad_options(fluo_tissue, tmp_path, args, message):
    res = _run("segment", fluo_tissue[0] / "image.ome.tif", "--out", tmp_path / "o", "--no-progress", *args)
    assert res.exit_code == 2, res.output
    assert message in res.output and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_bad_files(he_tissue, tmp_path):
    res = _run("segment", tmp_path / "missing.tif", "--out", tmp_path / "o")
    assert res.exit_code == 2 and "missing.tif: image file does not exist" in res.output
    (tmp_path / "notes.txt").write_text("not an image")
    res = _run("segment", tmp_path / "notes.txt", "--out", tmp_path / "o")
    assert res.exit_code == 2 and "unsupported image format" in res.output
    blank = tmp_path / "blank.tif"
    tifffile.imwrite(blank, np.full((128, 128), 100, np.uint16))
    res = _run("segment", blank, "--out", tmp_path / "o", "--pixel-size-um", "0.5")
    assert res.exit_code == 2 and "blank or constant" in res.output
    assert not (tmp_path / "o").exists()
    # the synthetic folder holds the true labels.tif: never overwritten
    res = _run("segment", he_tissue[0] / "image.ome.tif", "--out", he_tissue[0])
    assert res.exit_code == 2 and "did not write" in res.output


def test_no_nuclei_leaves_no_folder(fluo_tissue, tmp_path, monkeypatch):
    import madcell.segment.skimage_seg as skimage_seg

    monkeypatch.setattr(skimage_seg, "watershed_nuclei", lambda signal, *a: np.zeros(signal.shape, np.int32))
    res = _run("segment", fluo_tissue[0] / "image.ome.tif", "--out", tmp_path / "o", "--no-progress")
    assert res.exit_code == 2 and "no nuclei found" in res.output, res.output
    assert not (tmp_path / "o").exists()
