from __future__ import annotations

import numpy as np
import pytest
import yaml

from io_testdata import make_tissue, real
from madcell.errors import InputError
from madcell.io import detect_format, read_input


def test_detect_format(tmp_path):
    assert detect_format(real("xenium_outs_mini")) == "xenium"
    assert detect_format(real("cosmx_lung_mini")) == "cosmx"
    assert detect_format(real("merscope_brain_mini")) == "merscope"
    make_tissue(tmp_path / "g")
    assert detect_format(tmp_path / "g") == "generic"


def test_unknown_format(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="empty: unknown input format"):
        read_input(tmp_path / "empty")
    with pytest.raises(InputError, match="unknown format 'visium'"):
        read_input(tmp_path / "empty", format="visium")
    with pytest.raises(InputError, match="does not exist"):
        read_input(tmp_path / "nope")


def test_manifest_several_slides(tmp_path):
    make_tissue(tmp_path / "a")
    make_tissue(tmp_path / "b", n_side=3)
    manifest = {"slides": [
        {"path": "a", "slide_id": "left"},
        {"path": "b", "format": "generic", "channels": ["DAPI"]},
        {"path": str(real("cosmx_lung_mini")), "slide_id": "lung", "crop_offsets": {2: [4800, 3000], 3: [0, 3000]}},
        {"path": str(real("xenium_outs_mini")), "pixel_size_um": 1.7, "origin_um": [995.5, 998.9]},
    ]}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(manifest))
    slides = read_input(tmp_path / "m.yaml")
    assert [s.slide_id for s in slides] == ["left", "b", "lung_F002", "lung_F003", "xenium_outs_mini"]
    assert [s.n_cells for s in slides] == [16, 9, 67, 53, 526]
    assert slides[1].image.channel_names == ["DAPI"]


def test_manifest_errors(tmp_path):
    make_tissue(tmp_path / "a")
    (tmp_path / "dup.yaml").write_text(yaml.safe_dump({"slides": [{"path": "a"}, {"path": "a"}]}))
    with pytest.raises(InputError, match="slide id 'a' is used twice"):
        read_input(tmp_path / "dup.yaml")
    (tmp_path / "bad.yaml").write_text("slides: [path: a\n")
    with pytest.raises(InputError, match="bad.yaml: cannot parse the YAML manifest"):
        read_input(tmp_path / "bad.yaml")
    (tmp_path / "nopath.yaml").write_text(yaml.safe_dump({"slides": [{"format": "generic"}]}))
    with pytest.raises(InputError, match="manifest entry 0 has no 'path'"):
        read_input(tmp_path / "nopath.yaml")


def test_region_option_keeps_the_cells_in_the_box(tmp_path):

    make_tissue(tmp_path / "s")
    (full,) = read_input(tmp_path / "s", options={"pixel_size_um": 0.5})
    x, y = full.cells["x_um"].to_numpy(), full.cells["y_um"].to_numpy()
    box = [x.min(), y.min(), np.median(x), y.max() + 1]
    (part,) = read_input(tmp_path / "s", options={"pixel_size_um": 0.5, "region_um": box})
    inside = (x >= box[0]) & (x < box[2]) & (y >= box[1]) & (y < box[3])
    assert 0 < part.n_cells == inside.sum() < full.n_cells
    assert list(part.expression.obs_names) == list(part.cells["cell_id"].astype(str))
    assert part.meta["cells_outside_region"] == full.n_cells - part.n_cells
    with pytest.raises(InputError, match="no cell of slide"):
        read_input(tmp_path / "s", options={"pixel_size_um": 0.5, "region_um": [1e6, 1e6, 1e6 + 1, 1e6 + 1]})
    with pytest.raises(InputError, match="x1 > x0"):
        read_input(tmp_path / "s", options={"pixel_size_um": 0.5, "region_um": [5, 5, 1, 1]})


@pytest.mark.parametrize("size", [1e6, 0.0, -1.0, 1e-6])
def test_implausible_pixel_size_is_refused(tmp_path, size):
    make_tissue(tmp_path / "s")
    with pytest.raises(InputError, match="is not a microscope pixel") as exc:
        read_input(tmp_path / "s", options={"pixel_size_um": size})
    assert str(tmp_path / "s") in str(exc.value)
