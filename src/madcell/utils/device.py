"""Device and precision choice shared by training, embedding and baselines."""

from __future__ import annotations

import contextlib

import torch


def pick_device(device: str | None = None) -> torch.device:
    """``None``/"auto" -> CUDA when available, else CPU."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def autocast(device: torch.device, precision: str = "auto"):
    """bf16 autocast on GPU for ``auto``/``bf16``; plain fp32 otherwise (CPU default)."""
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    if use_bf16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
