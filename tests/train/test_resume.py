"""An interrupted + resumed run ends with the same weights as an uninterrupted one."""

import csv

import torch

from madcell.train import pretrain
from madcell.train.checkpoint import load_checkpoint


def _final(run):
    return load_checkpoint(run / "checkpoints" / "last.pt")


def test_resume_is_exact(tiny_store, tiny_cfg, tmp_path):
    torch.set_num_threads(1)
    full = pretrain(tiny_store, tiny_cfg, tmp_path / "full", max_steps=6, progress=False)
    assert full["steps"] == 6 and full["finished"]

    part = pretrain(tiny_store, tiny_cfg, tmp_path / "part", max_steps=6, progress=False, stop_after=3)
    assert part["steps"] == 3 and not part["finished"] and part["export"] is None
    assert _final(tmp_path / "part")["it"] == 3
    resumed = pretrain(tiny_store, None, tmp_path / "part", resume=True, progress=False)
    assert resumed["steps"] == 6 and resumed["finished"]
    assert (tmp_path / "part" / "export" / "teacher.safetensors").exists()

    a, b = _final(tmp_path / "full"), _final(tmp_path / "part")
    assert a["it"] == b["it"] == 6 and a["plan"] == b["plan"]
    for key in ("student", "teacher", "loss"):
        assert a[key].keys() == b[key].keys()
        for k in a[key]:
            assert torch.allclose(a[key][k], b[key][k], atol=1e-6, rtol=0), (key, k)
    assert not torch.equal(a["teacher"]["net.head.mlp.0.weight"], a["student"]["net.head.mlp.0.weight"])
    # the resumed log has every training step exactly once
    with open(tmp_path / "part" / "metrics.csv") as fh:
        steps = [int(r["step"]) for r in csv.DictReader(fh) if r["name"] == "train/loss"]
    assert steps == [1, 2, 3, 4, 5, 6]
