"""Frozen external encoder (UNI, DINOv2, any timm model) from a LOCAL weights file.

Nothing is downloaded: the file is read with timm's ``load_state_dict`` (safetensors / torch, nested
``model`` / ``state_dict`` keys, ``module.`` prefixes), its classifier head is dropped, and it is
handed to timm as the pretrained state dict, so the model's own checkpoint filter runs (DINOv2 key
conversion, position-embedding resampling to ``img_size``) and loading is strict: a file that does
not fit the architecture is an error, never a silently random encoder.

Channel handling:
  ``mode: rgb``       an RGB model sees 3 channels: ``rgb_channels`` (names or indices) or the first
                      three, cycled when the store has fewer (1 channel -> grey RGB, 2 -> [0, 1, 0]).
  ``mode: channels``  bag of channels (Cell-DINO style): each channel alone, replicated to 3 (or fed
                      as 1 channel, ``in_chans: 1``, timm sums the stem weights), CLS tokens concatenated.
Views are resized (bilinear, antialiased) to the model's input side and normalised with ``mean`` /
``std`` (null: the model's pretrained_cfg; ImageNet statistics for DINOv2, set them for UNI).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import timm
import torch
import torch.nn.functional as F

from madcell.baselines.common import Baseline, embed_batches
from madcell.baselines.registry import register_baseline
from madcell.data.source import ViewSource
from madcell.errors import InputError


def load_frozen_model(name: str, weights: str | Path, in_chans: int = 3, img_size: int | None = None,
                      model_kwargs: dict | None = None) -> torch.nn.Module:
    """timm model ``name`` (no head) with the weights of the local file ``weights``, in eval mode."""
    from timm.models import load_state_dict

    path = Path(weights)
    if not path.is_file():
        raise InputError(path, "frozen-encoder weights file does not exist (madcell never downloads weights)")
    try:
        sd = load_state_dict(str(path), use_ema=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user-input problem
        raise InputError(path, f"cannot be read as a weights file ({exc})") from exc
    probe = timm.models.get_pretrained_cfg(name)
    heads = (probe.classifier if probe is not None else None) or "head"
    for h in (heads,) if isinstance(heads, str) else heads:
        sd = {k: v for k, v in sd.items() if not k.startswith(h + ".")}
    kwargs = dict(model_kwargs or {})
    if img_size is not None:
        kwargs["img_size"] = int(img_size)
    overlay = dict(state_dict=sd, file=None, url=None, hf_hub_id=None, custom_load=False, num_classes=0)
    try:
        # with this overlay timm loads the in-memory state dict above (no url, no hub id): nothing is downloaded
        model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay, num_classes=0, in_chans=in_chans, **kwargs)
    except RuntimeError as exc:
        raise InputError(path, f"does not fit timm model '{name}' ({str(exc).splitlines()[0]})") from exc
    model.pretrained_cfg.pop("state_dict", None)
    return model.eval().requires_grad_(False)


@register_baseline("frozen")
class FrozenEncoder(Baseline):
    def fit(self, store: ViewSource, train_idx: np.ndarray | None = None) -> "FrozenEncoder":
        cfg = self.cfg
        if cfg["weights"] is None:
            raise InputError(None, "baselines.frozen.weights must name a local weights file")
        if cfg["mode"] not in ("rgb", "channels"):
            raise InputError(None, f"baselines.frozen.mode must be rgb or channels, not {cfg['mode']!r}")
        in_chans = 3 if cfg["mode"] == "rgb" else int(cfg["in_chans"])
        self.model = load_frozen_model(cfg["model"], cfg["weights"], in_chans, cfg["img_size"],
                                       cfg["model_kwargs"]).to(self.device)
        pc = self.model.pretrained_cfg
        self.side = int(cfg["img_size"] or pc.get("input_size", (3, 224, 224))[-1])
        mean = torch.tensor(cfg["mean"] or pc.get("mean", (0.485, 0.456, 0.406)), dtype=torch.float32)
        std = torch.tensor(cfg["std"] or pc.get("std", (0.229, 0.224, 0.225)), dtype=torch.float32)
        if in_chans == 1:
            mean, std = mean.mean(0, keepdim=True), std.mean(0, keepdim=True)
        self.mean, self.std = mean.view(1, -1, 1, 1).to(self.device), std.view(1, -1, 1, 1).to(self.device)
        self.rgb = self._rgb_indices(store)
        return self

    def _rgb_indices(self, store: ViewSource) -> list[int]:
        chosen = self.cfg["rgb_channels"]
        if chosen is None:
            return [i % store.n_channels for i in range(3)]
        if len(chosen) != 3:
            raise InputError(None, "baselines.frozen.rgb_channels must list exactly 3 channels")
        names = list(store.channel_names)
        out = []
        for c in chosen:
            if isinstance(c, int) and 0 <= c < len(names):
                out.append(c)
            elif str(c) in names:
                out.append(names.index(str(c)))
            else:
                raise InputError(store.path, f"has no channel {c!r} (channels: {', '.join(names)})")
        return out

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) 0-1 -> (B, D) in rgb mode, (B, C * D) in channels mode."""
        x = F.interpolate(x.to(self.device), size=(self.side, self.side), mode="bilinear", antialias=True,
                          align_corners=False)
        if self.cfg["mode"] == "rgb":
            return self.model((x[:, self.rgb] - self.mean) / self.std)
        k = self.mean.shape[1]
        return torch.cat([self.model((x[:, c : c + 1].repeat(1, k, 1, 1) - self.mean) / self.std)
                          for c in range(x.shape[1])], dim=1)

    def embed(self, store: ViewSource) -> dict[str, np.ndarray]:
        views = ["morph", "micro"] if self.cfg["views"] == "both" else [self.cfg["views"]]
        bs = int(self.cfg["batch_size"])
        parts = {}
        for v in views:
            read = store.read_morph if v == "morph" else store.read_micro
            parts[v] = embed_batches(store, lambda idx: self._encode(torch.from_numpy(read(idx))), bs)
        if len(views) == 1:
            return {"": parts[views[0]]}
        return {"": np.concatenate([parts["morph"], parts["micro"]], 1), "_morph": parts["morph"], "_micro": parts["micro"]}
