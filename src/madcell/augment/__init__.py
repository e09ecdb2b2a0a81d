"""Batched multi-crop augmentation of the two cell views."""

from madcell.augment.multicrop import MultiCropAugment

__all__ = ["MultiCropAugment"]
