"""Batched image augmentations on the training device: one call per crop set, no loop over samples.

Every random number is drawn from the caller's ``torch.Generator`` (on the generator's device, then
moved), in a fixed order, so a resumed run reproduces the exact crops. All functions take and return
``(B, C, H, W)`` float tensors with any channel count.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchvision.ops import roi_align


def _rand(n: int, g: torch.Generator, device: torch.device, *shape: int) -> torch.Tensor:
    return torch.rand(n, *shape, generator=g, device=g.device).to(device)


DENSE_SELECT_ON_CPU = False  # use the accelerator path on the CPU too (the tests check both paths agree)


def _masked_apply(x: torch.Tensor, mask: torch.Tensor, fn) -> torch.Tensor:
    """``fn`` on the samples where ``mask`` holds, identity elsewhere.

    On an accelerator both branches are computed and selected (no host sync); on the CPU only the
    selected samples are transformed, which roughly halves the cost of flips and blur there.
    """
    if x.device.type != "cpu" or DENSE_SELECT_ON_CPU:
        return torch.where(mask[:, None, None, None], fn(x), x)
    idx = mask.nonzero().squeeze(1)
    if idx.numel() == 0:
        return x
    out = x.clone()
    out[idx] = fn(x[idx])
    return out


def _box_origin(u: torch.Tensor, side: torch.Tensor, full: int, keep: float | None) -> torch.Tensor:
    """Left/top edge of a box of ``side`` inside ``[0, full]``, uniform over the allowed positions.

    ``keep`` (fraction of ``full``) asks the box to contain the central square of half-side
    ``keep * full``: the edge is then drawn from ``[c + m - side, c - m]`` (clipped to the image); a
    box too small to hold that square is centred on it.
    """
    if keep is None:
        return u * (full - side)
    c, m = full / 2.0, keep * full
    lo = (c + m - side).clamp(min=0.0)
    hi = torch.minimum(torch.full_like(side, c - m), full - side)
    centred = (c - side / 2).clamp(min=0.0)
    return torch.where(hi >= lo, lo + u * (hi - lo), centred)


def random_resized_crop(
    x: torch.Tensor, size: int, scale: tuple[float, float], g: torch.Generator, ratio: tuple[float, float] = (3 / 4, 4 / 3),
    keep_center: float | None = None,
) -> torch.Tensor:
    """RandomResizedCrop per sample: a box of area fraction in ``scale`` and aspect ratio in ``ratio``.

    ``keep_center`` (fraction of the side, e.g. 0.1) makes every box contain the central square of
    that half-side, i.e. the cell the view is centred on (a microenvironment crop that cut the centre
    cell away would ask the student to predict a cell it cannot see); the box position is otherwise
    random. ``None``: anywhere in the image (DINO's crop). Same random draws either way.
    ``roi_align`` with adaptive sampling averages several input samples per output pixel when the box
    is larger than the output, i.e. it antialiases the down-scaling (e.g. 224-px store -> 84-px view).
    """
    b, _, h, w = x.shape
    u = _rand(b, g, x.device, 4)
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[:, 1]
    r = torch.exp(log_r)
    bw = (torch.sqrt(area * r) * w).clamp(1.0, w)
    bh = (torch.sqrt(area / r) * h).clamp(1.0, h)
    x0 = _box_origin(u[:, 2], bw, w, keep_center)
    y0 = _box_origin(u[:, 3], bh, h, keep_center)
    idx = torch.arange(b, device=x.device, dtype=x.dtype)
    boxes = torch.stack([idx, x0, y0, x0 + bw, y0 + bh], dim=1).to(x.dtype)
    return roi_align(x, boxes, output_size=(size, size), spatial_scale=1.0, sampling_ratio=-1, aligned=True)


def random_dihedral(x: torch.Tensor, g: torch.Generator, flip: bool, rot90: bool) -> torch.Tensor:
    """Random 90-degree rotation (if ``rot90``) then horizontal flip (if ``flip``), per sample.

    Rotation by k quarter turns = (transpose if k odd) then vertical/horizontal flips, so the 8
    symmetries of the square cost three masked selects.
    """
    b = x.shape[0]
    u = _rand(b, g, x.device, 2)
    k = (u[:, 0] * 4).long().clamp(max=3) if rot90 else torch.zeros(b, dtype=torch.long, device=x.device)
    f = (u[:, 1] < 0.5) if flip else torch.zeros(b, dtype=torch.bool, device=x.device)
    transpose = k % 2 == 1
    vflip = (k == 1) | (k == 2)
    hflip = ((k == 2) | (k == 3)) ^ f

    x = _masked_apply(x, transpose, lambda t: t.transpose(-1, -2))
    x = _masked_apply(x, vflip, lambda t: t.flip(-2))
    return _masked_apply(x, hflip, lambda t: t.flip(-1))


def intensity_jitter(x: torch.Tensor, strength: float, g: torch.Generator) -> torch.Tensor:
    """Per sample and channel: ``x * gain + offset``, gain in [1-s, 1+s], offset in [-s/2, s/2]."""
    if strength <= 0:
        return x
    b, c = x.shape[:2]
    u = _rand(b, g, x.device, 2, c)
    gain = 1.0 + strength * (2 * u[:, 0] - 1)
    offset = 0.5 * strength * (2 * u[:, 1] - 1)
    return x * gain[:, :, None, None] + offset[:, :, None, None]


def gaussian_blur(x: torch.Tensor, prob: float, sigma: tuple[float, float], g: torch.Generator) -> torch.Tensor:
    """Separable Gaussian blur with a random sigma per sample, applied with probability ``prob``."""
    b, c, h, w = x.shape
    u = _rand(b, g, x.device, 2)
    if prob <= 0:
        return x
    s = sigma[0] + (sigma[1] - sigma[0]) * u[:, 1]
    radius = min(int(math.ceil(3 * sigma[1])), (min(h, w) - 1) // 2)
    if radius < 1:
        return x
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kern = torch.exp(-0.5 * (t[None] / s[:, None]) ** 2)
    kern = kern / kern.sum(1, keepdim=True)  # (B, k)
    blur = u[:, 0] < prob

    def conv(y: torch.Tensor) -> torch.Tensor:
        n = y.shape[0]
        k = kern if n == b else kern[blur]  # the CPU path passes only the blurred samples
        k = k.repeat_interleave(c, dim=0)  # (n*C, taps)
        y = y.reshape(1, n * c, h, w)
        y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="reflect"), k[:, None, None, :], groups=n * c)
        y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="reflect"), k[:, None, :, None], groups=n * c)
        return y.reshape(n, c, h, w)

    return _masked_apply(x, blur, conv)


def gaussian_noise(x: torch.Tensor, std: float, g: torch.Generator) -> torch.Tensor:
    """Additive Gaussian noise of standard deviation ``std``."""
    if std <= 0:
        return x
    return x + std * torch.randn(x.shape, generator=g, device=g.device, dtype=x.dtype).to(x.device)
