"""The default segmenter on the real StarDist example image, when it is present.

Set ``MADCELL_STARDIST_DATA`` to the ``stardist`` wheel or its unzipped folder (``pip download
--no-deps stardist==0.9.2``); without it the test is skipped (CI has no network). The benchmark
``benchmarks/segmentation.py`` reports the same number.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tifffile

from madcell.segment import match_labels, segment
from madcell.segment.truth import stardist_examples

DATA = os.environ.get("MADCELL_STARDIST_DATA")
pytestmark = pytest.mark.skipif(not DATA or not Path(DATA).exists(),
                                reason="MADCELL_STARDIST_DATA (the stardist wheel or folder) not set")


def test_dsb_nuclei_f1(tmp_path):
    images = stardist_examples(DATA, tmp_path / "wheel")
    # nuclei ~20 px across, judged by eye; the image has no pixel size, so 1 "µm" = 1 px
    segment(images / "img2d.tif", tmp_path / "seg", pixel_size_um=1.0, nucleus_diameter_um=20, expand_um=0,
            progress=False)
    m = match_labels(tifffile.imread(images / "mask2d.tif"), tifffile.imread(tmp_path / "seg" / "nuclei.tif"))
    assert m.f1 >= 0.75, m  # measured 0.810 (125 true nuclei)
