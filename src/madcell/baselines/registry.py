"""Baseline registry, timm style: ``@register_baseline("vae")`` on a class, ``get_baseline("vae", cfg)``.

Every baseline's defaults live in ``default.yaml`` under ``baselines.<name>``; ``cfg`` holds only
overrides and is deep-merged over them (unknown keys are an error, as everywhere in madcell).
"""

from __future__ import annotations

from typing import Callable, Mapping

from madcell.config import default_config, merge
from madcell.errors import InputError

_REGISTRY: dict[str, type] = {}


def register_baseline(name: str) -> Callable[[type], type]:
    """Class decorator adding a baseline under ``name``."""

    def deco(cls: type) -> type:
        if name in _REGISTRY:
            raise ValueError(f"baseline {name!r} is registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def list_baselines() -> list[str]:
    """Names of the registered baselines."""
    return sorted(_REGISTRY)


def baseline_config(name: str, cfg: Mapping | None = None) -> dict:
    """The full section of baseline ``name``: ``default.yaml`` <- ``cfg`` (plus the shared ``device``)."""
    if name not in _REGISTRY:
        raise InputError(None, f"unknown baseline '{name}' (known: {', '.join(list_baselines())})")
    section = default_config()["baselines"]
    base = dict(section[name])
    base.setdefault("device", section["device"])
    return merge(base, dict(cfg or {}), f"baselines.{name}")


def get_baseline(name: str, cfg: Mapping | None = None):
    """Instantiate baseline ``name`` with ``cfg`` overrides over its defaults."""
    full = baseline_config(name, cfg)
    return _REGISTRY[name](full)
