"""Tiny store and config shared by the training tests (a uniquely named module: test files import it
directly, which ``from conftest import`` cannot do reliably across test folders)."""
from __future__ import annotations

import numpy as np

from madcell.data.store import create_store

N_CELLS = 48


def make_tiny_store(path, n: int = N_CELLS, seed: int = 0):
    """Two channels; cell type A is bright in channel 0, type B in channel 1 (so probes can learn it)."""
    rng = np.random.default_rng(seed)
    types = np.where(np.arange(n) % 2 == 0, "A", "B")
    morph = rng.integers(0, 60, size=(n, 2, 14, 14)).astype(np.uint8)
    micro = rng.integers(0, 60, size=(n, 2, 28, 28)).astype(np.uint8)
    for i, t in enumerate(types):
        c = 0 if t == "A" else 1
        morph[i, c, 4:10, 4:10] += 150
        micro[i, c, 10:18, 10:18] += 150
    xy = rng.uniform(0, 500, size=(n, 2))
    with create_store(path, n, ["dapi", "cd45"], 14, 28, obs_columns={"cell_type": "str", "area": "float32"}) as w:
        w.write(0, morph, micro, [f"c{i}" for i in range(n)], ["s0"] * n, xy, xy * 0.5,
                np.full(n, 0.5, np.float32), np.full(n, 1.0, np.float32), np.zeros(n, bool),
                obs={"cell_type": types, "area": rng.uniform(10, 50, n).astype(np.float32)})
    return path


TINY = {
    "model": {"arch": "custom", "embed_dim": 32, "depth": 2, "num_heads": 2, "patch_size": 14},
    "head": {"n_layers": 2, "hidden_dim": 32, "bottleneck_dim": 16, "out_dim": 64},
    "augment": {"n_global": 2, "n_local": 1, "local_size_morph": 14, "local_size_micro": 14,
                "global_scale": [0.6, 1.0], "local_scale": [0.3, 0.6]},
    "train": {"batch_size": 8, "epochs": 2, "eval_cells": 16, "log_every": 1, "eval_every": 2,
              "ckpt_every": 2, "lr": 1.0e-3, "warmup_frac": 0.2},
}


