"""End to end on a real set: MERSCOPE mouse brain mini (498 cells, 450 genes, DAPI + PolyT).

The full madcell path: ``read_input`` -> ``prepare_slides`` (small 28/56 px views) -> image
embedding by a random-initialised tiny MAD ViT (``Encoder.untrained``: honest image features,
no training, no downloads) -> ``embed_store`` -> ``run_niche`` with cell types derived by Leiden
from the cell's measured expression. Mouse brain has real cell-type structure, which the Xenium
cell-line mix and the 120-cell CosMx crop lack. A pipeline test: structure and sane ranges, not
that the student wins.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "merscope_brain_mini"
MERSCOPE_OPTS = {"pixel_size_um": 0.108627, "origin_um": (6400.029, 4699.967)}


@pytest.fixture(scope="module")
def merscope_embedding(tmp_path_factory):
    if not DATA.is_dir():
        pytest.skip(f"real test data missing: {DATA}")
    import torch

    from madcell.config import load_config
    from madcell.embed.encode import embed_store
    from madcell.io import read_input
    from madcell.models import Encoder
    from madcell.views import prepare_slides

    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("merscope")
    slides = read_input(DATA, "merscope", MERSCOPE_OPTS)
    cfg = load_config(None, {
        "model": {"arch": "custom", "embed_dim": 32, "depth": 2, "num_heads": 2},
        "prepare": {"morph_size": 28, "micro_size": 56, "stats_sample_pixels": 200000},
    })
    store = prepare_slides(slides, tmp / "views.h5", cfg["prepare"], progress=False)
    enc = Encoder.untrained(cfg, 2, ["dapi", "polyT"], seed=0)
    adata = embed_store(store, enc, tmp / "emb.h5ad", method="untrained", key="X_untrained", batch_size=128,
                        device="cpu", progress=False)
    return adata, tmp


def test_merscope_niche_pipeline(merscope_embedding):
    from madcell.niche import run_niche
    from madcell.niche.split import block_ids

    adata, tmp = merscope_embedding
    assert adata.n_obs == 498 and adata.n_vars == 450 and adata.uns["madcell"]["spatial_unit"] == "um"
    out = tmp / "niche"
    cfg = {"k_niches": 5, "max_epochs": 20, "patience": 5, "bootstrap": 200, "device": "cpu", "d_model": 32,
           "n_layers": 1, "leiden_resolution": 0.5}
    adata, m = run_niche(adata, cfg, out_dir=out)

    held = adata.obs["niche_heldout"].to_numpy(dtype=bool)
    assert 0.15 <= held.mean() <= 0.4
    blocks = block_ids(adata.obsm["spatial"], adata.obs["slide"].astype(str).to_numpy(), 4)
    assert all(held[blocks == b].all() or not held[blocks == b].any() for b in np.unique(blocks))
    n_types = len(m["cell_types"]["counts"])
    assert 2 <= n_types <= 20 and m["cell_types"]["source"].startswith("leiden")
    comp = adata.obsm["niche_composition"]
    assert comp.shape == (498, n_types) and np.allclose(comp.sum(1), 1, atol=1e-5)
    assert adata.obsm["teacher_niche_proba"].shape == (498, m["k_niches"])
    assert adata.obsm["student_niche_proba"].shape == (498, m["k_niches"])
    assert len(np.unique(adata.obs["teacher_niche"][held])) >= 2
    for name in ("student", "kmeans", "gmm", "nbr_gmm"):
        r = m["methods"][name]
        for k in ("ari", "nmi", "ami"):
            assert -1.0 <= r[k]["lo"] <= r[k]["value"] <= r[k]["hi"] <= 1.0
        assert 0.0 <= r["composition_js"]["mean_js"] <= 1.0
    assert m["methods"]["student"]["nmi"]["value"] > 0.0
    saved = json.loads((out / "niche_metrics.json").read_text())
    assert saved["n_heldout"] == int(held.sum()) and saved["embedding_key"] == "X_untrained"
    for f in ("niche.h5ad", "niche_maps.png", "niche.md"):
        assert (out / f).stat().st_size > 0
