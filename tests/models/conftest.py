from __future__ import annotations

import pytest

from madcell.config import load_config


@pytest.fixture
def tiny_cfg():
    """Full config with a 2-block, 32-wide ViT and a small head (fast on CPU)."""
    return load_config(
        None,
        {
            "model": {"arch": "custom", "embed_dim": 32, "depth": 2, "num_heads": 2},
            "head": {"n_layers": 3, "hidden_dim": 32, "bottleneck_dim": 16, "out_dim": 64},
            "prepare": {"morph_size": 42, "micro_size": 84},
        },
    )
