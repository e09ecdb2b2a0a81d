"""Convolutional VAE on cell crops; the embedding is the posterior mean.

Loss per image: summed squared reconstruction error + ``beta`` x KL(q(z|x) || N(0, I)). Input is one
view or both views resized to ``size`` and stacked as channels (``views``). Trained on the training
cells only, then every cell is encoded.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from madcell.baselines.common import Baseline, embed_batches, fit_loop, read_views, train_indices, view_channels
from madcell.baselines.conv import ConvDecoder, ConvEncoder, check_side
from madcell.baselines.registry import register_baseline
from madcell.data.source import ViewSource


class ConvVAE(nn.Module):
    def __init__(self, in_chans: int, size: int, channels: list[int], latent_dim: int):
        super().__init__()
        self.t = check_side(size, channels, "baselines.vae")
        self.c = channels[-1]
        flat = self.c * self.t * self.t
        self.encoder = ConvEncoder(in_chans, channels)
        self.to_stats = nn.Linear(flat, 2 * latent_dim)
        self.from_z = nn.Linear(latent_dim, flat)
        self.decoder = ConvDecoder(in_chans, channels)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_stats(self.encoder(x).flatten(1)).chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.posterior(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = self.decoder(self.from_z(z).view(-1, self.c, self.t, self.t))
        return recon, mu, logvar


def vae_loss(x, recon, mu, logvar, beta: float) -> torch.Tensor:
    rec = (recon - x).pow(2).flatten(1).sum(1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    return (rec + beta * kl).mean()


@register_baseline("vae")
class VAEBaseline(Baseline):
    def fit(self, store: ViewSource, train_idx: np.ndarray | None = None) -> "VAEBaseline":
        cfg = self.cfg
        torch.manual_seed(int(cfg["seed"]))
        self.model = ConvVAE(view_channels(store, cfg["views"]), int(cfg["size"]), list(cfg["channels"]),
                             int(cfg["latent_dim"])).to(self.device)
        opt = torch.optim.AdamW(self.model.parameters(), lr=float(cfg["lr"]))
        self.model.train()

        def step(idx: np.ndarray) -> float:
            x = read_views(store, idx, cfg["views"], int(cfg["size"])).to(self.device)
            loss = vae_loss(x, *self.model(x), beta=float(cfg["beta"]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss.item()

        self.log = fit_loop(step, train_indices(store, train_idx), cfg)
        return self

    def embed(self, store: ViewSource) -> dict[str, np.ndarray]:
        self.model.eval()
        fn = lambda idx: self.model.posterior(read_views(store, idx, self.cfg["views"], int(self.cfg["size"])).to(self.device))[0]
        return {"": embed_batches(store, fn, 256)}
