"""Initial weights from a local checkpoint in the official DINOv2 key layout (nothing downloaded)."""

from __future__ import annotations

import copy

import pytest
import torch
from timm.models.vision_transformer import VisionTransformer

from madcell.errors import InputError
from madcell.models import build_backbone, build_student_teacher, load_init_weights


def dinov2_checkpoint(tmp_path, depth=2, chunked=False):
    """A dim-64 ViT/14 saved like dinov2's ``*_pretrain.pth``: 3 channels, 518-px (37x37) grid, mask_token."""
    torch.manual_seed(0)
    src = VisionTransformer(img_size=518, patch_size=14, in_chans=3, num_classes=0, embed_dim=64, depth=depth,
                            num_heads=2, init_values=1e-5)
    sd = {k: v.clone() for k, v in src.state_dict().items()}
    for v in sd.values():
        v.normal_()
    sd["mask_token"] = torch.zeros(1, 64)
    if chunked:
        sd = {"teacher": {"backbone." + k.replace("blocks.", "blocks.0."): v for k, v in sd.items()}}
    path = tmp_path / "dinov2_tiny_pretrain.pth"
    torch.save(sd, path)
    return path, (sd["teacher"] if chunked else sd)


MODEL = {"arch": "custom", "embed_dim": 64, "depth": 2, "num_heads": 2}


def test_dinov2_layout_into_four_channel_backbone(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path, sd = dinov2_checkpoint(tmp_path)
    vit = build_backbone(MODEL, in_chans=4, img_size=84)
    load_init_weights(vit, path)
    own = vit.state_dict()
    assert torch.equal(own["blocks.1.attn.qkv.weight"], sd["blocks.1.attn.qkv.weight"])
    assert torch.equal(own["blocks.0.ls1.gamma"], sd["blocks.0.ls1.gamma"])
    assert torch.equal(own["cls_token"], sd["cls_token"])
    assert own["pos_embed"].shape == (1, 1 + 6 * 6, 64)  # resampled 37x37 -> 6x6
    assert torch.allclose(own["pos_embed"][:, 0], sd["pos_embed"][:, 0])  # class-token position kept
    w = sd["patch_embed.proj.weight"]
    assert own["patch_embed.proj.weight"].shape == (64, 4, 14, 14)
    assert torch.allclose(own["patch_embed.proj.weight"], w[:, [0, 1, 2, 0]] * 3 / 4)  # timm adapt_input_conv
    assert vit(torch.rand(1, 4, 42, 42)).shape == (1, 64)


def test_training_checkpoint_with_block_chunks(tmp_path):
    path, sd = dinov2_checkpoint(tmp_path, chunked=True)
    vit = build_backbone(MODEL, in_chans=3, img_size=518)
    load_init_weights(vit, path)
    assert torch.equal(vit.state_dict()["blocks.1.mlp.fc2.weight"], sd["backbone.blocks.0.1.mlp.fc2.weight"])
    assert torch.equal(vit.state_dict()["pos_embed"], sd["backbone.pos_embed"])


def test_student_teacher_start_from_init_weights(tmp_path, tiny_cfg):
    path, sd = dinov2_checkpoint(tmp_path)
    cfg = copy.deepcopy(tiny_cfg)
    cfg["model"].update(MODEL, init_weights=str(path))
    student, teacher = build_student_teacher(cfg, 2)
    for net in (student, teacher):
        assert torch.equal(net.backbones["shared"].blocks[0].attn.proj.weight, sd["blocks.0.attn.proj.weight"])


def test_errors(tmp_path):
    vit = build_backbone(MODEL, in_chans=3, img_size=84)
    with pytest.raises(InputError, match="does not exist"):
        load_init_weights(vit, tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot be read"):
        load_init_weights(vit, junk)
    path, _ = dinov2_checkpoint(tmp_path, depth=3)
    with pytest.raises(InputError, match="unexpected weights"):
        load_init_weights(vit, path)
    wide = build_backbone({"arch": "custom", "embed_dim": 96, "depth": 2, "num_heads": 2}, 3, 84)
    path, _ = dinov2_checkpoint(tmp_path, depth=2)
    with pytest.raises(InputError):
        load_init_weights(wide, path)
