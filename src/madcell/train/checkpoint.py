"""Training checkpoints that resume a run *exactly*, written atomically.

A checkpoint holds everything the next step depends on: student, teacher, optimiser, loss centre, the
iteration (which indexes the precomputed schedules and the data order), the run plan (so a resumed
run rebuilds the very same schedules) and every random state (python, numpy, torch CPU/CUDA and the
augmentation generator). It is written through :func:`madcell.utils.atomic.atomic_path`, so a run
killed mid-write keeps the previous ``last.pt`` intact.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from madcell.errors import InputError
from madcell.utils.atomic import atomic_path

FORMAT = "madcell-pretrain-ckpt/1"


def last_checkpoint(run_dir: str | Path) -> Path:
    """Where a run keeps its latest good state: ``<run_dir>/checkpoints/last.pt``."""
    return Path(run_dir) / "checkpoints" / "last.pt"


def rng_state(aug_generator: torch.Generator | None = None) -> dict[str, Any]:
    """Capture every random number generator the training step may consume."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if aug_generator is not None:
        state["augment"] = aug_generator.get_state()
    return state


def set_rng_state(state: dict[str, Any], aug_generator: torch.Generator | None = None) -> None:
    """Restore what :func:`rng_state` captured."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if aug_generator is not None and "augment" in state:
        aug_generator.set_state(state["augment"])


def all_finite(*modules: torch.nn.Module) -> bool:
    """True when every parameter and buffer of ``modules`` is finite (checked before saving)."""
    for m in modules:
        for t in list(m.parameters()) + list(m.buffers()):
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                return False
    return True


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (plus the format tag) atomically to ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (InputError if absent or foreign)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no checkpoint to resume from")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # truncated / foreign file
        raise InputError(path, f"is not a readable checkpoint ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(path, "is not a madcell pretraining checkpoint")
    return state
