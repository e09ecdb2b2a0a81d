"""Fixtures of the training tests; the shared pieces live in ``train_tiny``."""

from __future__ import annotations

import pytest

from madcell.config import load_config
from train_tiny import N_CELLS, TINY, make_tiny_store  # noqa: F401


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory):
    return make_tiny_store(tmp_path_factory.mktemp("store") / "tiny.h5")


@pytest.fixture
def tiny_cfg():
    return load_config(None, TINY)
