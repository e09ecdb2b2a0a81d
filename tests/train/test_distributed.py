"""Two CPU processes (gloo) under torchrun end with identical student and teacher weights."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from train_tiny import TINY


def test_two_process_gloo_ranks_agree(tiny_store, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(Path(__file__).with_name("_ddp_worker.py")), str(tiny_store), str(out), json.dumps(TINY)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    r0, r1 = (torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2 and r0["mode"] == "ddp" and r0["steps"] == 4
    for key in ("student", "teacher"):
        for k in r0[key]:
            assert torch.equal(r0[key][k], r1[key][k]), (key, k)
    assert torch.equal(r0["center"], r1["center"])
    # the ranks trained (teacher moved away from its initialisation) and rank 0 exported it
    assert (out / "export" / "model.json").exists()
    ckpt = torch.load(out / "checkpoints" / "last.pt", weights_only=False)
    assert ckpt["world"] == 2 and len(ckpt["rng"]) == 2
    assert not torch.equal(ckpt["rng"][0]["augment"], ckpt["rng"][1]["augment"])  # ranks see different crops
