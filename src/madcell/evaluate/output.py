"""Writing evaluation results: metrics.json (the full nested result), metrics.csv (one row per scalar
metric: dotted path, mean, lo, hi; vector metrics get an index suffix), per_gene.csv and
bootstrap.npz (:mod:`.samples`). Keys starting with ``_`` are in-memory only."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from madcell.utils.atomic import atomic_path, atomic_write_text


def is_ci(node) -> bool:
    return isinstance(node, dict) and {"mean", "lo", "hi"} <= set(node)


def flatten_metrics(result: dict, prefix: str = "") -> list[dict]:
    """Rows ``{"metric", "mean", "lo", "hi"}`` for every CI leaf (per-gene vectors excluded)."""
    rows = []
    for k, v in result.items():
        path = f"{prefix}{k}"
        if k == "per_gene" or str(k).startswith("_"):
            continue
        if is_ci(v):
            if isinstance(v["mean"], list):
                rows += [{"metric": f"{path}[{i}]", "mean": m, "lo": lo, "hi": hi}
                         for i, (m, lo, hi) in enumerate(zip(v["mean"], v["lo"], v["hi"]))]
            else:
                rows.append({"metric": path, "mean": v["mean"], "lo": v["lo"], "hi": v["hi"]})
        elif isinstance(v, dict):
            rows += flatten_metrics(v, path + ".")
    return rows


def _clean(obj):
    """NaN/inf -> None so metrics.json is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item"):
        return _clean(obj.item())
    return obj


def per_gene_table(result: dict) -> pd.DataFrame | None:
    pg = result.get("genes", {}).get("per_gene")
    if not pg:
        return None
    df = pd.DataFrame({"gene": pg["gene"]})
    for m in ("pearson", "mae"):
        df[m], df[f"{m}_lo"], df[f"{m}_hi"] = pg[m]["mean"], pg[m]["lo"], pg[m]["hi"]
    return df


def write_metrics(result: dict, out_dir: str | Path) -> Path:
    """Write metrics.json, metrics.csv, (with genes) per_gene.csv and (when the result kept them)
    bootstrap.npz, the bootstrap samples for paired comparisons, into ``out_dir``."""
    from madcell.evaluate.samples import write_samples

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = result.get("_samples")
    atomic_write_text(out / "metrics.json", json.dumps(_clean({k: v for k, v in result.items() if not str(k).startswith("_")}),
                                                       indent=2))
    if log is not None:
        write_samples(log, out)
    with atomic_path(out / "metrics.csv") as tmp:
        pd.DataFrame(flatten_metrics(result), columns=["metric", "mean", "lo", "hi"]).to_csv(tmp, index=False)
    pg = per_gene_table(result)
    if pg is not None:
        with atomic_path(out / "per_gene.csv") as tmp:
            pg.to_csv(tmp, index=False)
    return out / "metrics.json"


def read_metrics(path: str | Path) -> dict:
    """metrics.json (or a folder holding one) -> the result dict (None where NaN was written)."""
    from madcell.errors import InputError

    p = Path(path)
    p = p / "metrics.json" if p.is_dir() else p
    if not p.exists():
        raise InputError(p, "metrics file does not exist")
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(p, f"is not valid JSON ({exc})") from exc
