"""A tiny view store with labels and expression for the benchmark tests."""

from __future__ import annotations

import os

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from madcell.data.store import create_store

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def make_store(path, n=48, C=2, m=28, u=56, seed=0):
    rng = np.random.default_rng(seed)
    types = np.array(["a", "b", "c"])[np.arange(n) % 3]
    lvl = {"a": 0.2, "b": 0.5, "c": 0.8}
    morph = rng.random((n, C, m, m)) * 0.2
    micro = rng.random((n, C, u, u)) * 0.2
    for i, t in enumerate(types):
        morph[i, 0] += lvl[t]
    xy = np.stack([np.arange(n) % 8, np.arange(n) // 8], 1) * 40.0 + rng.random((n, 2))
    ids = [f"c{i}" for i in range(n)]
    rate = np.exp(1 + np.outer([lvl[t] for t in types], np.linspace(-1, 2, 6)))
    counts = rng.poisson(rate).astype(np.float32)
    with create_store(path, n, [f"ch{c}" for c in range(C)], m, u, obs_columns={"cell_type": "str"}) as w:
        w.write(0, (np.clip(morph, 0, 1) * 255).astype(np.uint8), (np.clip(micro, 0, 1) * 255).astype(np.uint8),
                ids, ["s0"] * n, xy, xy * 0.5, np.full(n, 0.5, np.float32), np.full(n, 0.5, np.float32),
                np.zeros(n, bool), {"cell_type": types})
        w.set_expression(ad.AnnData(counts, obs=pd.DataFrame(index=ids), var=pd.DataFrame(index=[f"g{j}" for j in range(6)])))
    return path


@pytest.fixture(scope="session")
def bench_store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("bench") / "tiny.h5")
