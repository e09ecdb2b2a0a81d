"""One configuration: every default lives in ``configs/default.yaml``; presets are thin overrides.

``load_config(name_or_path, overrides)`` deep-merges default.yaml <- preset <- overrides. A preset is
either a file path or the stem of a YAML file shipped in ``madcell/configs`` (``cpu-tiny``,
``vit-s``, ``paper-vitl14``, ...). Overrides are a nested dict or ``"section.key=value"`` strings
(values parsed as YAML). Unknown keys are an error, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from madcell.errors import InputError

CONFIG_PACKAGE = "madcell.configs"


def _read_yaml(path: Path | Any, label: str) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputError(label, f"is not valid YAML ({exc})") from exc
    except OSError as exc:
        raise InputError(label, f"cannot be read ({exc.strerror})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(label, "must hold a mapping of config sections")
    return data


def default_config() -> dict:
    """The full default configuration (a fresh copy)."""
    res = resources.files(CONFIG_PACKAGE).joinpath("default.yaml")
    return _read_yaml(res, "default.yaml")


def preset_names() -> list[str]:
    """Names of the presets shipped with madcell."""
    root = resources.files(CONFIG_PACKAGE)
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml") and p.name != "default.yaml")


def resolve_preset(name_or_path: str | Path) -> tuple[dict, str]:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise InputError(p, "config file does not exist")
        return _read_yaml(p, str(p)), str(p)
    res = resources.files(CONFIG_PACKAGE).joinpath(f"{name_or_path}.yaml")
    if not res.is_file():
        raise InputError(str(name_or_path), f"is neither a config file nor a preset ({', '.join(preset_names())})")
    return _read_yaml(res, f"{name_or_path}.yaml"), str(name_or_path)


# Keys (dotted from the config root) whose value must be a positive number / at least 2 when set.
POSITIVE = {
    "train.batch_size", "train.epochs", "train.max_steps", "train.lr", "train.log_every", "train.eval_every",
    "train.ckpt_every", "train.time_budget_s", "embed.batch_size", "embed.chunk_cells", "prepare.morph_size",
    "prepare.micro_size", "prepare.patch_size", "prepare.k_neighbors", "prepare.tile_size", "prepare.workers",
    "model.embed_dim", "model.depth", "model.num_heads", "model.patch_size", "head.n_layers", "head.out_dim",
    "head.hidden_dim", "head.bottleneck_dim", "augment.n_global", "decode.batch_size", "decode.max_epochs",
    "evaluate.bootstrap", "evaluate.knn_k", "niche.k_niches", "niche.batch_size", "synth.cells",
    "loss.student_temp", "loss.teacher_temp", "loss.warmup_teacher_temp",
}
AT_LEAST_TWO = {"evaluate.n_folds"}


def _check_value(where: str, base: Any, value: Any, label: str) -> None:
    """The override's type must match the default's (ints where the default is an int: ``2.7`` is not
    silently truncated later); null is always allowed (it unsets the key); a null default takes anything."""
    if value is None:
        return
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if where in POSITIVE and not value > 0:
            raise InputError(label, f"config key '{where}' must be positive, got {value!r}")
        if where in AT_LEAST_TWO and value < 2:
            raise InputError(label, f"config key '{where}' must be at least 2, got {value!r}")
    if base is None:
        return
    kind = (bool if isinstance(base, bool) else int if isinstance(base, int) else float if isinstance(base, float)
            else str if isinstance(base, str) else list if isinstance(base, list) else dict if isinstance(base, dict) else None)
    ok = {bool: lambda v: isinstance(v, bool),
          int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          str: lambda v: isinstance(v, str),
          list: lambda v: isinstance(v, (list, tuple)),
          dict: lambda v: isinstance(v, Mapping)}.get(kind, lambda v: True)
    if not ok(value):
        raise InputError(label, f"config key '{where}' must be {kind.__name__ if kind else type(base).__name__} "
                                f"(like its default {base!r}), got {value!r}")


def merge(base: dict, override: Mapping, label: str = "config", _prefix: str = "") -> dict:
    """Deep-merge ``override`` into a copy of ``base``; keys unknown to ``base`` are an error, and so is
    a value of another type than the default's or out of range (:data:`POSITIVE`)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        where = f"{_prefix}{key}"
        if key not in out:
            raise InputError(label, f"unknown config key '{where}'")
        if isinstance(out[key], dict) and isinstance(value, Mapping):
            out[key] = merge(out[key], value, label, where + ".")
        else:
            value = _numeric(out[key], value)
            _check_value(where, out[key], value, label)
            out[key] = copy.deepcopy(value)
    return out


def _numeric(base: Any, value: Any) -> Any:
    """YAML 1.1 reads ``1e-5`` (no dot) as a string: where the default is a number, such a string is the
    number it spells (``abc`` stays a string and fails the type check)."""
    if isinstance(value, str) and isinstance(base, (int, float)) and not isinstance(base, bool):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_overrides(items: Iterable[str]) -> dict:
    """Turn ``["train.lr=1e-4", "loss.alpha=0.5"]`` into a nested dict."""
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise InputError(None, f"override '{item}' must look like section.key=value")
        key, raw = item.split("=", 1)
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(raw)
    return out


def load_config(name_or_path: str | Path | None = None, overrides: Mapping | Iterable[str] | None = None) -> dict:
    """default.yaml <- preset (name or path) <- overrides."""
    cfg = default_config()
    if name_or_path is not None:
        preset, label = resolve_preset(name_or_path)
        cfg = merge(cfg, preset, label)
    if overrides:
        if not isinstance(overrides, Mapping):
            overrides = parse_overrides(overrides)
        cfg = merge(cfg, overrides, "overrides")
    return cfg


def save_config(cfg: Mapping, path: str | Path) -> None:
    from madcell.utils.atomic import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(dict(cfg), sort_keys=False))
