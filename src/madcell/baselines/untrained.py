"""Random-initialised MAD ViT: the same architecture (and view sizes) as MAD, never trained.

It separates what the architecture and the two views give for free from what distillation learns.
The model comes from ``preset`` + ``overrides`` (a training config, see :func:`madcell.config.load_config`);
the view sizes default to the store's, as ``madcell pretrain`` does when ``augment.*_size`` is null.
"""

from __future__ import annotations

import numpy as np

from madcell.baselines.common import Baseline
from madcell.baselines.registry import register_baseline
from madcell.config import load_config
from madcell.data.source import ViewSource


@register_baseline("untrained")
class UntrainedViT(Baseline):
    def fit(self, store: ViewSource, train_idx: np.ndarray | None = None) -> "UntrainedViT":
        from madcell.models import Encoder

        cfg = load_config(self.cfg["preset"], self.cfg["overrides"])
        cfg["augment"]["morph_size"] = cfg["augment"]["morph_size"] or store.morph_size
        cfg["augment"]["micro_size"] = cfg["augment"]["micro_size"] or store.micro_size
        self.train_cfg = cfg
        self.encoder = Encoder.untrained(cfg, store.n_channels, list(store.channel_names), seed=int(self.cfg["seed"]))
        self.encoder = self.encoder.to(self.device)
        return self

    def embed(self, store: ViewSource) -> dict[str, np.ndarray]:
        from madcell.embed.encode import encode_views

        parts = encode_views(store, self.encoder, np.arange(len(store)), int(self.cfg["batch_size"]),
                             self.device, "fp32")
        return {"": np.concatenate([parts["morph"], parts["micro"]], 1), "_morph": parts["morph"],
                "_micro": parts["micro"]}
