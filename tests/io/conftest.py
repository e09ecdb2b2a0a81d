"""Session fixtures: each real vendor mini set is read once."""

from __future__ import annotations

import pytest

from io_testdata import COSMX_OPTS, MERSCOPE_OPTS, XENIUM_OPTS, real


@pytest.fixture(scope="session")
def xenium_slide():
    from madcell.io import read_input

    (slide,) = read_input(real("xenium_outs_mini"), options=XENIUM_OPTS)
    return slide


@pytest.fixture(scope="session")
def merscope_slide():
    from madcell.io import read_input

    (slide,) = read_input(real("merscope_brain_mini"), options=MERSCOPE_OPTS)
    return slide


@pytest.fixture(scope="session")
def cosmx_slides():
    from madcell.io import read_input

    return read_input(real("cosmx_lung_mini"), options=COSMX_OPTS)
