"""VQ-VAE on cell crops (van den Oord et al. 2017); the embedding is the spatial mean of the
pre-quantisation map (one ``latent_dim`` vector per cell).

Quantisation uses the straight-through estimator; the codebook learns either by EMA of the assigned
encoder outputs (``ema: true``, with Laplace-smoothed cluster sizes) or by the codebook loss
``||sg[z_e] - e||^2``. The commitment loss ``commitment * ||z_e - sg[e]||^2`` keeps the encoder near
its codes.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from madcell.baselines.common import Baseline, embed_batches, fit_loop, read_views, train_indices, view_channels
from madcell.baselines.conv import ConvDecoder, ConvEncoder, check_side
from madcell.baselines.registry import register_baseline
from madcell.data.source import ViewSource


class VectorQuantizer(nn.Module):
    def __init__(self, n_codes: int, dim: int, ema: bool, decay: float, eps: float = 1e-5):
        super().__init__()
        self.ema, self.decay, self.eps = ema, decay, eps
        self.codebook = nn.Parameter(torch.randn(n_codes, dim) * 0.1, requires_grad=not ema)
        self.register_buffer("cluster_size", torch.zeros(n_codes))
        self.register_buffer("embed_sum", self.codebook.detach().clone())

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z: (B, D, h, w) -> (straight-through quantised z, codebook loss, commitment term)."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        codes = torch.cdist(flat, self.codebook.detach() if self.ema else self.codebook).argmin(1)
        q = self.codebook[codes]
        if self.ema and self.training:
            with torch.no_grad():
                onehot = F.one_hot(codes, self.codebook.shape[0]).type_as(flat)
                self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
                self.embed_sum.mul_(self.decay).add_(onehot.t() @ flat, alpha=1 - self.decay)
                n = self.cluster_size.sum()
                size = (self.cluster_size + self.eps) / (n + self.codebook.shape[0] * self.eps) * n
                self.codebook.data.copy_(self.embed_sum / size[:, None])
        codebook_loss = flat.new_zeros(()) if self.ema else F.mse_loss(q, flat.detach())
        commit = F.mse_loss(flat, q.detach())
        q = flat + (q - flat).detach()  # straight-through estimator
        return q.view(z.shape[0], z.shape[2], z.shape[3], -1).permute(0, 3, 1, 2), codebook_loss, commit


class ConvVQVAE(nn.Module):
    def __init__(self, in_chans: int, size: int, cfg: dict):
        super().__init__()
        channels = list(cfg["channels"])
        check_side(size, channels, "baselines.vqvae")
        d = int(cfg["latent_dim"])
        self.encoder = nn.Sequential(ConvEncoder(in_chans, channels), nn.Conv2d(channels[-1], d, 1))
        self.vq = VectorQuantizer(int(cfg["codebook_size"]), d, bool(cfg["ema"]), float(cfg["ema_decay"]))
        self.decoder = nn.Sequential(nn.Conv2d(d, channels[-1], 1), ConvDecoder(in_chans, channels))

    def forward(self, x: torch.Tensor):
        q, codebook_loss, commit = self.vq(self.encoder(x))
        return self.decoder(q), codebook_loss, commit


@register_baseline("vqvae")
class VQVAEBaseline(Baseline):
    def fit(self, store: ViewSource, train_idx: np.ndarray | None = None) -> "VQVAEBaseline":
        cfg = self.cfg
        torch.manual_seed(int(cfg["seed"]))
        self.model = ConvVQVAE(view_channels(store, cfg["views"]), int(cfg["size"]), cfg).to(self.device)
        opt = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad], lr=float(cfg["lr"]))
        self.model.train()

        def step(idx: np.ndarray) -> float:
            x = read_views(store, idx, cfg["views"], int(cfg["size"])).to(self.device)
            recon, codebook_loss, commit = self.model(x)
            loss = F.mse_loss(recon, x) + codebook_loss + float(cfg["commitment"]) * commit
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss.item()

        self.log = fit_loop(step, train_indices(store, train_idx), cfg)
        return self

    def embed(self, store: ViewSource) -> dict[str, np.ndarray]:
        self.model.eval()
        size = int(self.cfg["size"])
        fn = lambda idx: self.model.encoder(read_views(store, idx, self.cfg["views"], size).to(self.device)).mean((2, 3))
        return {"": embed_batches(store, fn, 256)}
