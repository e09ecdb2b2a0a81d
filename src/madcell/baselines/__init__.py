"""Comparison methods that write the same embedding AnnData as MAD.

``get_baseline(name, cfg)`` (timm-style registry) -> object with ``fit(store, train_idx) -> self`` and
``embed(store) -> {suffix: (N, d)}``; :func:`run_baseline` does fit + embed + write. Registered:
``pca`` (raw pixels), ``vae``, ``vqvae``, ``supervised`` (ResNet-50), ``frozen`` (UNI / DINOv2 /
Cell-DINO-style bag of channels from a local file), ``untrained`` (random-init MAD ViT). MAD's own
ablations (morph-only, micro-only, separate) are ``madcell pretrain`` runs with ``train.views`` set.
"""

from madcell.baselines import frozen, pca, supervised, untrained, vae, vqvae  # noqa: F401  (registration)
from madcell.baselines.common import Baseline
from madcell.baselines.frozen import load_frozen_model
from madcell.baselines.registry import baseline_config, get_baseline, list_baselines, register_baseline
from madcell.baselines.run import run_baseline

__all__ = [
    "Baseline",
    "baseline_config",
    "get_baseline",
    "list_baselines",
    "load_frozen_model",
    "register_baseline",
    "run_baseline",
]
