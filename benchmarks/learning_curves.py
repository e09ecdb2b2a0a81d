"""Learning curves at equal optimiser steps: MAD against its controls, teacher scored at several lengths.

    python benchmarks/learning_curves.py --work /tmp/lc --datasets easy0 hard1 easy2 pancreas \
        --steps 250 1000 3000 --methods mad morph micro separate --deadline-min 110

Per dataset, each trained method (cpu-tiny; ``mad`` = both views, ``morph`` / ``micro`` = one view,
``separate`` = two backbones without cross-view terms) is trained ONCE to the longest length with the
same training seed, and its teacher is exported at every shorter length (``train.snapshot_steps``), so
every method is scored at the same optimiser steps whatever the machine's load. The concatenation
control [morph-only's morph CLS | micro-only's micro CLS] is built at each length; the untrained ViT
(the runs' own initial model: same seed, same architecture) and raw-pixel PCA are the floors.

Datasets: ``easyN`` / ``hardN`` = synthetic tissue of seed N (``--cells`` cells, fluorescence) and
``pancreas`` = ``../shared/data/xenium_pancreas_crop`` (real; labels = 10x graph-based clusters,
``cluster``). Views at cpu-tiny sizes (42 / 84 px).

Training goes in segments (``--segment`` steps, each ending with a checkpoint), so a run killed at any
point resumes where it stopped, and ``--deadline-min`` ends the session cleanly between segments: run
the same command again to go on. ``--phase score`` (or ``all``, after training) embeds every snapshot
(cached) and writes per-cell scores (:func:`protocol.cell_scores`) to ``scores/<dataset>.npz``; the
table (``--phase table``) gives per dataset and length each method's kNN accuracy, the context-only
within-type accuracy (synthetic) and cross-view Recall@5 (with chance), and MAD minus each control
with a paired 95 % bootstrap CI over cells.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from madcell.config import load_config
from madcell.train import pretrain

import protocol as P

VIEWS = {"mad": "both", "morph": "morph", "micro": "micro", "separate": "separate"}
PANCREAS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "xenium_pancreas_crop"
CLUSTERS = "analysis/clustering/gene_expression_graphclust/clusters.csv"


def dataset_store(work: Path, name: str, cells: int) -> tuple[Path, list[str]]:
    """(store, label columns) of dataset ``name``."""
    if name == "pancreas":
        store = work / name / "store.h5"
        if not store.exists():
            from madcell.views import prepare

            store.parent.mkdir(parents=True, exist_ok=True)
            prepare(PANCREAS, store, config="cpu-tiny", progress=False)
        return store, ["cluster"]
    difficulty, seed = name.rstrip("0123456789"), int(name[len(name.rstrip("0123456789")):])
    return P.synthetic_store(work, seed, difficulty, cells), ["cell_type", "niche", "subtype"]


def with_labels(adata, name: str):
    """The pancreas embedding gets the 10x clusters (joined on the cell id) as ``obs['cluster']``."""
    if name == "pancreas" and "cluster" not in adata.obs:
        import pandas as pd

        cl = pd.read_csv(PANCREAS / CLUSTERS, dtype={"Barcode": str}).set_index("Barcode")["Cluster"]
        # cells 10x left unclustered (17 of the crop) get no label: "" is missing for every probe
        adata.obs["cluster"] = cl.reindex(adata.obs_names.astype(str)).fillna("").astype(str).to_numpy()
    return adata


def recipe(method: str, steps: int, snapshots: list[int]) -> dict:
    cfg = load_config("cpu-tiny", {"train": {"views": VIEWS[method]}})
    # epochs high enough that max_steps decides (cpu-tiny's 30 epochs are only 2,520 steps on 3,000 cells)
    cfg["train"].update(max_steps=steps, epochs=10**6, time_budget_s=None, eval_every=250, snapshot_steps=snapshots)
    return cfg


def train(store: Path, run: Path, method: str, steps: list[int], segment: int, deadline: float) -> bool:
    """Advance one run by segments until it is finished (True) or the deadline passed (False)."""
    summary = run / "summary.json"
    while True:
        if summary.exists() and json.loads(summary.read_text()).get("finished"):
            planned = json.loads(summary.read_text())["planned_steps"]
            if planned != max(steps):
                raise SystemExit(f"{run} was planned for {planned} steps, not {max(steps)}: remove it and rerun")
            return True
        if time.time() > deadline:
            return False
        ck = run / "checkpoints" / "last.pt"
        done = int(torch.load(ck, map_location="cpu", weights_only=False)["it"]) if ck.exists() else 0
        stop = min(max(steps), (done // segment + 1) * segment)
        t0 = time.perf_counter()
        pretrain(store, None if ck.exists() else recipe(method, max(steps), sorted(steps)[:-1]), run,
                 resume=ck.exists(), progress=False, stop_after=stop)
        print(json.dumps({"run": str(run), "steps": stop, "segment_s": round(time.perf_counter() - t0, 1),
                          "at": datetime.now().isoformat(timespec="seconds")}), flush=True)


def export_at(run: Path, step: int, last: int) -> Path:
    return run / "export" if step == last else run / "snapshots" / f"step_{step:06d}"


def score(work: Path, name: str, methods: list[str], steps: list[int], cells: int) -> Path:
    """Embed every (method, length) and the floors; per-cell scores into ``scores/<name>.npz``."""
    import anndata as ad
    import numpy as np

    from madcell.baselines import run_baseline
    from madcell.data.store import ViewStore
    from madcell.embed.anndata_form import embedding_to_anndata, write_h5ad
    from madcell.embed.encode import embed_store
    from madcell.models.export import Encoder

    store, labels = dataset_store(work, name, cells)
    emb = work / name / "embeddings"
    rows: dict[str, np.ndarray] = {}

    def add(tag: str, adata) -> None:
        for metric, v in P.cell_scores(with_labels(adata, name), labels).items():
            rows[f"{tag}|{metric}"] = v

    for m in methods:
        for s in steps:
            add(f"{m}@{s}", P.embed_export(store, export_at(work / name / m, s, max(steps)), emb / f"{m}_{s}.h5ad", m))
    if "morph" in methods and "micro" in methods:
        for s in steps:
            out = emb / f"concat_{s}.h5ad"
            if not out.exists():
                a, b = ad.read_h5ad(emb / f"morph_{s}.h5ad"), ad.read_h5ad(emb / f"micro_{s}.h5ad")
                mm, uu = a.obsm["X_mad_morph"], b.obsm["X_mad_micro"]
                write_h5ad(embedding_to_anndata(ViewStore(store), {"X_mad": np.concatenate([mm, uu], 1),
                                                                   "X_mad_morph": mm, "X_mad_micro": uu}, "X_mad", "concat"), out)
            add(f"concat@{s}", ad.read_h5ad(out))
    out = emb / "untrained.h5ad"
    if not out.exists():
        vs = ViewStore(store)
        embed_store(vs, Encoder.untrained(recipe("mad", max(steps), []), vs.n_channels, vs.channel_names,
                                          seed=0), out, method="untrained", progress=False)
    add("untrained@0", ad.read_h5ad(out))
    if name != "pancreas":  # the generator's ground truth as the embedding: the ceilings
        from madcell.benchmark.oracle import write_oracle

        for features in ("morph", "context", "both"):
            out = emb / f"oracle_{features}.h5ad"
            if not out.exists():
                write_oracle(store, out, f"oracle_{features}", features)
            add(f"oracle_{features}@0", ad.read_h5ad(out))
    out = emb / "pixel_pca.h5ad"
    if not out.exists():
        run_baseline("pca", store, out, {"views": "both", "size": 16, "n_components": 128}, key="X_mad")
    add("pixel_pca@0", ad.read_h5ad(out))
    path = work / "scores" / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **rows)
    return path


EVAL = {"n_folds": 4, "seeds": [0], "bootstrap": 500, "mlp_probe": False}
CONTEXT_CLASSES = [c for pair in P.CONTEXT_ONLY.values() for c in pair]


def evaluate_all(work: Path, name: str, steps: list[int], n_genes: int, max_cells: int = 6000) -> Path:
    """Full evaluation (madcell.evaluate: kNN / linear / within-type accuracy, k-means ARI, gene Pearson,
    Recall@5, each with a bootstrap CI and the samples for pairing) of every embedding of ``name``, then
    MAD minus each control at the same length, paired (madcell.evaluate.compare). Cached per embedding.
    Datasets larger than ``max_cells`` (the pancreas crop) are scored on one seeded random subset of
    cells, the same for every embedding (the fast kNN / Recall scores use every cell)."""
    import anndata as ad
    import pandas as pd

    from madcell.config import load_config
    from madcell.evaluate import evaluate_anndata
    from madcell.evaluate.compare import difference_samples, verdict_table
    from madcell.evaluate.output import write_metrics

    cfg = load_config("cpu-tiny", {"evaluate": EVAL, "decode": {"max_epochs": 60, "patience": 8}})
    _, labels = dataset_store(work, name, 0)
    emb, mdir = work / name / "embeddings", work / name / "metrics"
    synthetic = name != "pancreas"
    for h5 in sorted(emb.glob("*.h5ad")):
        out = mdir / h5.stem
        if (out / "metrics.json").exists():
            continue
        adata = with_labels(ad.read_h5ad(h5), name)
        if adata.n_obs > max_cells:  # the same seeded subset for every embedding, so methods stay paired
            keep = np.sort(np.random.default_rng(0).choice(adata.n_obs, max_cells, replace=False))
            adata = adata[keep].copy()
        genes = "all"
        if adata.n_vars > n_genes:  # the most variable genes (log1p), same list for every method
            import scanpy as sc

            probe = ad.AnnData(X=adata.X.copy(), obs=adata.obs[[]], var=adata.var[[]])
            sc.pp.log1p(probe)
            sc.pp.highly_variable_genes(probe, n_top_genes=n_genes)
            genes = probe.var_names[probe.var["highly_variable"]].tolist()
        t0 = time.perf_counter()
        res = evaluate_anndata(adata, labels, genes, cfg,
                               within={"subtype": "cell_type"} if synthetic else None,
                               within_classes={"subtype": CONTEXT_CLASSES} if synthetic else None)
        write_metrics(res, out)
        print(json.dumps({"evaluated": str(out), "s": round(time.perf_counter() - t0, 1)}), flush=True)
    rows = []
    for s in steps:
        ref = mdir / f"mad_{s}"
        for control in ("morph", "micro", "separate", "concat"):
            if (mdir / f"{control}_{s}").exists():
                t = verdict_table([{control: difference_samples(ref, mdir / f"{control}_{s}")}])
                rows.append(t.assign(steps=s))
        if s == max(steps):
            for floor in ("untrained", "pixel_pca"):
                rows.append(verdict_table([{floor: difference_samples(ref, mdir / floor)}]).assign(steps=s))
    path = work / "scores" / f"{name}_verdicts.csv"
    pd.concat(rows, ignore_index=True).to_csv(path, index=False)
    return path


def table(work: Path, names: list[str], steps: list[int]) -> str:
    metrics = {"knn_cell_type": "cell type kNN", "knn_subtype": "subtype kNN", "knn_niche": "niche kNN",
               "within": "context-only within type", "knn_cluster": "10x cluster kNN", "recall5": "Recall@5"}
    lines = []
    for name in names:
        path = work / "scores" / f"{name}.npz"
        if not path.exists():
            continue
        z = dict(np.load(path))
        tags = list(dict.fromkeys(k.split("|")[0] for k in z))
        for t in tags:
            within = {k.split("|")[1]: v for k, v in z.items() if k.startswith(t + "|within_")}
            if within:
                z[f"{t}|within"] = P.within_mean(within)
        n = len(z[f"{tags[0]}|recall5"])
        present = [m for m in metrics if f"{tags[0]}|{m}" in z]
        lines += [f"\n#### {name} ({n} cells; Recall@5 chance {5 / n:.4f})\n",
                  "| method @ steps | " + " | ".join(metrics[m] for m in present) + " |", "|---|" + "---|" * len(present)]
        for t in tags:
            cells = []
            for m in present:
                if f"{t}|{m}" not in z:
                    cells.append("–")
                    continue
                v = z[f"{t}|{m}"]
                cell = f"{np.nanmean(v):.3f}"
                step = t.split("@")[1]
                ref = f"mad@{step}"
                if not t.startswith("mad@") and f"{ref}|{m}" in z:
                    d, lo, hi = P.paired_diff([z[f"{ref}|{m}"]], [v])
                    cell += f" (MAD {d:+.3f} [{lo:+.3f}, {hi:+.3f}])"
                elif t.endswith("@0") and f"mad@{max(steps)}|{m}" in z:
                    d, lo, hi = P.paired_diff([z[f"mad@{max(steps)}|{m}"]], [v])
                    cell += f" (MAD@{max(steps)} {d:+.3f} [{lo:+.3f}, {hi:+.3f}])"
                cells.append(cell)
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
        lines += full_tables(work, name, steps)
    return "\n".join(lines)


def full_tables(work: Path, name: str, steps: list[int]) -> list[str]:
    """madcell.evaluate's numbers per embedding (mean [95 % CI]) and the paired verdicts of MAD."""
    import pandas as pd

    from madcell.evaluate.compare import format_verdicts

    mdir, vpath = work / name / "metrics", work / "scores" / f"{name}_verdicts.csv"
    if not vpath.exists():
        return []
    label = "subtype" if name != "pancreas" else "cluster"
    cols = {f"labels.{label}.linear.accuracy": f"{label} linear", f"labels.{label}.kmeans.ari": f"{label} k-means ARI",
            f"labels.{label}.within_cell_type_selected.linear.accuracy": "context-only within type, linear",
            "genes.pearson": "gene Pearson", "retrieval.recall@5": "Recall@5"}
    n_eval = json.loads(next(mdir.glob("*/metrics.json")).read_text())["n_cells"]
    out = [f"\nmadcell.evaluate on {name} ({n_eval} cells, 4 spatial-block folds, 500 bootstrap resamples; "
           "mean [95 % CI]):\n"]
    frames = {d.name: pd.read_csv(d / "metrics.csv").set_index("metric") for d in sorted(mdir.iterdir())
              if (d / "metrics.csv").exists()}
    present = [c for c in cols if any(c in f.index for f in frames.values())]
    out += ["| embedding | " + " | ".join(cols[c] for c in present) + " |", "|---|" + "---|" * len(present)]
    for tag, f in frames.items():
        out.append(f"| {tag} | " + " | ".join(f"{f.loc[c, 'mean']:.3f} [{f.loc[c, 'lo']:.3f}, {f.loc[c, 'hi']:.3f}]"
                                             if c in f.index else "" for c in present) + " |")
    v = pd.read_csv(vpath)
    for s in steps:
        out += [f"\nPaired MAD − control at {s} steps ({name}):\n", format_verdicts(v[v["steps"] == s], "mad")]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--datasets", nargs="+", default=["easy0", "hard1", "easy2", "pancreas"])
    ap.add_argument("--methods", nargs="+", default=["mad", "morph", "micro"], choices=list(VIEWS))
    ap.add_argument("--steps", type=int, nargs="+", default=[250, 1000, 3000])
    ap.add_argument("--cells", type=int, default=3000)
    ap.add_argument("--segment", type=int, default=250, help="steps per resumable training segment")
    ap.add_argument("--deadline-min", type=float, default=110.0, help="stop starting new segments after this")
    ap.add_argument("--phase", choices=["train", "score", "table", "all"], default="all")
    ap.add_argument("--no-evaluate", action="store_true", help="skip the full madcell.evaluate pass (fast scores only)")
    ap.add_argument("--genes", type=int, default=50, help="gene decoders on at most this many most-variable genes")
    ap.add_argument("--eval-cells", type=int, default=6000, help="madcell.evaluate on at most this many cells (seeded subset)")
    ap.add_argument("--md", type=Path, default=Path(__file__).with_name("results") / "learning_curves.md")
    args = ap.parse_args()
    deadline = time.time() + 60 * args.deadline_min
    steps = sorted(args.steps)
    print(json.dumps({"start": datetime.now().isoformat(timespec="seconds"), "host": platform.node(),
                      "torch_threads": torch.get_num_threads(), "omp": os.environ.get("OMP_NUM_THREADS"),
                      "load_avg": os.getloadavg()}), flush=True)
    finished = True
    for name in args.datasets:  # one dataset after the other: each is scored as soon as it is trained
        done = True
        if args.phase in ("train", "all"):
            store, _ = dataset_store(args.work, name, args.cells)
            for m in args.methods:
                done &= train(store, args.work / name / m, m, steps, args.segment, deadline)
        finished &= done
        if args.phase in ("score", "all") and done:
            print(json.dumps({"scored": str(score(args.work, name, args.methods, steps, args.cells))}), flush=True)
        if args.phase in ("score", "all") and done and not args.no_evaluate:
            print(json.dumps({"verdicts": str(evaluate_all(args.work, name, steps, args.genes, args.eval_cells))}), flush=True)
        if not done:
            break
    if args.phase in ("table", "all"):
        head = (f"\n### {datetime.now():%Y-%m-%d} — {platform.machine()}, {torch.get_num_threads()} torch threads, "
                f"cpu-tiny, steps {steps}, methods {args.methods}\n")
        P.append_results(args.md, head + table(args.work, args.datasets, steps))
    if not finished:
        print("deadline reached: run the same command again to continue", flush=True)


if __name__ == "__main__":
    main()
