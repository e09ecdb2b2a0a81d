"""``madcell embed``: run a frozen encoder over a view store, chunk by chunk, resumably.

Embeddings are computed in chunks of ``chunk_cells`` cells; each finished chunk is saved atomically
under ``<out>.parts/``. A killed run restarts from the first missing chunk; when every chunk exists the
AnnData is assembled, written atomically and the parts folder removed. The parts' manifest records a
fingerprint of the model's weights and of the store, so a resume with another model (or after the
run was retrained in place, or the store re-prepared) is refused instead of mixing two embeddings.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from madcell.data.source import ViewSource, open_views
from madcell.embed.anndata_form import embedding_to_anndata, write_h5ad
from madcell.errors import InputError, NumericalError
from madcell.utils.atomic import atomic_path
from madcell.utils.device import autocast, pick_device
from madcell.utils.progress import Progress


class ViewEncoder(Protocol):
    def encode(self, morph: torch.Tensor, micro: torch.Tensor) -> dict[str, torch.Tensor]: ...
    def to(self, device: torch.device) -> "ViewEncoder": ...


def model_fingerprint(encoder) -> str | None:
    """Hash of the encoder's weights (and view sizes), or None for an encoder that is not a torch module."""
    import hashlib

    if not isinstance(encoder, torch.nn.Module):
        return None
    h = hashlib.sha256()
    for name, t in sorted(encoder.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    h.update(repr((getattr(encoder, "morph_size", None), getattr(encoder, "micro_size", None))).encode())
    return h.hexdigest()[:16]


def check_finite(store: ViewSource, emb: dict[str, np.ndarray], start: int) -> None:
    """NaN/Inf embedding rows are never written: bad pixels in the store are the store's fault (InputError,
    naming the cells), a finite input that gives a non-finite embedding is the model's (NumericalError)."""
    bad = np.flatnonzero(~np.all([np.isfinite(v).all(axis=1) for v in emb.values()], axis=0))
    if not len(bad):
        return
    idx = start + bad
    ids = [str(c) for c in store.cell_ids[idx[:5]]]
    if not (np.isfinite(store.read_morph(idx)).all() and np.isfinite(store.read_micro(idx)).all()):
        raise InputError(store.path, f"{len(idx)} cell(s) have NaN/Inf pixels in their views (e.g. {ids}); "
                                     "re-prepare the store from a clean image")
    raise NumericalError(f"the model gives non-finite embeddings for {len(idx)} cell(s) of {store.path} with finite "
                       f"views (e.g. {ids}): its weights are broken (a diverged run?)")


def store_fingerprint(store: ViewSource) -> str:
    """The store file's identity: path, size and modification time (a re-prepared store differs)."""
    st = Path(store.path).stat()
    return f"{Path(store.path).resolve()}:{st.st_size}:{st.st_mtime_ns}"


def warn_view_sizes(store: ViewSource, encoder) -> None:
    """Warn when the store's views are cut at other sides than the training store's: the encoder
    resizes them to its training sizes, so every cell is then seen at another scale than in training."""
    trained = getattr(encoder, "store_sizes", None)
    here = (int(store.morph_size), int(store.micro_size))
    if trained and tuple(trained) != here:
        warnings.warn(f"{store.path}: views are {here[0]}/{here[1]} px (morph/micro) but the model was trained "
                      f"on a store cut at {trained[0]}/{trained[1]} px; they are resized to the model's input, "
                      "so cells appear at another scale than in training. Prepare this store with the same "
                      "view sizes (prepare.morph_size / prepare.micro_size) as the training store.")


@torch.no_grad()
def encode_views(store: ViewSource, encoder: ViewEncoder, idx: np.ndarray, batch_size: int,
                 device: torch.device, precision: str) -> dict[str, np.ndarray]:
    """Per-view CLS embeddings (float32) of the cells ``idx``."""
    parts: dict[str, list[np.ndarray]] = {"morph": [], "micro": []}
    for s in range(0, len(idx), batch_size):
        b = idx[s : s + batch_size]
        morph = torch.from_numpy(store.read_morph(b)).to(device)
        micro = torch.from_numpy(store.read_micro(b)).to(device)
        with autocast(device, precision):
            out = encoder.encode(morph, micro)
        for view in parts:
            parts[view].append(out[view].float().cpu().numpy())
    return {v: np.concatenate(p) for v, p in parts.items()}


def _prepare_parts(parts_dir: Path, manifest: dict) -> None:
    """The chunk folder of this job: refused if it holds another model's / store's chunks, cleared
    if it holds another layout's, created with its manifest."""
    mf = parts_dir / "manifest.json"
    if parts_dir.exists() and mf.exists():
        old = json.loads(mf.read_text())
        for what in ("model_fingerprint", "store_fingerprint"):
            if old.get(what) != manifest[what]:
                raise InputError(parts_dir, f"holds the chunks of an interrupted embedding by another "
                                            f"{what.split('_')[0]} ({old.get(what)} vs {manifest[what]}); resuming "
                                            "would mix the two: delete that folder or choose another --out")
    if parts_dir.exists() and (not mf.exists() or json.loads(mf.read_text()) != manifest):
        shutil.rmtree(parts_dir)  # parts of another layout (chunk size, ...) of the same job: start over
    parts_dir.mkdir(parents=True, exist_ok=True)
    mf.write_text(json.dumps(manifest))


def embed_store(
    store: str | Path | ViewSource,
    encoder: ViewEncoder,
    out: str | Path,
    method: str = "mad",
    key: str = "X_mad",
    batch_size: int = 256,
    chunk_cells: int = 8192,
    device: str | None = None,
    precision: str = "auto",
    info: dict | None = None,
    progress: bool = True,
    labels: str | Path | None = None,
):
    """Embed every cell of ``store`` with ``encoder`` and write the AnnData form to ``out``.

    ``obsm[key]`` = [morph CLS | micro CLS], ``obsm[key+'_morph']`` and ``obsm[key+'_micro']`` the parts.
    ``labels``: a cell-annotation table (:func:`madcell.io.annotations.read_annotations`) whose columns
    are joined onto ``obs`` by cell id; it is read (and a bad one refused) before any cell is embedded,
    and how many cells it matched goes to ``uns['madcell']['labels']``. Returns the AnnData.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) the chunks are dealt round-robin to the processes, each
    writes its own, and rank 0 merges them into the same ``.h5ad`` a single process writes (other
    ranks return None). An interrupted sharded run resumes with any number of processes.
    """
    table = None
    if labels is not None:
        from madcell.io.annotations import read_annotations

        table = read_annotations(labels)
    from madcell.train import distributed as D

    store = open_views(store)
    warn_view_sizes(store, encoder)
    out = Path(out)
    dev = pick_device(device)
    rank = D.init_distributed("ddp", dev.type)  # under torchrun: one shard of the chunks per process
    if dev.type == "cuda" and rank.enabled:
        dev = torch.device("cuda", rank.local_rank)
    encoder = encoder.to(dev)
    n = len(store)
    parts_dir = out.with_name(out.name + ".parts")
    manifest = {"store": str(Path(store.path).resolve()), "n_cells": n, "chunk_cells": chunk_cells,
                "method": method, "key": key, "store_fingerprint": store_fingerprint(store),
                "model_fingerprint": model_fingerprint(encoder)}
    if rank.is_main:
        _prepare_parts(parts_dir, manifest)
    D.barrier(rank)

    starts = list(range(0, n, chunk_cells))
    mine = starts[rank.rank::rank.world]
    with Progress(f"embed {method}" + (f" (rank 0 of {rank.world})" if rank.enabled else ""),
                  sum(min(s + chunk_cells, n) - s for s in mine), enabled=progress and rank.is_main) as bar:
        for s in mine:
            part = parts_dir / f"chunk_{s:010d}.npz"
            stop = min(s + chunk_cells, n)
            if not part.exists():
                emb = encode_views(store, encoder, np.arange(s, stop), batch_size, dev, precision)
                check_finite(store, emb, s)
                with atomic_path(part) as tmp:
                    with open(tmp, "wb") as fh:
                        np.savez(fh, **emb)
            bar.advance(stop - s)
    D.barrier(rank)  # every shard written
    if not rank.is_main:
        D.barrier(rank)
        return None

    chunks = [np.load(parts_dir / f"chunk_{s:010d}.npz") for s in starts]
    morph = np.concatenate([c["morph"] for c in chunks])
    micro = np.concatenate([c["micro"] for c in chunks])
    embeddings = {key: np.concatenate([morph, micro], axis=1), f"{key}_morph": morph, f"{key}_micro": micro}
    adata = embedding_to_anndata(store, embeddings, key=key, method=method, info=info)
    if table is not None:
        from madcell.io.annotations import annotate_anndata

        adata.uns["madcell"]["labels"] = {"file": str(labels), **annotate_anndata(adata, labels, table)}
    write_h5ad(adata, out)
    shutil.rmtree(parts_dir, ignore_errors=True)
    D.barrier(rank)  # the merged file is there before any rank returns
    return adata
