"""Multi-process training: ``torchrun`` environment -> process group, DDP / FSDP wrapping, reductions.

``torchrun --nproc_per_node N -m madcell.cli pretrain ...`` (or ``madcell pretrain`` under torchrun)
sets RANK / WORLD_SIZE / LOCAL_RANK; we then join a process group (nccl on GPU, gloo on CPU), shard the
data deterministically per rank (see :mod:`madcell.train.data`) and wrap the student in DDP, or in FSDP
when ``train.distributed == "fsdp"`` (large backbones such as ViT-L, whose optimiser state does not fit
one GPU). Gradients are averaged by the wrapper, so every rank applies the same update and the EMA
teacher stays identical across ranks without any communication of its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    mode: str = "none"  # none | ddp | fsdp

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def init_distributed(mode: str, device_type: str) -> DistInfo:
    """Join the process group described by the torchrun environment (no-op for a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if mode == "none" or world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world=world, local_rank=local, mode="fsdp" if mode == "fsdp" else "ddp")


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: nn.Module, info: DistInfo, device: torch.device, find_unused: bool = False) -> nn.Module:
    """DDP or FSDP around ``module`` (returned unchanged for a single process)."""
    if not info.enabled:
        return module
    if info.mode == "fsdp":
        return fsdp_wrap(module, device)
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index if device.index is not None else info.local_rank] if device.type == "cuda" else None
    return DDP(module, device_ids=ids, find_unused_parameters=find_unused, broadcast_buffers=False)


def fsdp_wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """FSDP with one unit per transformer block (the same policy for student and teacher, so their
    local shards line up for the EMA update)."""
    import functools

    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    from torch.distributed.fsdp.wrap import ModuleWrapPolicy

    block_types = {type(m) for m in module.modules() if type(m).__name__ == "Block"}
    policy = ModuleWrapPolicy(block_types) if block_types else None
    kwargs = {"device_id": device} if device.type == "cuda" else {}
    return FSDP(module, auto_wrap_policy=policy, use_orig_params=True, sync_module_states=True,
                **kwargs)


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a DDP / torch.compile wrapper (FSDP modules are returned as they are)."""
    while True:
        if hasattr(module, "_orig_mod"):
            module = module._orig_mod
        elif isinstance(module, nn.parallel.DistributedDataParallel):
            module = module.module
        else:
            return module


def full_state_dict(module: nn.Module, info: DistInfo) -> dict:
    """A full (unsharded) CPU state dict, also under FSDP (collective: call on every rank)."""
    if info.mode == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(module, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return {k: v.detach().cpu().clone() for k, v in unwrap(module).state_dict().items()}


def load_full_state_dict(module: nn.Module, state: dict, info: DistInfo) -> None:
    if info.mode == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(module, state, options=StateDictOptions(full_state_dict=True))
    else:
        unwrap(module).load_state_dict(state)


def optim_state_dict(model: nn.Module, opt: torch.optim.Optimizer, info: DistInfo) -> dict:
    if info.mode == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        return get_optimizer_state_dict(model, opt, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return opt.state_dict()


def load_optim_state_dict(model: nn.Module, opt: torch.optim.Optimizer, state: dict, info: DistInfo) -> None:
    if info.mode == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(model, opt, state, options=StateDictOptions(full_state_dict=True))
    else:
        opt.load_state_dict(state)


def all_reduce_mean(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of ``t`` over ranks (``t`` itself for one process)."""
    if info.enabled:
        t = t.clone()
        dist.all_reduce(t)
        t /= info.world
    return t


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
