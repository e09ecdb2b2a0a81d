"""Saving decoders: ``<name>.pt`` (torch state dict, incl. the input standardiser) next to
``<name>.json`` (kind, sizes, classes or genes, target transform, training history). The JSON is
what a user reads to know what a decoder predicts; both are written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from madcell.errors import InputError
from madcell.utils.atomic import atomic_path, atomic_write_text


def save_decoder(model: torch.nn.Module, meta: dict, folder: str | Path, name: str) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / f"{name}.pt") as tmp:
        torch.save(model.state_dict(), tmp)
    atomic_write_text(folder / f"{name}.json", json.dumps(meta, indent=2))
    return folder / f"{name}.json"


def load_decoder_files(folder: str | Path, name: str) -> tuple[dict, dict]:
    folder = Path(folder)
    meta_p, state_p = folder / f"{name}.json", folder / f"{name}.pt"
    for p in (meta_p, state_p):
        if not p.exists():
            raise InputError(p, "decoder file does not exist")
    try:
        meta = json.loads(meta_p.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(meta_p, f"is not valid JSON ({exc})") from exc
    state = torch.load(state_p, map_location="cpu", weights_only=True)
    return meta, state
