"""AdamW parameter groups (DINOv2 recipe) and applying the per-iteration schedules to them.

* no weight decay on biases, norm weights, position embeddings, class/register tokens and the
  weight-norm gain of the prototype layer (1-D tensors and the named tokens);
* optional layer-wise lr decay: block ``i`` of a depth-``L`` ViT gets ``decay ** (L + 1 - (i + 1))``,
  the patch embedding and tokens ``decay ** (L + 1)``, the final norm and the head ``1``;
* the head's last (prototype) layer gets its own lr schedule, 0 while it is frozen.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from madcell.train.schedules import Schedules

_NO_WD = ("pos_embed", "cls_token", "reg_token", "register_tokens", "mask_token", "gamma")


def _layer_id(name: str, depth: int) -> int:
    """0 = patch embedding / tokens, i + 1 = transformer block i, depth + 1 = everything after."""
    if name.startswith("head."):
        return depth + 1
    m = re.search(r"\.blocks\.(\d+)\.", name)
    if m:
        return int(m.group(1)) + 1
    if any(t in name for t in ("patch_embed", "pos_embed", "cls_token", "reg_token")):
        return 0
    return depth + 1


def param_groups(model: nn.Module, layer_decay: float | None = None, depth: int = 0) -> list[dict]:
    """Parameter groups carrying ``lr_mult``, ``wd_mult`` and ``last_layer`` flags."""
    groups: dict[tuple, dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        no_wd = p.ndim <= 1 or name.endswith(".bias") or any(t in name for t in _NO_WD)
        lr_mult = 1.0
        if layer_decay is not None and layer_decay != 1.0:
            lr_mult = float(layer_decay) ** (depth + 1 - _layer_id(name, depth))
        last = "last_layer" in name
        key = (no_wd, lr_mult, last)
        g = groups.setdefault(key, {"params": [], "wd_mult": 0.0 if no_wd else 1.0, "lr_mult": lr_mult,
                                    "last_layer": last})
        g["params"].append(p)
    return list(groups.values())


def build_optimizer(model: nn.Module, layer_decay: float | None, depth: int) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`; lr / weight decay are set each step by :func:`apply_schedules`."""
    return torch.optim.AdamW(param_groups(model, layer_decay, depth), lr=0.0, weight_decay=0.0,
                             betas=(0.9, 0.999))


def apply_schedules(opt: torch.optim.Optimizer, sched: Schedules, it: int) -> dict[str, float]:
    """Set every group's lr and weight decay for iteration ``it``; returns the values used."""
    v = sched.at(it)
    for g in opt.param_groups:
        g["lr"] = (v["last_layer_lr"] if g["last_layer"] else v["lr"]) * g["lr_mult"]
        g["weight_decay"] = v["wd"] * g["wd_mult"]
    return v
