"""The exported teacher and the :class:`Encoder` that every downstream step (``madcell embed``) uses.

An export directory holds ``teacher.safetensors`` (backbone weights only, keys prefixed by the
backbone name: ``shared.*`` or ``morph.*``/``micro.*``) and ``model.json`` (views mode, architecture,
the view sizes the model was trained at, channel names, embedding width). The head is not exported:
MAD embeds a cell by its CLS tokens, never by prototype scores.

Every views mode yields BOTH parts of the embedding: in ``morph``/``micro``/``exclusive`` mode the one
shared backbone also encodes the view it was not (or only as teacher) trained on, so the concatenated
``[morph, micro]`` embedding and the ablations have the same shape; ``separate`` uses each view's own
backbone. :meth:`Encoder.untrained` builds the same architecture at random initialisation (the
"untrained ViT" control; ``model.init_weights`` is deliberately ignored there).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from madcell.errors import InputError
from madcell.models.backbone import backbone_from_spec
from madcell.models.multiview import VIEWS, MultiViewNet, build_multiview
from madcell.utils.atomic import atomic_path, atomic_write_text

WEIGHTS_NAME = "teacher.safetensors"
META_NAME = "model.json"
FORMAT = "madcell-encoder/1"


def _train_sizes(cfg: Mapping[str, Any], morph_size: int | None, micro_size: int | None) -> tuple[int, int]:
    aug, prep = cfg.get("augment", {}), cfg.get("prepare", {})
    m = morph_size or aug.get("morph_size") or prep["morph_size"]
    u = micro_size or aug.get("micro_size") or prep["micro_size"]
    return int(m), int(u)


def export_teacher(
    teacher: MultiViewNet,
    cfg: Mapping[str, Any],
    channel_names: Sequence[str],
    out_dir: str | Path,
    morph_size: int | None = None,
    micro_size: int | None = None,
    store_sizes: tuple[int, int] | None = None,
) -> Path:
    """Write ``out_dir/teacher.safetensors`` + ``out_dir/model.json`` atomically; returns ``out_dir``.

    ``store_sizes``: (morph, micro) view sides of the store the model was trained on, so that embedding
    a store cut at other sizes (another field of view per pixel of the model) can be warned about.

    The training view sizes are ``morph_size``/``micro_size`` when given (pass the resolved sizes when
    ``augment.*_size`` is null), else ``augment.*_size``, else ``prepare.*_size``.
    """
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if len(channel_names) != teacher.spec["in_chans"]:
        raise ValueError(f"{len(channel_names)} channel names for a {teacher.spec['in_chans']}-channel model")
    tensors = {
        f"{name}.{k}": v.detach().to("cpu", torch.float32).contiguous()
        for name, vit in teacher.backbones.items()
        for k, v in vit.state_dict().items()
    }
    m, u = _train_sizes(cfg, morph_size, micro_size)
    meta = {
        "format": FORMAT,
        "views_mode": teacher.views_mode,
        "backbone": dict(teacher.spec),
        "morph_size": m,
        "micro_size": u,
        "channel_names": [str(c) for c in channel_names],
        "embed_dim": teacher.embed_dim,
        **({"store_sizes": [int(v) for v in store_sizes]} if store_sizes else {}),
    }
    with atomic_path(out_dir / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
    atomic_write_text(out_dir / META_NAME, json.dumps(meta, indent=2))
    return out_dir


def _find_export(path: Path) -> Path:
    if path.is_file():
        path = path.parent
    if (path / META_NAME).is_file():
        return path
    found = sorted(p.parent for p in path.glob(f"*/{META_NAME}") if (p.parent / WEIGHTS_NAME).is_file())
    if len(found) == 1:
        return found[0]
    if not path.exists():
        raise InputError(path, "does not exist")
    if not found:
        raise InputError(path, f"holds no exported teacher ({META_NAME} + {WEIGHTS_NAME})")
    raise InputError(path, f"holds several exported teachers ({', '.join(p.name for p in found)}); name one")


class Encoder(nn.Module):
    """Frozen image encoder: ``encode(morph, micro) -> {"morph": (B, D), "micro": (B, D)}``."""

    def __init__(
        self,
        backbones: Mapping[str, nn.Module],
        views_mode: str,
        spec: Mapping[str, Any],
        morph_size: int,
        micro_size: int,
        channel_names: Sequence[str],
        store_sizes: Sequence[int] | None = None,
    ):
        super().__init__()
        self.backbones = nn.ModuleDict(dict(backbones))
        self.views_mode = views_mode
        self.spec = dict(spec)
        self.morph_size, self.micro_size = int(morph_size), int(micro_size)
        self.channel_names = list(channel_names)
        self.store_sizes = tuple(int(v) for v in store_sizes) if store_sizes else None
        self.requires_grad_(False)
        self.eval()

    @property
    def embed_dim(self) -> int:
        return int(self.spec["embed_dim"])

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @classmethod
    def load(cls, path: str | Path) -> "Encoder":
        """Load from an export directory, a run directory holding one, or either of its two files."""
        from safetensors.torch import load_file

        root = _find_export(Path(path))
        try:
            meta = json.loads((root / META_NAME).read_text())
            spec, mode = meta["backbone"], meta["views_mode"]
            sd = load_file(str(root / WEIGHTS_NAME), device="cpu")
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own SafetensorError for a corrupt file
            raise InputError(root, f"exported teacher cannot be read ({type(exc).__name__}: {exc})") from exc
        names = ("morph", "micro") if mode == "separate" else ("shared",)
        backbones = {}
        for name in names:
            vit = backbone_from_spec(spec)
            part = {k[len(name) + 1:]: v for k, v in sd.items() if k.startswith(name + ".")}
            try:
                vit.load_state_dict(part, strict=True)
            except RuntimeError as exc:
                raise InputError(root / WEIGHTS_NAME, f"does not match {META_NAME} ({exc})") from exc
            backbones[name] = vit
        return cls(backbones, mode, spec, meta["morph_size"], meta["micro_size"], meta["channel_names"],
                   meta.get("store_sizes"))

    @classmethod
    def untrained(cls, cfg: Mapping[str, Any], in_chans: int, channel_names: Sequence[str], seed: int = 0) -> "Encoder":
        """The same architecture at random initialisation (seeded), without any pretrained weights."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build_multiview(cfg, in_chans)
        m, u = _train_sizes(cfg, None, None)
        return cls(dict(net.backbones.items()), net.views_mode, net.spec, m, u, channel_names)

    def backbone_for(self, view: str) -> nn.Module:
        if view not in VIEWS:
            raise ValueError(f"view must be 'morph' or 'micro', got {view!r}")
        return self.backbones[view] if self.views_mode == "separate" else self.backbones["shared"]

    def _prepare(self, x: torch.Tensor, size: int, view: str) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.spec["in_chans"]:
            raise InputError(None, f"{view} images have shape {tuple(x.shape)}; the encoder expects (B, {self.spec['in_chans']}, H, W)")
        x = x.to(self.device)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return x

    @torch.no_grad()
    def encode(self, morph: torch.Tensor, micro: torch.Tensor) -> dict[str, torch.Tensor]:
        """CLS embeddings of both views; inputs 0-1 floats (or uint8), resized to the training sizes."""
        self.eval()
        return {
            "morph": self.backbone_for("morph")(self._prepare(morph, self.morph_size, "morph")),
            "micro": self.backbone_for("micro")(self._prepare(micro, self.micro_size, "micro")),
        }
