"""MAD end to end through the Python API on a small synthetic tissue (about 2 minutes on 2 CPU cores).

    python examples/mad_synthetic.py --out /tmp/mad_example

synthetic tissue -> view store -> MAD pretraining (cpu-tiny, short budget) -> embedding AnnData ->
evaluation with CIs -> UMAP + Leiden with scanpy. Each step is also a CLI command (see README).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import anndata as ad

from madcell.analysis import cluster, umap
from madcell.config import load_config
from madcell.embed import embed_store
from madcell.evaluate import evaluate_anndata
from madcell.models import Encoder
from madcell.report import fmt_ci
from madcell.synthetic import make_tissue
from madcell.train import pretrain
from madcell.views import prepare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("mad_example"))
    ap.add_argument("--cells", type=int, default=800)
    ap.add_argument("--seconds", type=float, default=45.0, help="pretraining wall-time budget")
    args = ap.parse_args()

    tissue = make_tissue(args.out / "tissue", n_cells=args.cells, seed=0)
    store = prepare(tissue, args.out / "views.h5", config="cpu-tiny", progress=False)
    cfg = load_config("cpu-tiny", {"train": {"time_budget_s": args.seconds}})
    pretrain(store, cfg, args.out / "run", progress=False)
    adata = embed_store(store, Encoder.load(args.out / "run"), args.out / "emb.h5ad", progress=False)

    res = evaluate_anndata(adata, ["cell_type", "subtype"], "all", cfg)
    for label in ("cell_type", "subtype"):
        print(f"{label}: kNN accuracy {fmt_ci(res['labels'][label]['knn']['accuracy'])}")
    print(f"genes: mean per-gene Pearson {fmt_ci(res['genes']['pearson'])}")

    umap(adata, "X_mad")
    cluster(adata, "X_mad", method="leiden")
    print(adata)
    ad.AnnData.write_h5ad(adata, args.out / "emb_analysed.h5ad")


if __name__ == "__main__":
    main()
