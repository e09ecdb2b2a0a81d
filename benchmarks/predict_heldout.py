"""Image-only prediction of a held-out part of a real section (``madcell predict``'s use case).

    python benchmarks/predict_heldout.py --emb mad=RUN/embedding.h5ad [--emb untrained=U.h5ad ...] --out DIR

Each embedding AnnData (same cells, with measured expression and a label column, e.g. ``madcell run``'s
``embedding.h5ad`` of ``../shared/data/xenium_pancreas_crop``) is split at the median x into a left
(training) and a right (held-out) half. On the left half only: gene decoders (all genes) and a label
decoder (``--label``), and the niche teacher + student (``madcell niche``: niches from the label's
neighbourhood composition). The right half then goes through :func:`madcell.predict.predict_anndata`
with its expression unused until scoring: per-gene Pearson r of predicted vs measured (log1p counts),
label accuracy, and the student's niches against the teacher's niches computed on the right half's
own labels. With several embeddings, the per-gene r of the first minus each other's, paired over
genes (bootstrap 95 % CI). Caveat, written into the results: the encoder's self-supervised pretraining
saw the images (never the expression) of both halves.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime
from pathlib import Path

import numpy as np

import protocol as P


def halves(path: Path):
    import anndata as ad

    a = ad.read_h5ad(path)
    x = np.asarray(a.obsm["spatial"])[:, 0]
    cut = float(np.median(x))
    return a[x < cut].copy(), a[x >= cut].copy(), cut


def one(name: str, path: Path, out: Path, label: str, k: int) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from madcell.config import load_config
    from madcell.decode import decode_anndata
    from madcell.niche import run_niche
    from madcell.predict import predict_anndata

    left, right, cut = halves(path)
    cfg = load_config(None, {"decode": {"cross_fit": 0}})  # the right half is the held-out test
    t0 = time.perf_counter()
    decode_anndata(left, [label], "all", cfg, None, out / name / "decoders")
    ncfg = {"niche": {"cell_type_col": label, "k_niches": k, "heldout_frac": 0.2}}
    run_niche(left, ncfg, out_dir=out / name / "niche_left")
    fit_s = time.perf_counter() - t0
    pred = predict_anndata(right, out / name / "decoders", out / name / "niche_left" / "student")
    r = np.asarray(pred.uns["madcell_predict"]["scores"]["pearson"], float)
    y, p = right.obs[label].astype(str).to_numpy(), pred.obs[f"pred_{label}"].astype(str).to_numpy()
    known = right.obs[label].notna().to_numpy() & (y != "")
    # the reference niches of the right half: the same teacher recipe on its own labels (expression side)
    ref, _ = run_niche(right.copy(), ncfg)
    ari = adjusted_rand_score(ref.obs["teacher_niche"].astype(str), pred.obs["student_niche"].astype(str))
    return {"name": name, "cut_x_um": cut, "n_train": int(left.n_obs), "n_heldout": int(right.n_obs),
            "genes": list(pred.var_names), "pearson": r, "label_acc": float((y[known] == p[known]).mean()),
            "niche_ari_vs_right_teacher": float(ari), "fit_s": round(fit_s, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emb", action="append", required=True, help="NAME=PATH of an embedding AnnData (first = reference)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--label", default="xenium_graphclust")
    ap.add_argument("--k-niches", type=int, default=6)
    ap.add_argument("--md", type=Path, default=Path(__file__).with_name("results") / "predict_heldout.md")
    args = ap.parse_args()
    res = [one(n, Path(p), args.out, args.label, args.k_niches) for n, p in (e.split("=", 1) for e in args.emb)]
    ref = res[0]
    lines = [f"\n### {datetime.now():%Y-%m-%d} — {platform.machine()}, {ref['n_train']} training cells (x < "
             f"{ref['cut_x_um']:.0f} µm), {ref['n_heldout']} held-out cells, {len(ref['genes'])} genes\n",
             "| embedding | per-gene r mean | 10 / 25 / 50 / 75 / 90 % | genes r > 0.3 | label acc | niche ARI vs held-out teacher | fit s |",
             "|---|---|---|---|---|---|---|"]
    for r in res:
        q = np.nanpercentile(r["pearson"], [10, 25, 50, 75, 90])
        lines.append(f"| {r['name']} | {np.nanmean(r['pearson']):.3f} | {' / '.join(f'{v:.3f}' for v in q)} | "
                     f"{int((r['pearson'] > 0.3).sum())} | {r['label_acc']:.3f} | {r['niche_ari_vs_right_teacher']:.3f} | {r['fit_s']} |")
    for r in res[1:]:
        d, lo, hi = P.paired_diff([ref["pearson"]], [r["pearson"]])
        lines.append(f"\nper-gene r, {ref['name']} − {r['name']}: {d:+.3f} [{lo:+.3f}, {hi:+.3f}] (paired over genes)")
    lines.append("\nThe encoder's self-supervised pretraining saw the images of both halves (never their expression); "
                 "decoders, niche teacher and student saw only the left half.")
    P.append_results(args.md, "\n".join(lines))
    (args.out / "summary.json").write_text(json.dumps([{k: (v.tolist() if isinstance(v, np.ndarray) else v)
                                                         for k, v in r.items()} for r in res], indent=1))


if __name__ == "__main__":
    main()
