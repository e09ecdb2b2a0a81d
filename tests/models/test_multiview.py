from __future__ import annotations

import copy

import pytest
import torch

from madcell.errors import InputError
from madcell.models import (
    MultiViewNet,
    backbone_spec,
    build_backbone,
    build_multiview,
    build_student_teacher,
    update_teacher,
)


def test_presets_and_validation():
    spec = backbone_spec({"arch": "vit_small", "patch_size": 14}, 3, 224)
    assert (spec["embed_dim"], spec["depth"], spec["num_heads"]) == (384, 12, 6)
    assert backbone_spec({"arch": "vit_large"}, 3, 224)["depth"] == 24
    with pytest.raises(InputError, match="unknown architecture"):
        backbone_spec({"arch": "resnet"}, 3, 224)
    with pytest.raises(InputError, match="multiple of the patch"):
        backbone_spec({"arch": "vit_tiny"}, 3, 100)


def test_one_backbone_takes_every_view_size():
    vit = build_backbone({"arch": "custom", "embed_dim": 32, "depth": 1, "num_heads": 2, "grad_checkpointing": True}, 5, 224)
    assert vit.patch_embed.proj.weight.shape == (32, 5, 14, 14) and vit.grad_checkpointing
    for size in (42, 70, 84, 224):
        assert vit(torch.rand(2, 5, size, size)).shape == (2, 32)


def test_forward_groups_crops_by_resolution(tiny_cfg):
    net = build_multiview(tiny_cfg, in_chans=3).eval()
    assert set(net.backbones) == {"shared"} and net.embed_dim == 32
    crops = [torch.rand(2, 3, 84, 84), torch.rand(2, 3, 84, 84), torch.rand(2, 3, 42, 42)]
    calls = []
    net.backbones["shared"].register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    logits, cls = net(crops, "micro", return_cls=True)
    assert logits.shape == (6, 64) and cls.shape == (6, 32)
    assert calls == [4, 2]  # two backbone passes: both 84-px crops together, then the 42-px one
    with torch.no_grad():
        alone = net.embed(crops[2], "morph")
    assert torch.allclose(cls[4:], alone, atol=1e-5)
    assert torch.allclose(net.head(alone), logits[4:], atol=1e-5)
    for size in (70, 224):
        assert net([torch.rand(1, 3, size, size)], "morph").shape == (1, 64)


def test_modes(tiny_cfg):
    cfg = copy.deepcopy(tiny_cfg)
    cfg["train"]["views"] = "separate"
    net = build_multiview(cfg, 2)
    assert set(net.backbones) == {"morph", "micro"}
    assert net.backbone_for("morph") is not net.backbone_for("micro")
    assert net.teacher_views == net.student_views == ("morph", "micro")
    cfg["train"]["views"] = "exclusive"
    net = build_multiview(cfg, 2)
    assert net.backbone_for("morph") is net.backbone_for("micro")
    assert (net.teacher_views, net.student_views) == (("micro",), ("morph",))
    cfg["train"]["views"] = "nonsense"
    with pytest.raises(InputError):
        build_multiview(cfg, 2)
    with pytest.raises(ValueError):
        MultiViewNet({"shared": torch.nn.Identity()}, torch.nn.Identity(), "separate", {})


def test_student_teacher_and_ema(tiny_cfg):
    student, teacher = build_student_teacher(tiny_cfg, 3)
    assert not any(p.requires_grad for p in teacher.parameters())
    assert all(torch.equal(a, b) for a, b in zip(student.parameters(), teacher.parameters()))
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    before = [p.clone() for p in teacher.parameters()]
    update_teacher(student, teacher, 0.75)
    for b, s, t in zip(before, student.parameters(), teacher.parameters()):
        assert torch.allclose(t, 0.75 * b + 0.25 * s)
    # the student still trains: gradients reach backbone and head
    student([torch.rand(2, 3, 42, 42)], "morph").sum().backward()
    assert student.backbones["shared"].patch_embed.proj.weight.grad is not None
    student.cancel_last_layer_grads()
    assert student.head.last_layer.parametrizations.weight.original1.grad is None
