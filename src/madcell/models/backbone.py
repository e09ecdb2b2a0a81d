"""The ViT backbone: timm's VisionTransformer with patch 14, as in DINOv2 and MAD.

One backbone serves both views (70-px morphology and 224-px microenvironment crops, or the CPU preset's
42/84 px), so it is built with ``dynamic_img_size=True``: timm interpolates the learned position
embedding (a grid of ``img_size / patch_size`` per side) to whatever grid the input has. The presets
mirror the DINOv2 family (LayerScale 1e-5, class token, no registers), so official DINOv2 weights load
into them (see :mod:`madcell.models.weights`).
"""

from __future__ import annotations

from typing import Any, Mapping

from timm.models.vision_transformer import VisionTransformer

from madcell.errors import InputError

# (embed_dim, depth, num_heads)
ARCH_PRESETS: dict[str, tuple[int, int, int]] = {
    "vit_tiny": (192, 12, 3),
    "vit_small": (384, 12, 6),
    "vit_base": (768, 12, 12),
    "vit_large": (1024, 24, 16),
}


def backbone_spec(model_cfg: Mapping[str, Any], in_chans: int, img_size: int) -> dict[str, Any]:
    """Resolve the ``model`` config section into the exact architecture (what ``model.json`` records)."""
    arch = str(model_cfg.get("arch", "vit_small"))
    if arch == "custom":
        dims = (int(model_cfg["embed_dim"]), int(model_cfg["depth"]), int(model_cfg["num_heads"]))
    elif arch in ARCH_PRESETS:
        dims = ARCH_PRESETS[arch]
    else:
        raise InputError("model.arch", f"unknown architecture '{arch}' ({', '.join([*ARCH_PRESETS, 'custom'])})")
    embed_dim, depth, num_heads = dims
    if embed_dim % num_heads:
        raise InputError("model.embed_dim", f"{embed_dim} is not divisible by num_heads={num_heads}")
    patch = int(model_cfg.get("patch_size", 14))
    if img_size % patch:
        raise InputError("model.patch_size", f"image size {img_size} is not a multiple of the patch size {patch}")
    ls = model_cfg.get("layer_scale", 1e-5)
    return {
        "arch": arch,
        "embed_dim": embed_dim,
        "depth": depth,
        "num_heads": num_heads,
        "patch_size": patch,
        "in_chans": int(in_chans),
        "img_size": int(img_size),
        "mlp_ratio": float(model_cfg.get("mlp_ratio", 4.0)),
        "layer_scale": None if ls is None else float(ls),
        "reg_tokens": int(model_cfg.get("reg_tokens", 0) or 0),
    }


def backbone_from_spec(spec: Mapping[str, Any], drop_path_rate: float = 0.0) -> VisionTransformer:
    """Build the VisionTransformer described by :func:`backbone_spec` (random init)."""
    reg = int(spec.get("reg_tokens", 0))
    return VisionTransformer(
        img_size=spec["img_size"],
        patch_size=spec["patch_size"],
        in_chans=spec["in_chans"],
        num_classes=0,
        global_pool="token",
        embed_dim=spec["embed_dim"],
        depth=spec["depth"],
        num_heads=spec["num_heads"],
        mlp_ratio=spec.get("mlp_ratio", 4.0),
        init_values=spec.get("layer_scale"),
        class_token=True,
        reg_tokens=reg,
        no_embed_class=reg > 0,  # DINOv2-reg layout: neither cls nor registers carry a position embedding
        dynamic_img_size=True,
        drop_path_rate=drop_path_rate,
    )


def build_backbone(model_cfg: Mapping[str, Any], in_chans: int, img_size: int) -> VisionTransformer:
    """A patch-14 ViT from the ``model`` config section, taking any input size that is a multiple of 14.

    ``img_size`` sets the learned position-embedding grid (use the largest training view); other sizes
    are served by timm's dynamic interpolation. ``num_classes=0``: calling the model returns the
    final-norm CLS token ``(B, embed_dim)``.
    """
    spec = backbone_spec(model_cfg, in_chans, img_size)
    vit = backbone_from_spec(spec, drop_path_rate=float(model_cfg.get("drop_path_rate", 0.0) or 0.0))
    if model_cfg.get("grad_checkpointing", False):
        vit.set_grad_checkpointing(True)
    return vit
