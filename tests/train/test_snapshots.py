"""``train.snapshot_steps``: the teacher is exported at those steps of the run (for learning curves)."""

import copy

import torch
from safetensors.torch import load_file

from madcell.models.export import Encoder
from madcell.train import pretrain
from madcell.train.checkpoint import load_checkpoint


def test_snapshots_hold_the_teacher_of_that_step(tiny_store, tiny_cfg, tmp_path):
    torch.set_num_threads(1)
    cfg = copy.deepcopy(tiny_cfg)
    cfg["train"]["snapshot_steps"] = [2, 4]
    pretrain(tiny_store, cfg, tmp_path / "run", max_steps=6, progress=False)
    snaps = sorted(p.name for p in (tmp_path / "run" / "snapshots").iterdir())
    assert snaps == ["step_000002", "step_000004"]  # the last step is the run's own export/
    # the same run stopped after 2 steps has, in its checkpoint, the teacher the snapshot holds
    pretrain(tiny_store, cfg, tmp_path / "stopped", max_steps=6, progress=False, stop_after=2)
    teacher = load_checkpoint(tmp_path / "stopped" / "checkpoints" / "last.pt")["teacher"]
    snap = load_file(str(tmp_path / "run" / "snapshots" / "step_000002" / "teacher.safetensors"))
    backbone = {k[len("net.backbones.shared."):]: v for k, v in teacher.items() if k.startswith("net.backbones.shared.")}
    assert backbone and all(torch.allclose(snap[f"shared.{k}"], v, atol=1e-6) for k, v in backbone.items())
    later = load_file(str(tmp_path / "run" / "snapshots" / "step_000004" / "teacher.safetensors"))
    assert any(not torch.equal(snap[k], later[k]) for k in snap)
    enc = Encoder.load(tmp_path / "run" / "snapshots" / "step_000002")  # loads like any export
    assert enc.embed_dim == cfg["model"]["embed_dim"]
