"""Small synthetic slides shared by the tests of this folder (generated once per session)."""

from __future__ import annotations

import pytest

from madcell.synthetic import make_tissue


@pytest.fixture(scope="session")
def easy_dir(tmp_path_factory):
    return make_tissue(tmp_path_factory.mktemp("easy"), 500, 3, modality="fluorescence", difficulty="easy")


@pytest.fixture(scope="session")
def hard_dir(tmp_path_factory):
    return make_tissue(tmp_path_factory.mktemp("hard"), 500, 3, modality="fluorescence", difficulty="hard")
