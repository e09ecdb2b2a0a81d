"""The config a run trains with: a new run's own (with ``--max-steps`` / ``--init-weights`` applied) or,
on ``--resume``, the one saved in its checkpoint with the few schedule keys a resumed run may change."""

from __future__ import annotations

import copy
from pathlib import Path

from madcell.errors import InputError
from madcell.train.checkpoint import load_checkpoint

# Keys a resumed run may change (``resume_overrides``): the optimiser's and the teacher's schedules and
# the logging cadence, e.g. a lower learning rate after the NaN guard stopped a run. Nothing that
# changes the model, the data order or the crops.
RESUMABLE = {
    "train": {"lr", "min_lr", "warmup_frac", "weight_decay", "weight_decay_end", "momentum_teacher",
              "momentum_teacher_end", "clip_grad", "log_every", "eval_every", "ckpt_every",
              "collapse_patience", "collapse_frac", "collapse_min_step"},
    "loss": {"teacher_temp", "warmup_teacher_temp", "warmup_teacher_temp_frac"},
}


def _with_defaults(cfg: dict, defaults: dict) -> dict:
    """``cfg`` with every key it lacks taken from ``defaults`` (recursively); present values are kept."""
    for k, v in defaults.items():
        if k not in cfg:
            cfg[k] = copy.deepcopy(v)
        elif isinstance(v, dict) and isinstance(cfg[k], dict):
            _with_defaults(cfg[k], v)
    return cfg


def resume_config(saved: dict, overrides: dict | None) -> dict:
    """The run's saved config with the allowed ``overrides`` applied (type-checked like any override).
    Keys the saved config lacks (a run checkpointed by an older madcell) take today's defaults."""
    from madcell.config import default_config, merge

    cfg = _with_defaults(copy.deepcopy(saved), default_config())
    if not overrides:
        return cfg
    bad = [f"{sec}.{k}" if isinstance(d, dict) else sec for sec, d in overrides.items()
           for k in (d if isinstance(d, dict) else [None]) if k not in RESUMABLE.get(sec, ())]
    if bad:
        allowed = ", ".join(f"{s}.{k}" for s, ks in RESUMABLE.items() for k in sorted(ks))
        raise InputError("--set", f"{', '.join(bad)} cannot change when resuming (allowed: {allowed})")
    return merge(cfg, overrides, "--set on resume")


def run_config(cfg: dict, out_dir: Path, ckpt_path: Path, resume: bool, max_steps: int | None,
               init_weights, overrides: dict | None) -> tuple[dict, dict | None]:
    """(config, checkpoint state or None) of the run in ``out_dir``."""
    if resume:
        state = load_checkpoint(ckpt_path)
        return resume_config(state["cfg"], overrides), state
    if ckpt_path.exists():
        raise InputError(out_dir, "already holds a run (checkpoints/last.pt); pass --resume or choose another --out")
    cfg = copy.deepcopy(cfg)
    if max_steps is not None:
        cfg["train"]["max_steps"] = int(max_steps)
    if init_weights is not None:
        cfg["model"]["init_weights"] = str(init_weights)
    return cfg, None
