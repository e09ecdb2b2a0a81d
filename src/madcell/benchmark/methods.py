"""Producing one method's embedding of one dataset (cached): MAD runs, concatenations, baselines and
the ground-truth oracles of synthetic tissues (:mod:`.oracle`).

Every method ends as the same AnnData form (``obsm['X_<method>']``, parts ``_morph``/``_micro`` when
it has two views), so the evaluation that follows cannot tell the methods apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import anndata as ad
import numpy as np

from madcell.benchmark.cache import ArtefactCache, make_key
from madcell.benchmark.config import training_config
from madcell.data.source import ViewSource, open_views
from madcell.embed.anndata_form import embedding_to_anndata, write_h5ad

TRAIN_SECTIONS = ("model", "head", "loss", "augment", "train")


@dataclass
class Dataset:
    name: str       # e.g. easy-s0
    group: str      # rows of the summary are averaged within a group (e.g. the difficulty)
    store: Path
    key: str


def fit_indices(store: ViewSource, train_cfg: Mapping, fit_cells: str) -> np.ndarray | None:
    """Cells a fitted baseline may learn from: the training part of evaluate's first split (so the
    first split's test cells are never seen), or every cell (``all``)."""
    if fit_cells == "all":
        return None
    from madcell.evaluate.splits import make_splits

    probe = embedding_to_anndata(store, {"X_probe": np.zeros((len(store), 1), np.float32)}, "X_probe", "probe")
    return np.sort(make_splits(probe, train_cfg["evaluate"])[0].train)


def method_order(methods: Mapping[str, dict]) -> list[str]:
    """MAD runs and baselines first, then concatenations (which read the others)."""
    live = [n for n, s in methods.items() if s["enabled"]]
    return [n for n in live if methods[n]["kind"] != "concat"] + [n for n in live if methods[n]["kind"] == "concat"]


def _mad(name: str, spec: dict, ds: Dataset, bench: Mapping, cache: ArtefactCache, root: Path) -> tuple[Path, str]:
    from madcell.embed.encode import embed_store
    from madcell.models import Encoder
    from madcell.train import pretrain

    cfg = training_config(bench, spec["overrides"])
    run_key = make_key("mad-run", {s: cfg[s] for s in TRAIN_SECTIONS}, ds.key)
    run_dir = cache.get(root / "runs" / ds.name / name, run_key,
                        lambda p: pretrain(ds.store, cfg, p, progress=False), f"pretrain {name} on {ds.name}")
    key = make_key("mad-embed", run_key, cfg["embed"])

    def build(p: Path) -> None:
        embed_store(ds.store, Encoder.load(run_dir), p, method=name, key=f"X_{name}",
                    batch_size=int(cfg["embed"]["batch_size"]), chunk_cells=int(cfg["embed"]["chunk_cells"]),
                    precision=cfg["embed"]["precision"], progress=False)

    return cache.get(root / "embeddings" / ds.name / f"{name}.h5ad", key, build, f"embed {name} on {ds.name}"), key


def _baseline(name: str, spec: dict, ds: Dataset, bench: Mapping, cache: ArtefactCache, root: Path) -> tuple[Path, str]:
    from madcell.baselines import baseline_config, run_baseline

    bcfg = dict(spec["cfg"] or {})
    if spec["baseline"] == "untrained":  # the same ViT as MAD unless the method says otherwise
        bcfg.setdefault("preset", bench["config"]["preset"])
        bcfg.setdefault("overrides", bench["config"]["overrides"])
    fit_cells = spec["fit_cells"] or bench["fit_cells"]
    train_cfg = training_config(bench)
    key = make_key("baseline", spec["baseline"], baseline_config(spec["baseline"], bcfg), fit_cells,
                   train_cfg["evaluate"] if fit_cells == "train_fold" else None, ds.key)

    def build(p: Path) -> None:
        store = open_views(ds.store)
        run_baseline(spec["baseline"], store, p, bcfg, fit_indices(store, train_cfg, fit_cells), key=f"X_{name}")

    return cache.get(root / "embeddings" / ds.name / f"{name}.h5ad", key, build, f"{spec['baseline']} {name} on {ds.name}"), key


def _part(adata: ad.AnnData, view: str) -> np.ndarray:
    k = adata.uns["madcell"]["embedding_key"]
    return np.asarray(adata.obsm.get(f"{k}_{view}", adata.obsm[k]))


def _concat(name: str, spec: dict, ds: Dataset, done: Mapping[str, tuple[Path, str]], cache: ArtefactCache,
            root: Path) -> tuple[Path, str]:
    (pm, km), (pu, ku) = done[spec["morph"]], done[spec["micro"]]
    key = make_key("concat", km, ku)

    def build(p: Path) -> None:
        m, u = _part(ad.read_h5ad(pm), "morph"), _part(ad.read_h5ad(pu), "micro")
        k = f"X_{name}"
        adata = embedding_to_anndata(open_views(ds.store), {k: np.concatenate([m, u], 1), f"{k}_morph": m, f"{k}_micro": u},
                                     k, name, {"concat_of": f"{spec['morph']} (morph) + {spec['micro']} (micro)"})
        write_h5ad(adata, p)

    return cache.get(root / "embeddings" / ds.name / f"{name}.h5ad", key, build, f"concat {name} on {ds.name}"), key


def _oracle(name: str, spec: dict, ds: Dataset, cache: ArtefactCache, root: Path) -> tuple[Path, str]:
    from madcell.benchmark.oracle import write_oracle

    key = make_key("oracle", spec["features"], ds.key)
    return cache.get(root / "embeddings" / ds.name / f"{name}.h5ad", key,
                     lambda p: write_oracle(ds.store, p, name, spec["features"]), f"oracle {name} on {ds.name}"), key


def embed_method(name: str, spec: dict, ds: Dataset, bench: Mapping, cache: ArtefactCache, root: Path,
                 done: Mapping[str, tuple[Path, str]]) -> tuple[Path, str]:
    """(embedding path, its cache key) of method ``name`` on dataset ``ds``."""
    if spec["kind"] == "mad":
        return _mad(name, spec, ds, bench, cache, root)
    if spec["kind"] == "concat":
        return _concat(name, spec, ds, done, cache, root)
    if spec["kind"] == "oracle":
        return _oracle(name, spec, ds, cache, root)
    return _baseline(name, spec, ds, bench, cache, root)
