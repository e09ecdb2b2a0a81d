from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from madcell.errors import InputError
from madcell.io import read_input
from madcell.io.xenium import read_xenium

from io_testdata import centroid_hit_rate, real, transcript_hit_rate


def test_cells_and_image(xenium_slide):
    s = xenium_slide
    assert s.n_cells == 526
    assert s.image.shape == (1, 237, 237)
    assert s.pixel_size_um == pytest.approx(1.7)
    assert s.cells["cell_id"].is_unique and (s.cells["label"] > 0).all()
    assert s.labels.shape == (237, 237)


def test_transcripts_fall_in_their_cell(xenium_slide):
    tx = xenium_slide.transcripts
    assert len(tx) == 5260 and (tx["cell_id"] == "").sum() == 9
    assert transcript_hit_rate(xenium_slide) >= 0.95


def test_centroids_inside_mask(xenium_slide):
    assert centroid_hit_rate(xenium_slide) >= 0.98


def test_expression_aligned_and_genes_only(xenium_slide):
    s = xenium_slide
    cells = pd.read_parquet(real("xenium_outs_mini") / "cells.parquet")
    assert list(s.expression.obs_names) == list(s.cells["cell_id"])
    assert s.expression.n_vars == 27 and not any(g.startswith(("BLANK", "NegControl")) for g in s.expression.var_names)
    sums = pd.Series(np.asarray(s.expression.X.sum(axis=1)).ravel(), index=s.expression.obs_names)
    assert np.array_equal(sums.loc[cells["cell_id"]].to_numpy(), cells["transcript_counts"].to_numpy())


def test_every_cell_rasterised(xenium_slide):
    full = xenium_slide.labels.read(0, 237, 0, 237)
    assert set(np.unique(full)) - {0} == set(xenium_slide.cells["label"])


def test_missing_pixel_size_is_an_error():
    with pytest.raises(InputError, match="no pixel size in OME metadata; give pixel_size_um"):
        read_input(real("xenium_outs_mini"))


def test_garbage_parquet(tmp_path):
    src = real("xenium_outs_mini")
    for f in src.iterdir():
        (tmp_path / f.name).symlink_to(f)
    (tmp_path / "cells.parquet").unlink()
    (tmp_path / "cells.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match="cells.parquet: cannot read table"):
        read_xenium(tmp_path, {"pixel_size_um": 1.7})
