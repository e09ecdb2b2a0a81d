"""Multi-crop augmentation of one view (DINO's global + local crops), batched on the training device.

``MultiCropAugment(cfg, morph_size, micro_size)(views, view, generator)`` turns a batch of morphology or
microenvironment views into ``n_global`` crops at the training size of that view and ``n_local``
smaller crops, each with its own random box, rotation/flip, per-channel intensity jitter, blur and
noise (``augment.micro_keep_center``: every microenvironment crop keeps the centre cell). Images stay 0-1 with any number of channels (fluorescence panels are not RGB, so no colour
jitter). Every size must be a multiple of the ViT patch (14) so the crops tile into whole patches.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from madcell.augment.ops import gaussian_blur, gaussian_noise, intensity_jitter, random_dihedral, random_resized_crop
from madcell.errors import InputError


def _pair(value: Any, key: str) -> tuple[float, float]:
    lo, hi = (float(v) for v in value)
    if not 0 <= lo <= hi:
        raise InputError(f"augment.{key}", f"must be an increasing pair [low, high], got {list(value)}")
    return lo, hi


class MultiCropAugment:
    """Callable: ``(views (B,C,H,W) 0-1 float or uint8, view, generator) -> (global_crops, local_crops)``."""

    def __init__(self, aug_cfg: Mapping[str, Any], morph_size: int, micro_size: int, patch_size: int = 14):
        self.sizes = {
            "morph": (int(morph_size), int(aug_cfg["local_size_morph"])),
            "micro": (int(micro_size), int(aug_cfg["local_size_micro"])),
        }
        for view, (glob, loc) in self.sizes.items():
            for key, size in ((f"{view}_size", glob), (f"local_size_{view}", loc)):
                if size <= 0 or size % patch_size:
                    raise InputError(f"augment.{key}", f"{size} is not a positive multiple of the patch size {patch_size}")
        self.n_global = int(aug_cfg["n_global"])
        self.n_local = int(aug_cfg["n_local"])
        if self.n_global < 1 or self.n_local < 0:
            raise InputError("augment.n_global", "needs n_global >= 1 and n_local >= 0")
        self.global_scale = _pair(aug_cfg["global_scale"], "global_scale")
        self.local_scale = _pair(aug_cfg["local_scale"], "local_scale")
        if self.global_scale[1] > 1 or self.local_scale[1] > 1 or self.global_scale[0] <= 0 or self.local_scale[0] <= 0:
            raise InputError("augment.global_scale", "crop scales must lie in (0, 1]")
        keep = aug_cfg.get("micro_keep_center")
        if keep is not None and not 0 < float(keep) < 0.5:
            raise InputError("augment.micro_keep_center", f"must be null or in (0, 0.5), got {keep}")
        self.keep_center = {"morph": None, "micro": None if keep is None else float(keep)}
        self.flip = bool(aug_cfg["flip"])
        self.rot90 = bool(aug_cfg["rot90"])
        self.jitter = float(aug_cfg["intensity_jitter"])
        self.blur_prob = float(aug_cfg["blur_prob"])
        self.blur_sigma = _pair(aug_cfg["blur_sigma"], "blur_sigma")
        self.noise_std = float(aug_cfg["noise_std"])

    def _crop(self, x: torch.Tensor, size: int, scale: tuple[float, float], g: torch.Generator,
              keep_center: float | None = None) -> torch.Tensor:
        y = random_resized_crop(x, size, scale, g, keep_center=keep_center)
        y = random_dihedral(y, g, self.flip, self.rot90)
        y = intensity_jitter(y, self.jitter, g)
        y = gaussian_blur(y, self.blur_prob, self.blur_sigma, g)
        y = gaussian_noise(y, self.noise_std, g)
        return y.clamp_(0.0, 1.0)

    @torch.no_grad()
    def __call__(
        self, views: torch.Tensor, view: str, generator: torch.Generator
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        if view not in self.sizes:
            raise ValueError(f"view must be 'morph' or 'micro', got {view!r}")
        if views.ndim != 4:
            raise ValueError(f"views must be (B, C, H, W), got {tuple(views.shape)}")
        x = views.float() / 255.0 if views.dtype == torch.uint8 else views.float()
        glob, loc = self.sizes[view]
        keep = self.keep_center[view]
        global_crops = [self._crop(x, glob, self.global_scale, generator, keep) for _ in range(self.n_global)]
        local_crops = [self._crop(x, loc, self.local_scale, generator, keep) for _ in range(self.n_local)]
        return global_crops, local_crops
