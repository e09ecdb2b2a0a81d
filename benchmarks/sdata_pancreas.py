"""The pancreas crop as SpatialData: the SpatialData path gives the same view store as madcell's own
Xenium reader, and the exported zarr opens with the table attached (issue 15's Must-show).

Steps, each timed: write the Xenium folder as a SpatialData zarr (``xenium_to_sdata.py``: multiscale
image, polygon shapes, expression table with 10x's clusters) -> ``prepare`` the folder and the zarr
with one config -> compare the stores cell by cell (ids, centroids, both views) -> embed the
SpatialData store with an untrained tiny ViT (the export is under test, not the model) -> ``export``
into a new zarr (image pyramid + mask + table) and into the source zarr -> ``spatialdata.read_zarr``
each and join the table to its element.

Run: ``python benchmarks/sdata_pancreas.py ../shared/data/xenium_pancreas_crop --work /tmp/sd_bench
--out benchmarks/results/spatialdata_pancreas.md`` (add ``--set prepare.morph_size=42`` etc. to
change the view config).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from xenium_to_sdata import xenium_to_spatialdata  # noqa: E402

TINY = {"model": {"arch": "custom", "embed_dim": 64, "depth": 2, "num_heads": 4, "layer_scale": None},
        "head": {"n_layers": 2, "hidden_dim": 64, "bottleneck_dim": 32, "out_dim": 128}}


def size_mb(path: Path) -> float:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def timed(results: dict, name: str, fn):
    t = time.perf_counter()
    out = fn()
    results[name] = round(time.perf_counter() - t, 1)
    print(f"{name}: {results[name]} s", flush=True)
    return out


def compare_stores(a: Path, b: Path, chunk: int = 1024) -> dict:
    """Cells, centroids and views of two stores, matched by cell id."""
    from madcell.data.store import ViewStore

    with ViewStore(a) as va, ViewStore(b) as vb:
        ia, ib = np.asarray(va.cell_ids).astype(str), np.asarray(vb.cell_ids).astype(str)
        out = {"cells_a": len(ia), "cells_b": len(ib), "same_ids": set(ia) == set(ib)}
        pos = {c: i for i, c in enumerate(ib)}
        order = np.array([pos[c] for c in ia])
        oa, ob = va.obs, vb.obs.iloc[order]
        out["centroid_px_max_diff"] = float(np.abs(oa[["x_px", "y_px"]].to_numpy() - ob[["x_px", "y_px"]].to_numpy()).max())
        worst = {"morph": 0, "micro": 0}
        differing = {"morph": 0, "micro": 0}
        for s in range(0, len(ia), chunk):
            idx_a = np.arange(s, min(s + chunk, len(ia)))
            idx_b = order[idx_a]
            sort = np.argsort(idx_b)
            for view, read_a, read_b in (("morph", va.read_morph, vb.read_morph), ("micro", va.read_micro, vb.read_micro)):
                xa = read_a(idx_a[sort], raw=True).astype(np.int16)
                xb = read_b(idx_b[sort], raw=True).astype(np.int16)
                d = np.abs(xa - xb)
                worst[view] = max(worst[view], int(d.max()))
                differing[view] += int((d.reshape(len(d), -1).max(1) > 1).sum())
        out.update({f"{v}_max_diff_255": worst[v] for v in worst})
        out.update({f"{v}_cells_over_1_255": differing[v] for v in differing})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("xenium", type=Path)
    ap.add_argument("--work", type=Path, default=Path("/tmp/sd_bench"))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    import anndata as ad
    import spatialdata as sd

    from madcell.config import load_config
    from madcell.embed import embed_store
    from madcell.export import export_spatialdata
    from madcell.models import Encoder
    from madcell.views import prepare

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    w, t = args.work, {}
    zarr = timed(t, "write SpatialData (by hand)", lambda: xenium_to_spatialdata(args.xenium, w / "pancreas.zarr", None, (0, 0), [2, 2]))
    sizes = {"Xenium folder": size_mb(args.xenium), "SpatialData zarr": size_mb(zarr)}
    over = list(args.overrides)
    timed(t, "prepare Xenium folder", lambda: prepare(args.xenium, w / "xenium.h5", format="xenium", overrides=over or None, progress=False))
    timed(t, "prepare SpatialData zarr", lambda: prepare(zarr, w / "sdata.h5", overrides=over or None, progress=False))
    sizes.update({"store from Xenium": size_mb(w / "xenium.h5"), "store from SpatialData": size_mb(w / "sdata.h5")})
    cmp = timed(t, "compare stores", lambda: compare_stores(w / "xenium.h5", w / "sdata.h5"))
    from madcell.data.store import ViewStore

    with ViewStore(w / "sdata.h5") as vs:
        names, level = vs.channel_names, vs.slides[next(iter(vs.slides))]["reader"].get("level")
        cfg = load_config(None, {**TINY, "augment": {"morph_size": vs.morph_size, "micro_size": vs.micro_size}})
    enc = Encoder.untrained(cfg, len(names), names, seed=0)
    adata = timed(t, "embed (untrained tiny ViT)", lambda: embed_store(w / "sdata.h5", enc, w / "emb.h5ad", progress=False))
    timed(t, "export new zarr (image + mask + table)", lambda: export_spatialdata(adata, out=w / "export.zarr", progress=print))
    timed(t, "export into the source zarr", lambda: export_spatialdata(ad.read_h5ad(w / "emb.h5ad"), into=zarr, progress=print))
    sizes.update({"exported zarr": size_mb(w / "export.zarr"), "SpatialData zarr + table": size_mb(zarr)})
    back = {}
    for name, path in (("export.zarr", w / "export.zarr"), ("pancreas.zarr", zarr)):
        s = sd.read_zarr(path)
        tab = s.tables["madcell"]
        region = tab.uns["spatialdata_attrs"]["region"]
        el = s.labels[region] if region in s.labels else s.shapes[region]
        if region in s.shapes:
            matched = int(tab.obs["instance_id"].astype(str).isin(el.index.astype(str)).sum())
        else:
            arr = np.asarray((el["scale0"]["image"] if hasattr(el, "children") and len(el.children) else el).data)
            matched = int(np.isin(tab.obs["instance_id"].to_numpy(), np.unique(arr)).sum())
        back[name] = {"tables": sorted(s.tables), "region": region, "rows": tab.n_obs, "rows_matching_an_instance": matched,
                      "obsm": sorted(tab.obsm)}
    res = {"times_s": t, "sizes_mb": {k: round(v, 1) for k, v in sizes.items()}, "compare": cmp, "read_back": back,
           "level": level, "overrides": over, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    print(json.dumps(res, indent=1))
    if args.out:
        lines = [f"# Pancreas crop as SpatialData (issue 15)\n", f"{res['date']}, {res['machine']}; config overrides: {over or 'none (default 70/224)'}; "
                 f"pyramid level read: {level}.\n", "| step | s |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in t.items()]
        lines += ["", "| artefact | MB |", "|---|---|"] + [f"| {k} | {v} |" for k, v in res["sizes_mb"].items()]
        lines += ["", "| store comparison | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in cmp.items()]
        lines += ["", "| read back | tables | region | rows | rows matching an instance |", "|---|---|---|---|---|"]
        lines += [f"| {k} | {', '.join(v['tables'])} | {v['region']} | {v['rows']} | {v['rows_matching_an_instance']} |" for k, v in back.items()]
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
