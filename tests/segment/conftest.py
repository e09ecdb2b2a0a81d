"""Small synthetic tissues with their true nucleus and cell masks (generated once per session)."""

from __future__ import annotations

import pytest

from madcell.segment.truth import synthetic_masks
from madcell.synthetic import make_tissue

CELLS, SEED = 300, 4


def _tissue(tmp_path_factory, modality: str):
    folder = make_tissue(tmp_path_factory.mktemp(f"seg-{modality}"), CELLS, SEED, modality=modality)
    nuclei, cells = synthetic_masks(folder)
    return folder, nuclei, cells


@pytest.fixture(scope="session")
def he_tissue(tmp_path_factory):
    """(folder, true nuclei, true cells) of a synthetic H&E slide."""
    return _tissue(tmp_path_factory, "he")


@pytest.fixture(scope="session")
def fluo_tissue(tmp_path_factory):
    """(folder, true nuclei, true cells) of a synthetic fluorescence slide (nuclear channel 'nucleus')."""
    return _tissue(tmp_path_factory, "fluorescence")
