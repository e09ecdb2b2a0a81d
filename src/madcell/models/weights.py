"""Initialise a backbone from a LOCAL checkpoint (official DINOv2 or timm layout); nothing is downloaded.

DINOv2's released ``dinov2_vit*14_pretrain.pth`` files and timm ``*_dinov2`` state dicts differ in
small ways (``mask_token``, SwiGLU ``w12``/``w3`` names, register tokens); timm's
``checkpoint_filter_fn`` already converts them and resamples the position embedding from the 37x37
(518-px) grid to the backbone's grid. What timm does not do for us here is the channel count: the
patch embedding of an RGB checkpoint is adapted to ``in_chans`` with timm's ``adapt_input_conv``
(channels repeated and rescaled), since spatial-omics images have any number of channels.
Training checkpoints (``{"teacher": {"backbone.*": ...}}``, ``module.`` prefixes) are unwrapped first.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from timm.models._manipulate import adapt_input_conv
from timm.models.vision_transformer import VisionTransformer, checkpoint_filter_fn

from madcell.errors import InputError

_WRAPPERS = ("teacher", "model", "state_dict", "student")
_PREFIXES = ("module.", "backbone.", "_orig_mod.")
_CHUNKED = re.compile(r"^blocks\.\d+\.(\d+)\.")
_IGNORED = re.compile(r"^(head|dino_head|ibot_head|fc_norm|heads?)\.")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` / ``.pth`` / ``.pt`` checkpoint as a flat tensor dict (no pickled code)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "initial-weights file does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(path), device="cpu")
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated, or not a checkpoint at all
        raise InputError(path, f"cannot be read as a checkpoint ({type(exc).__name__}: {exc})") from exc
    for key in _WRAPPERS:
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not sd or not all(torch.is_tensor(v) for v in sd.values()):
        raise InputError(path, "does not hold a state dict of tensors")
    for prefix in _PREFIXES:
        if all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix):]: v for k, v in sd.items()}
    if any(_CHUNKED.match(k) for k in sd):  # dinov2 training checkpoints: blocks.<chunk>.<block>.*
        sd = {_CHUNKED.sub(r"blocks.\1.", k): v for k, v in sd.items()}
    return dict(sd)


def load_init_weights(backbone: VisionTransformer, path: str | Path) -> VisionTransformer:
    """Load a local DINOv2/timm ViT checkpoint into ``backbone`` (in place; returns it).

    Position embeddings are resampled to the backbone's grid and the patch embedding is adapted to its
    channel count. Heads in the checkpoint are ignored; any other missing, surplus or mis-shaped weight
    is an :class:`InputError` (the checkpoint is for a different architecture).
    """
    sd = read_state_dict(path)
    sd = {k: v for k, v in sd.items() if not _IGNORED.match(k)}
    if "register_tokens" in sd and backbone.reg_token is None:
        raise InputError(path, "checkpoint has register tokens; set model.reg_tokens to match")
    proj = sd.get("patch_embed.proj.weight")
    if proj is not None and proj.ndim == 4 and proj.shape[1] != backbone.patch_embed.proj.in_channels:
        sd["patch_embed.proj.weight"] = adapt_input_conv(
            backbone.patch_embed.proj.in_channels, proj, base_chans=proj.shape[1]
        ).to(proj.dtype)
    try:
        sd = checkpoint_filter_fn(sd, backbone)
    except Exception as exc:
        raise InputError(path, f"cannot be converted to this backbone ({type(exc).__name__}: {exc})") from exc
    own = backbone.state_dict()
    missing = sorted(set(own) - set(sd))
    surplus = sorted(set(sd) - set(own))
    bad = sorted(k for k in set(own) & set(sd) if own[k].shape != sd[k].shape)
    if missing or surplus or bad:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} weights (e.g. {', '.join(missing[:3])})")
        if surplus:
            parts.append(f"{len(surplus)} unexpected weights (e.g. {', '.join(surplus[:3])})")
        if bad:
            k = bad[0]
            parts.append(f"{len(bad)} shape mismatches (e.g. {k}: {tuple(sd[k].shape)} vs {tuple(own[k].shape)})")
        raise InputError(path, "does not match model.arch/embed_dim/depth: " + "; ".join(parts))
    backbone.load_state_dict({k: v.to(own[k].dtype) for k, v in sd.items()}, strict=True)
    return backbone
