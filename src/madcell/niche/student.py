"""The image-side student: predicts a cell's niche from frozen image embeddings alone.

Input per cell: its own embedding, the embeddings of its spatial-graph neighbours (the same graph
the teacher used) and their offsets (dx, dy) in µm — everything available at inference without
expression. Two variants:

* :class:`NeighbourhoodTransformer` — one token per cell (shared linear projection), a learned
  "centre" embedding on the cell token, relative position encoded by an MLP on (dx, dy)/scale and
  added to each token, 1–2 pre-norm transformer layers with padding masks, logits from the cell token.
* :class:`AggregateMLP` — the simple variant: MLP on [cell ⊕ mean of neighbours].

Both map ``(cell (B, D), nbrs (B, M, D), rel (B, M, 2), mask (B, M))`` to niche logits (B, K).
"""

from __future__ import annotations

import torch
from torch import nn


class NeighbourhoodTransformer(nn.Module):
    def __init__(
        self,
        d_in: int,
        n_niches: int,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        dropout: float = 0.1,
        pos_scale_um: float = 20.0,
    ):
        super().__init__()
        self.proj = nn.Linear(d_in, d_model)
        self.pos = nn.Sequential(nn.Linear(2, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.centre = nn.Parameter(torch.zeros(d_model))
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, 2 * d_model, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_niches)
        self.register_buffer("pos_scale", torch.tensor(float(pos_scale_um)))

    def forward(self, cell: torch.Tensor, nbrs: torch.Tensor, rel: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        c = self.proj(cell)[:, None] + self.centre + self.pos(torch.zeros_like(rel[:, :1]))
        n = self.proj(nbrs) + self.pos(rel / self.pos_scale)
        tokens = torch.cat([c, n], dim=1)
        pad = torch.cat([torch.zeros_like(mask[:, :1]), ~mask], dim=1)
        out = self.encoder(tokens, src_key_padding_mask=pad)
        return self.head(self.norm(out[:, 0]))


class AggregateMLP(nn.Module):
    def __init__(self, d_in: int, n_niches: int, hidden: int = 128, dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2 * d_in, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, n_niches),
        )

    def forward(self, cell: torch.Tensor, nbrs: torch.Tensor, rel: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        w = mask.to(nbrs.dtype)[..., None]
        mean = (nbrs * w).sum(1) / w.sum(1).clamp_min(1.0)
        return self.net(torch.cat([cell, mean], dim=1))


def build_student(kind: str, d_in: int, n_niches: int, cfg: dict, pos_scale_um: float) -> nn.Module:
    """``kind`` = transformer | mlp; sizes from the ``niche`` config section."""
    if kind == "transformer":
        return NeighbourhoodTransformer(
            d_in, n_niches, cfg["d_model"], cfg["n_layers"], cfg["n_heads"], cfg["dropout"], pos_scale_um
        )
    if kind == "mlp":
        return AggregateMLP(d_in, n_niches, cfg["hidden"], cfg["dropout"])
    raise ValueError(f"unknown student {kind!r} (transformer | mlp)")
