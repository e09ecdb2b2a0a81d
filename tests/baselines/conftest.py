"""A tiny view store with planted structure: 3 cell types differ in brightness per channel."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from madcell.data.store import ViewStore, create_store

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def make_tiny_store(path, n=40, channels=("dapi", "cd3", "pan_ck"), m=28, u=56, seed=0):
    rng = np.random.default_rng(seed)
    C = len(channels)
    types = np.array(["t", "b", "tumor"])[np.arange(n) % 3]
    level = {"t": 0.2, "b": 0.5, "tumor": 0.8}
    morph = rng.random((n, C, m, m)) * 0.2
    micro = rng.random((n, C, u, u)) * 0.2
    for i, t in enumerate(types):
        morph[i, i % C] += level[t]
        micro[i, (i + 1) % C] += level[t] / 2
    xy = rng.random((n, 2)) * 500
    with create_store(path, n, list(channels), m, u, obs_columns={"cell_type": "str"}) as w:
        w.write(
            0, (np.clip(morph, 0, 1) * 255).astype(np.uint8), (np.clip(micro, 0, 1) * 255).astype(np.uint8),
            [f"c{i}" for i in range(n)], [f"s{i % 2}" for i in range(n)], xy, xy * 0.5,
            np.full(n, 0.5, np.float32), np.full(n, 1.0, np.float32), np.zeros(n, bool), {"cell_type": types},
        )
    return ViewStore(path)


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory):
    torch.set_num_threads(1)
    return make_tiny_store(tmp_path_factory.mktemp("store") / "tiny.h5")
