from __future__ import annotations

import torch

from madcell.models import DINOHead


def test_shapes_and_normalised_last_layer():
    head = DINOHead(32, 50, hidden_dim=24, bottleneck_dim=8, n_layers=3, norm_last_layer=True)
    out = head(torch.randn(6, 32))
    assert out.shape == (6, 50)
    w = head.last_layer.weight
    assert torch.allclose(w.norm(dim=1), torch.ones(50), atol=1e-5)  # g = 1: unit prototypes
    assert out.abs().max() <= 1.0 + 1e-5  # cosine similarities
    gain = head.last_layer.parametrizations.weight.original0
    assert not gain.requires_grad
    assert len([m for m in head.mlp if isinstance(m, torch.nn.Linear)]) == 3


def test_free_gain_and_cancel_grads():
    head = DINOHead(16, 10, hidden_dim=8, bottleneck_dim=4, n_layers=1, norm_last_layer=False)
    assert head.last_layer.parametrizations.weight.original0.requires_grad
    head(torch.randn(3, 16)).sum().backward()
    assert all(p.grad is not None for p in head.last_layer.parameters())
    head.cancel_last_layer_grads()
    assert all(p.grad is None for p in head.last_layer.parameters())
    assert all(p.grad is not None for p in head.mlp.parameters())
