"""benchmarks/slide_formats.py writes a lazy store's slide in every container and reads the same windows back."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from madcell.io.base import read_window
from madcell.views import prepare_slides

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "views"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))
from sdata_testdata import spatialdata_or_skip  # noqa: E402
from views_toy import make_toy_slide  # noqa: E402

CFG = {"morph_size": 28, "micro_size": 56, "k_neighbors": 8, "tile_size": 128, "stats_sample_pixels": 20000,
       "views": "lazy"}


@pytest.fixture(scope="module")
def lazy_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("formats") / "lazy.h5"
    prepare_slides([make_toy_slide(height=300, width=320)], path, CFG, progress=False)
    return path


def test_every_container_reads_the_same_windows(lazy_store, tmp_path):
    spatialdata_or_skip()  # zarr comes with the spatialdata group (`make test` installs it)
    import h5py
    import slide_formats

    with h5py.File(lazy_store, "r") as f:
        img = f["lazy"]["micro"]["0"][:]
    starts = [(-10, 5), (40, 100), (img.shape[1] - 20, img.shape[2] - 30)]
    want = [read_window(img, y, y + 56, x, x + 56) for y, x in starts]
    for name, (file, make) in slide_formats.FORMATS.items():
        arr = make(tmp_path / file, img)()
        for (y, x), w in zip(starts, want):
            np.testing.assert_array_equal(read_window(arr, y, y + 56, x, x + 56), w, err_msg=name)


def test_script_prints_a_row_per_container(lazy_store, tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "slide_formats.py"), str(lazy_store), "--reads", "5",
                          "--repeats", "1", "--windows", "56", "--tmp", str(tmp_path)], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    rows = [r for r in res.stdout.splitlines() if r.startswith("| ") and "windows/s" not in r]
    assert len(rows) == 6 and all(float(r.split("|")[5].replace(",", "")) > 0 for r in rows)
    assert not list(tmp_path.glob("tmp*/*"))  # the written containers are removed
