"""Fixtures of the view tests; the toy tissue lives in ``views_toy``."""

from __future__ import annotations

import pytest

from views_toy import CHANNELS, make_toy_slide  # noqa: F401


@pytest.fixture
def toy():
    """The factory :func:`make_toy_slide`."""
    return make_toy_slide


@pytest.fixture
def small_cfg() -> dict:
    """Small views so tests stay fast (multiples of the patch size 14)."""
    return {"morph_size": 28, "micro_size": 56, "k_neighbors": 8, "tile_size": 96, "stats_sample_pixels": 20000}
