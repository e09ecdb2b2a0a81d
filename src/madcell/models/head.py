"""DINOv2's projection head: MLP -> L2-normalised bottleneck -> weight-normalised prototype layer.

The last layer's weight is ``g * v / ||v||`` (``torch.nn.utils.parametrizations.weight_norm``); with
``norm_last_layer`` the gain ``g`` is fixed to 1 so the logits are cosine similarities to the
prototypes, which DINO found to stabilise training. The prototypes are frozen during the first epoch
(:meth:`DINOHead.cancel_last_layer_grads`, called by the training loop after ``backward``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


def _build_mlp(n_layers: int, in_dim: int, bottleneck_dim: int, hidden_dim: int) -> nn.Sequential:
    if n_layers == 1:
        return nn.Sequential(nn.Linear(in_dim, bottleneck_dim))
    layers: list[nn.Module] = [nn.Linear(in_dim, hidden_dim), nn.GELU()]
    for _ in range(n_layers - 2):
        layers += [nn.Linear(hidden_dim, hidden_dim), nn.GELU()]
    layers.append(nn.Linear(hidden_dim, bottleneck_dim))
    return nn.Sequential(*layers)


class DINOHead(nn.Module):
    """``(N, in_dim) -> (N, out_dim)`` prototype logits."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden_dim: int = 2048,
        bottleneck_dim: int = 256,
        n_layers: int = 5,
        norm_last_layer: bool = True,
    ):
        super().__init__()
        self.mlp = _build_mlp(max(int(n_layers), 1), in_dim, bottleneck_dim, hidden_dim)
        self.mlp.apply(self._init_weights)
        self.last_layer = weight_norm(nn.Linear(bottleneck_dim, out_dim, bias=False))
        gain = self.last_layer.parametrizations.weight.original0
        with torch.no_grad():
            gain.fill_(1.0)
        gain.requires_grad = not norm_last_layer
        self.out_dim = out_dim

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mlp(x)
        eps = 1e-6 if x.dtype in (torch.float16, torch.bfloat16) else 1e-12
        x = nn.functional.normalize(x, dim=-1, p=2, eps=eps)
        return self.last_layer(x)

    def cancel_last_layer_grads(self) -> None:
        """Drop the prototype layer's gradients (call after ``backward`` during the first epoch)."""
        for p in self.last_layer.parameters():
            p.grad = None
