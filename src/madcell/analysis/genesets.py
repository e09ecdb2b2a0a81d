"""Gene sets the user brings (a GMT file; nothing is downloaded) and per-cell gene-set scores.

* :func:`read_gmt` — ``name<TAB>description<TAB>gene1<TAB>gene2...`` per line (MSigDB's format);
  a malformed file is an :class:`~madcell.errors.InputError` naming the line.
* :func:`score_gene_sets` — scanpy's ``score_genes`` (mean of the set minus a matched random reference
  set, on normalise-total + log1p expression) per set -> ``obs['gs_<name>']``; sets with fewer than
  ``min_genes`` measured genes are skipped and listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd

from madcell.errors import InputError


def read_gmt(path: str | Path) -> dict[str, list[str]]:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "gene-set file does not exist")
    sets: dict[str, list[str]] = {}
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) < 3:
            raise InputError(path, f"line {i} is not GMT (name<TAB>description<TAB>genes...): {line[:60]!r}")
        if parts[0] in sets:
            raise InputError(path, f"line {i}: gene set {parts[0]!r} appears twice")
        sets[parts[0]] = [g for g in parts[2:] if g]
    if not sets:
        raise InputError(path, "holds no gene set")
    return sets


def score_gene_sets(adata: ad.AnnData, gene_sets: Mapping[str, Sequence[str]], min_genes: int = 2,
                    seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """Per-cell scores (columns ``gs_<name>``, also written to ``adata.obs``) and the skipped sets."""
    import scanpy as sc

    from madcell.analysis.expression import dense_copy, log_normalise

    tmp = log_normalise(dense_copy(adata.X, pd.DataFrame(index=adata.obs_names), adata.var_names))
    universe = set(tmp.var_names)
    scores, skipped = {}, []
    for name, genes in gene_sets.items():
        present = [g for g in dict.fromkeys(map(str, genes)) if g in universe]
        if len(present) < min_genes:
            skipped.append(name)
            continue
        sc.tl.score_genes(tmp, present, score_name="_score", random_state=seed,
                          ctrl_size=min(50, max(1, tmp.n_vars - len(present))))
        scores[f"gs_{name}"] = tmp.obs.pop("_score").to_numpy(np.float32)
    df = pd.DataFrame(scores, index=adata.obs_names)
    for col in df:
        adata.obs[col] = df[col].to_numpy()
    return df, skipped
