"""Small convolutional encoder / decoder pair shared by the VAE and the VQ-VAE.

Each stage halves (encoder: 4x4 stride-2 conv) or doubles (decoder: 4x4 stride-2 transposed conv)
the side, so the input side must be divisible by ``2 ** len(channels)``. The decoder ends in a
sigmoid because views are 0-1 intensities.
"""

from __future__ import annotations

import torch
from torch import nn

from madcell.errors import InputError


def check_side(size: int, channels: list[int], where: str) -> int:
    """Side of the bottleneck map; an error when ``size`` does not halve cleanly."""
    f = 2 ** len(channels)
    if size % f or size < f:
        raise InputError(None, f"{where}.size={size} must be a positive multiple of 2**len(channels) = {f}")
    return size // f


def _block(cin: int, cout: int, transpose: bool = False) -> nn.Sequential:
    conv = nn.ConvTranspose2d if transpose else nn.Conv2d
    return nn.Sequential(conv(cin, cout, 4, stride=2, padding=1), nn.BatchNorm2d(cout), nn.GELU())


class ConvEncoder(nn.Module):
    """(B, C, s, s) -> (B, channels[-1], s / 2**n, s / 2**n)."""

    def __init__(self, in_chans: int, channels: list[int]):
        super().__init__()
        dims = [in_chans, *channels]
        self.net = nn.Sequential(*[_block(a, b) for a, b in zip(dims[:-1], dims[1:])])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """(B, channels[-1], t, t) -> (B, out_chans, t * 2**n, t * 2**n) in 0-1."""

    def __init__(self, out_chans: int, channels: list[int]):
        super().__init__()
        dims = list(reversed(channels))
        blocks = [_block(a, b, transpose=True) for a, b in zip(dims[:-1], dims[1:])]
        blocks.append(nn.ConvTranspose2d(dims[-1], out_chans, 4, stride=2, padding=1))
        self.net = nn.Sequential(*blocks, nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
