"""The default segmenter against the true masks of the synthetic tissue (F1 at IoU 0.5)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import tifffile

from madcell.segment import match_labels, segment

# Measured on these tissues (300 cells, seed 4, 0.5 µm/px, default settings: 8 µm nuclei, 3 µm
# expansion): H&E nuclei 0.932, cells 0.827; fluorescence nuclei 0.947, cells 0.825. The floors
# leave room for platform noise, not for a regression.
FLOORS = {"he": (0.88, 0.77), "fluorescence": (0.90, 0.77)}


@pytest.mark.parametrize("name", ["he", "fluorescence"])
def test_f1_against_true_masks(name, he_tissue, fluo_tissue, tmp_path):
    folder, true_nuclei, true_cells = he_tissue if name == "he" else fluo_tissue
    summary = segment(folder / "image.ome.tif", tmp_path / "seg", progress=False)
    assert summary["modality"] == name and summary["pixel_size_um"] == 0.5  # from the OME metadata
    nuclei = tifffile.imread(tmp_path / "seg" / "nuclei.tif")
    cells = tifffile.imread(tmp_path / "seg" / "labels.tif")
    assert cells.dtype == nuclei.dtype == "uint32"
    f1_nuclei = match_labels(true_nuclei, nuclei).f1
    f1_cells = match_labels(true_cells, cells).f1
    assert f1_nuclei >= FLOORS[name][0], f1_nuclei
    assert f1_cells >= FLOORS[name][1], f1_cells
    # every nucleus lies inside the cell of the same label
    assert ((nuclei == 0) | (nuclei == cells)).all()
    table = pd.read_csv(tmp_path / "seg" / "cells.csv")
    assert sorted(table["label"]) == sorted(set(cells[cells > 0].tolist()))
    assert json.loads((tmp_path / "seg" / "segment.json").read_text())["n_cells"] == len(table)


def test_nuclei_only_and_named_channel(fluo_tissue, tmp_path):
    folder, true_nuclei, _ = fluo_tissue
    summary = segment(folder / "image.ome.tif", tmp_path / "seg", channel="nucleus", expand_um=0,
                      cells_table=False, progress=False)
    cells = tifffile.imread(tmp_path / "seg" / "labels.tif")
    assert (cells == tifffile.imread(tmp_path / "seg" / "nuclei.tif")).all()
    assert not (tmp_path / "seg" / "cells.csv").exists()
    assert summary["nuclear_signal"] == "nucleus"
    assert match_labels(true_nuclei, cells).f1 >= FLOORS["fluorescence"][0]
