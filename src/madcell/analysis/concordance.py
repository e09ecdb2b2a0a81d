"""Does decoder-predicted expression tell the same differential-expression story as the measurement?

The paper's Fig. 4h-i: DE of each group against the rest on measured and on predicted expression (one
space for both, :func:`madcell.analysis.expression.differential_expression`), then per group

* ``lfc_pearson`` / ``lfc_spearman`` — correlation of the log-fold-changes over the genes tested, leaving out
  genes whose fold change on either side is scanpy's zero-mean floor (|LFC| >= 15: not expressed in the
  group or in the rest), which would otherwise dominate a Pearson r;
* ``sig_measured`` / ``sig_predicted`` — genes up-regulated with adjusted p < ``alpha`` and
  log2 fold change > ``min_lfc`` in each;
* ``overlap`` and ``jaccard`` of those two sets (``jaccard`` NaN when both are empty).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def significant_up(de: pd.DataFrame, alpha: float = 0.05, min_lfc: float = 0.25) -> pd.Series:
    """Per group, the set of up-regulated genes with adjusted p < ``alpha`` and LFC > ``min_lfc``."""
    hit = de[(de["pvals_adj"] < alpha) & (de["logfoldchanges"] > min_lfc)]
    groups = de["group"].astype(str).unique()
    sets = hit.groupby(hit["group"].astype(str))["names"].apply(lambda s: set(map(str, s)))
    return pd.Series({g: sets.get(g, set()) for g in groups})


# scanpy floors a group mean of 0 at 1e-9 before log2(mean ratio): a gene not expressed in the group (or in
# the rest) gets a fold change of about +-20..30, which is a floor, not a measured change
ABSENT_LFC = 15.0


def comparable(lfc: np.ndarray) -> np.ndarray:
    """Fold changes that measure something: finite and not at scanpy's zero-mean floor."""
    return np.isfinite(lfc) & (np.abs(lfc) < ABSENT_LFC)


def de_concordance(measured: pd.DataFrame, predicted: pd.DataFrame, alpha: float = 0.05,
                   min_lfc: float = 0.25) -> pd.DataFrame:
    """One row per group present in both tables (columns: see the module doc)."""
    from scipy.stats import pearsonr, spearmanr

    sm, sp = significant_up(measured, alpha, min_lfc), significant_up(predicted, alpha, min_lfc)
    rows = []
    for g in sorted(set(sm.index) & set(sp.index), key=lambda v: (0, int(v), "") if v.isdigit() else (1, 0, v)):
        a = measured[measured["group"].astype(str) == g].set_index("names")["logfoldchanges"]
        b = predicted[predicted["group"].astype(str) == g].set_index("names")["logfoldchanges"]
        common = a.index.intersection(b.index)
        x, y = a[common].to_numpy(float), b[common].to_numpy(float)
        ok = comparable(x) & comparable(y)
        enough = ok.sum() >= 3 and np.std(x[ok]) > 0 and np.std(y[ok]) > 0
        both, either = sm[g] & sp[g], sm[g] | sp[g]
        rows.append({"group": g, "n_genes": int(ok.sum()), "n_floor": int((~ok).sum()),
                     "lfc_pearson": float(pearsonr(x[ok], y[ok])[0]) if enough else np.nan,
                     "lfc_spearman": float(spearmanr(x[ok], y[ok])[0]) if enough else np.nan,
                     "sig_measured": len(sm[g]), "sig_predicted": len(sp[g]), "overlap": len(both),
                     "jaccard": len(both) / len(either) if either else np.nan})
    return pd.DataFrame(rows, columns=["group", "n_genes", "n_floor", "lfc_pearson", "lfc_spearman", "sig_measured",
                                       "sig_predicted", "overlap", "jaccard"])
