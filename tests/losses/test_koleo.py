from __future__ import annotations

import math

import torch

from madcell.losses import KoLeoLoss


def test_known_value_on_four_directions():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-2.0, 0.0], [0.0, -3.0]])  # normalised: nn distance sqrt(2)
    assert math.isclose(KoLeoLoss()(x).item(), -math.log(math.sqrt(2)), rel_tol=1e-5)


def test_guards_and_crops():
    crit = KoLeoLoss()
    one = torch.randn(1, 8, requires_grad=True)
    assert crit(one).item() == 0.0
    crit(one).backward()  # still differentiable
    dup = torch.ones(4, 8, requires_grad=True)
    val = crit(dup)
    assert torch.isfinite(val)
    val.backward()
    assert torch.isfinite(dup.grad).all()
    x = torch.randn(2, 6, 8, generator=torch.Generator().manual_seed(0))
    assert math.isclose(crit(x).item(), (crit(x[0]).item() + crit(x[1]).item()) / 2, rel_tol=1e-5)
