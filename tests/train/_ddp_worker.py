"""Run under ``torchrun --nproc_per_node 2``: tiny pretrain, then dump this rank's weights."""

import json
import os
import sys

import torch

import madcell.train.loop as loop
import madcell.train.session as session
from madcell.config import load_config
from madcell.train.distributed import unwrap

torch.set_num_threads(1)
store, out, overrides = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
seen = {}
real_step = session.train_step


def step(ctx, views, it):
    seen["ctx"] = ctx
    return real_step(ctx, views, it)


session.train_step = step  # the step loop's own
summary = loop.pretrain(store, load_config(None, overrides), out, max_steps=4, progress=False)
ctx = seen["ctx"]
rank = int(os.environ["RANK"])
torch.save({"student": unwrap(ctx.student).state_dict(), "teacher": ctx.teacher.state_dict(),
            "center": ctx.loss.center.clone(), "world": ctx.dist.world, "mode": ctx.dist.mode,
            "steps": summary["steps"]}, os.path.join(out, f"rank{rank}.pt"))
