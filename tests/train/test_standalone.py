"""StandaloneStep: the training step of a run, without the run around it (what the benchmarks time)."""

import torch

from madcell.data import open_views
from madcell.train import StandaloneStep
from madcell.train.setup import view_sizes


def test_standalone_step_trains(tiny_cfg, tiny_store):
    vs = open_views(tiny_store)
    cfg = dict(tiny_cfg, train=dict(tiny_cfg["train"], batch_size=4))
    sizes = view_sizes(cfg, vs)
    step = StandaloneStep(cfg, vs.n_channels, sizes, torch.device("cpu"), total_iters=3)
    g = torch.Generator().manual_seed(0)
    views = {v: torch.rand((4, vs.n_channels, s, s), generator=g) for v, s in sizes.items()}
    before = [p.detach().clone() for p in step.ctx.student.parameters()]
    out = [step(views, i) for i in range(2)]
    assert step.n_params == sum(p.numel() for p in before)
    assert all(torch.isfinite(torch.tensor(m["loss"])) for m in out)
    assert any(not torch.equal(a, b) for a, b in zip(before, step.ctx.student.parameters()))  # the optimiser stepped
