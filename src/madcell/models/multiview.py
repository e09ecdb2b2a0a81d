"""The student/teacher network of MAD: backbone(s) shared across the two views plus one DINO head.

``views_mode`` (config ``train.views``) decides what is shared and which views each side sees:

========== ======================== =============== ===============
mode       backbones                teacher views   student views
========== ======================== =============== ===============
both       one shared               morph, micro    morph, micro
morph      one shared               morph           morph
micro      one shared               micro           micro
separate   one per view             morph, micro    morph, micro
exclusive  one shared               micro           morph
========== ======================== =============== ===============

The head is ONE module in every mode, also ``separate``: the cross-view terms CE(Tm,Su), CE(Tu,Sm)
compare prototype distributions, which only means something when both views score against the same
prototypes. ``forward`` groups crops of equal resolution into one backbone call, like DINO's
MultiCropWrapper, so the 2 global + n local crops cost two backbone passes per view.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from madcell.models.backbone import backbone_spec, build_backbone
from madcell.models.head import DINOHead
from madcell.models.weights import load_init_weights

VIEWS = ("morph", "micro")
VIEWS_MODES = ("both", "morph", "micro", "separate", "exclusive")
_LOSS_VIEWS = {
    "both": (VIEWS, VIEWS),
    "morph": (("morph",), ("morph",)),
    "micro": (("micro",), ("micro",)),
    "separate": (VIEWS, VIEWS),
    "exclusive": (("micro",), ("morph",)),
}


class MultiViewNet(nn.Module):
    """Backbone(s) + head. ``forward(crops, view) -> (n_crops * B, out_dim)`` logits."""

    def __init__(self, backbones: Mapping[str, nn.Module], head: nn.Module, views_mode: str, spec: Mapping[str, Any]):
        super().__init__()
        if views_mode not in VIEWS_MODES:
            raise ValueError(f"views_mode must be one of {VIEWS_MODES}, got {views_mode!r}")
        expected = {"morph", "micro"} if views_mode == "separate" else {"shared"}
        if set(backbones) != expected:
            raise ValueError(f"views_mode {views_mode!r} needs backbones {sorted(expected)}, got {sorted(backbones)}")
        self.views_mode = views_mode
        self.backbones = nn.ModuleDict(dict(backbones))
        self.head = head
        self.spec = dict(spec)  # resolved architecture (see models.backbone.backbone_spec)

    @property
    def embed_dim(self) -> int:
        return int(self.spec["embed_dim"])

    @property
    def teacher_views(self) -> tuple[str, ...]:
        """Views whose global crops the teacher encodes in this mode."""
        return _LOSS_VIEWS[self.views_mode][0]

    @property
    def student_views(self) -> tuple[str, ...]:
        """Views whose (global + local) crops the student encodes in this mode."""
        return _LOSS_VIEWS[self.views_mode][1]

    def backbone_for(self, view: str) -> nn.Module:
        if view not in VIEWS:
            raise ValueError(f"view must be 'morph' or 'micro', got {view!r}")
        return self.backbones[view] if self.views_mode == "separate" else self.backbones["shared"]

    def embed(self, x: torch.Tensor, view: str) -> torch.Tensor:
        """Final-norm CLS token ``(B, D)`` of ``x`` ``(B, C, S, S)``."""
        return self.backbone_for(view)(x)

    def forward(
        self, crops: Sequence[torch.Tensor] | torch.Tensor, view: str, return_cls: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Head logits of all crops, concatenated in order: ``(len(crops) * B, out_dim)``.

        With ``return_cls`` also the backbone CLS tokens ``(len(crops) * B, D)`` (for KoLeo).
        """
        if torch.is_tensor(crops):
            crops = [crops]
        backbone = self.backbone_for(view)
        cls_parts = []
        start = 0
        while start < len(crops):
            end = start + 1
            while end < len(crops) and crops[end].shape[-2:] == crops[start].shape[-2:]:
                end += 1
            cls_parts.append(backbone(torch.cat(list(crops[start:end]), dim=0)))
            start = end
        cls = torch.cat(cls_parts, dim=0)
        logits = self.head(cls)
        return (logits, cls) if return_cls else logits

    def cancel_last_layer_grads(self) -> None:
        self.head.cancel_last_layer_grads()


def build_multiview(cfg: Mapping[str, Any], in_chans: int, img_size: int | None = None) -> MultiViewNet:
    """A randomly initialised :class:`MultiViewNet` from the full config (``model``, ``head``, ``train.views``).

    ``img_size`` (position-embedding grid) defaults to the larger training view size:
    ``augment.morph_size/micro_size``, falling back to ``prepare.*`` where those are null.
    """
    mode = str(cfg["train"]["views"])
    if mode not in VIEWS_MODES:
        from madcell.errors import InputError

        raise InputError("train.views", f"must be one of {', '.join(VIEWS_MODES)}, got '{mode}'")
    if img_size is None:
        aug, prep = cfg.get("augment", {}), cfg.get("prepare", {})
        img_size = max(int(aug.get("morph_size") or prep["morph_size"]), int(aug.get("micro_size") or prep["micro_size"]))
    names = ("morph", "micro") if mode == "separate" else ("shared",)
    backbones = {n: build_backbone(cfg["model"], in_chans, img_size) for n in names}
    spec = backbone_spec(cfg["model"], in_chans, img_size)
    h = cfg["head"]
    head = DINOHead(
        spec["embed_dim"], int(h["out_dim"]), int(h["hidden_dim"]), int(h["bottleneck_dim"]),
        int(h["n_layers"]), bool(h["norm_last_layer"]),
    )
    return MultiViewNet(backbones, head, mode, spec)


def build_student_teacher(cfg: Mapping[str, Any], in_chans: int, img_size: int | None = None) -> tuple[MultiViewNet, MultiViewNet]:
    """Student (initialised from ``model.init_weights`` when set) and its EMA teacher (a frozen deep copy)."""
    student = build_multiview(cfg, in_chans, img_size)
    init = cfg["model"].get("init_weights")
    if init:
        for vit in student.backbones.values():
            load_init_weights(vit, init)
    teacher = copy.deepcopy(student)
    for vit in teacher.backbones.values():
        vit.set_grad_checkpointing(False)  # the teacher runs under no_grad
    for p in teacher.parameters():
        p.requires_grad = False
    return student, teacher


@torch.no_grad()
def update_teacher(student: nn.Module, teacher: nn.Module, momentum: float) -> None:
    """teacher <- momentum * teacher + (1 - momentum) * student, over all parameters (in order)."""
    s_params = [p.detach() for p in student.parameters()]
    t_params = list(teacher.parameters())
    if len(s_params) != len(t_params):
        raise ValueError("student and teacher have different parameter lists")
    torch._foreach_mul_(t_params, momentum)
    torch._foreach_add_(t_params, s_params, alpha=1.0 - momentum)
