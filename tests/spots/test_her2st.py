"""The real legacy-ST section ``her2st_b4`` (HER2+ breast, B4), read from its raw folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def test_spots_genes_and_image(her2st, her2st_dir):
    s = her2st
    assert s.meta["format"] == "legacy_st" and s.platform == "st" and s.meta["section"] == "B4"
    assert len(s.spot_ids) == 283 and s.counts.obs["in_tissue"].all()
    assert 14_000 < s.counts.n_vars < 16_000  # 15 289 genes
    assert s.meta["selected_without_counts"] == ["18x20"]  # selected in the spot file, absent from the counts
    assert s.spot_ids[0] == "10x14" and tuple(s.counts.obs.loc["10x14", ["array_col", "array_row"]]) == (10, 14)
    assert s.image_path.name == "BT10737_D2_HE.jpg"


def test_scale_derived_from_the_lattice(her2st):
    s = her2st
    # No file states the scale. The least-squares lattice fit gives ~290.9 px per 200 µm array step; the
    # image (9272 x 9923 px) spans exactly 32 x 34 steps of the array frame at that spacing.
    assert s.um_per_px_source == "derived from the lattice" and "least-squares" in s.meta["lattice_method"]
    assert s.um_per_px == pytest.approx(0.6876, abs=0.002)
    assert s.spot_diameter_um == 100 and s.spot_diameter_px == pytest.approx(100 / s.um_per_px)
    assert s.spot_diameter_source == "derived from the lattice"


def test_clusters_and_proportions(her2st, her2st_dir):
    obs = her2st.counts.obs
    assert obs["cluster"].notna().sum() == 222 and set(obs["cluster"].dropna()) == {str(i) for i in range(6)}
    names = obs.dropna(subset=["cluster"]).groupby("cluster", observed=True)["cluster_annotation"].first()
    assert names["4"] == "cancer" and names["2"] == "immune : APC, myeloid"
    prop = her2st.label_tables["proportions"]
    assert prop.shape == (283, 8) and list(prop.index) == list(her2st.spot_ids)
    assert "Epithelial" in prop and np.allclose(prop.sum(axis=1), 1.0, atol=1e-3)
    # spot ids agree between files: the annotation's pixel positions are the spot file's
    lbl = pd.read_csv(her2st_dir / "res/ST-cluster/lbl/B4-cluster-annotation.tsv.gz", sep="\t", index_col=0)
    ids = lbl["x"].astype(str) + "x" + lbl["y"].astype(str)
    assert np.allclose(her2st.counts.obs.loc[ids, ["x_px", "y_px"]].to_numpy(), lbl[["pixel_x", "pixel_y"]].to_numpy())
    assert list(obs.loc[ids, "cluster"].astype(str)) == list(lbl["label"].astype(str))


def test_spots_sit_on_tissue(her2st):
    """x = column, y = row: the H&E is darker (tissue) under the spots than over the whole image, and
    would not be with x and y swapped. A 1/4 JPEG draft decodes in ~0.3 s."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    with Image.open(her2st.image_path) as im:
        full_w = im.size[0]
        im.draft("L", (im.size[0] // 4, im.size[1] // 4))
        grey = np.asarray(im.convert("L"), dtype=float)
    f = grey.shape[1] / full_w

    def at(x, y):
        return grey[np.clip((y * f).astype(int), 0, grey.shape[0] - 1), np.clip((x * f).astype(int), 0, grey.shape[1] - 1)]

    x, y = her2st.xy_px.T
    assert at(x, y).mean() < grey.mean() - 25
    assert at(y, x).mean() > at(x, y).mean() + 25
