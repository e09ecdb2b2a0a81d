"""Fixtures of the spot tests: one synthetic H&E tissue with Visium and ST spot grids, and the real
``her2st_b4`` section (skipped when absent). A tiny legacy-ST folder: :mod:`spots_testdata`."""

from __future__ import annotations

from pathlib import Path

import pytest

from madcell.synthetic import make_tissue
from madcell.synthetic.spots import make_spots

from spots_testdata import DATA


@pytest.fixture(scope="session")
def her2st_dir() -> Path:
    path = DATA / "her2st_b4"
    if not path.is_dir():
        pytest.skip(f"real test data {path} is not present on this machine")
    return path


@pytest.fixture(scope="session")
def her2st(her2st_dir):
    from madcell.spots import read_spots

    return read_spots(her2st_dir)


@pytest.fixture(scope="session")
def tissue(tmp_path_factory) -> Path:
    """1500 cells, H&E, 0.5 µm/px: about 750 µm across (42 Visium spots, 9 ST spots)."""
    return make_tissue(tmp_path_factory.mktemp("he"), 1500, 3, modality="he")


@pytest.fixture(scope="session")
def visium_dir(tissue) -> Path:
    return make_spots(tissue, "visium")


@pytest.fixture(scope="session")
def st_dir(tissue) -> Path:
    return make_spots(tissue, "st")
