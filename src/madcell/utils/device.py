"""Device and precision choice shared by training, embedding and baselines."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


def pick_device(device: str | None = None) -> torch.device:
    """``None``/"auto" -> CUDA when available, else CPU."""
    from madcell.errors import InputError

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError("--device", f"{device!r} is not a device (auto, cpu, cuda, cuda:N)") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError("--device", f"{device} was asked for but this machine has no usable CUDA GPU "
                                         "(use --device cpu or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError("--device", f"{device}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    return dev


def autocast(device: torch.device, precision: str = "auto"):
    """bf16 autocast on GPU for ``auto``/``bf16``; plain fp32 otherwise (CPU default)."""
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    if use_bf16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``n`` torch intra-op threads, restoring the previous count afterwards.

    The BLAS / OpenMP pools of numpy, scipy and scikit-learn are limited too. Small models (decoders,
    probes, the niche student) and small matrices run fastest on one thread: on the 2-core CI box one
    evaluation of 1,500 cells took 6 s on 1 thread, 28 s with 2 BLAS threads on an idle machine and
    153 s with 2 torch threads while another process used a core (OpenMP spin-waiting).
    """
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):  # BLAS / OpenMP pools of numpy, scipy, scikit-learn
            yield
    finally:
        torch.set_num_threads(old)


def single_threaded(func):
    """Decorator: run ``func`` under :func:`torch_threads` (1) — for small-model fitting code."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with torch_threads(1):
            return func(*args, **kwargs)

    return wrapper
