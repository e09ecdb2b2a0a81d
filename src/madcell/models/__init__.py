"""Backbones, DINO head, the multi-view student/teacher network, and the exported encoder."""

from madcell.models.backbone import ARCH_PRESETS, backbone_from_spec, backbone_spec, build_backbone
from madcell.models.export import Encoder, export_teacher
from madcell.models.head import DINOHead
from madcell.models.multiview import (
    VIEWS_MODES,
    MultiViewNet,
    build_multiview,
    build_student_teacher,
    update_teacher,
)
from madcell.models.weights import load_init_weights, read_state_dict

__all__ = [
    "ARCH_PRESETS",
    "DINOHead",
    "Encoder",
    "MultiViewNet",
    "VIEWS_MODES",
    "backbone_from_spec",
    "backbone_spec",
    "build_backbone",
    "build_multiview",
    "build_student_teacher",
    "export_teacher",
    "load_init_weights",
    "read_state_dict",
    "update_teacher",
]
