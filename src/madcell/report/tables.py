"""Markdown metric tables: rows = methods, cells = "mean [lo, hi]" (95 % bootstrap CI).

One table per label column (clustering and probes depend on the label; with ``within`` scoring, the
kNN / linear accuracy inside the groups of another column sit next to the whole-population ones),
one table per within-group scoring with each group's own numbers (restricted classes preferred: the
question a reader asks is "macrophage: TAM vs stromal", not the mean), then one table of the
label-free families (cross-view Recall@K with chance, gene decoding, CCA).
"""

from __future__ import annotations

from typing import Mapping, Sequence

LABEL_COLUMNS = [
    ("k-means ARI", ("kmeans", "ari")), ("k-means NMI", ("kmeans", "nmi")),
    ("Leiden ARI", ("leiden", "ari")), ("Leiden NMI", ("leiden", "nmi")), ("purity", ("leiden", "purity")),
    ("kNN acc", ("knn", "accuracy")), ("kNN bal-acc", ("knn", "balanced_accuracy")),
    ("linear acc", ("linear", "accuracy")), ("linear bal-acc", ("linear", "balanced_accuracy")),
    ("MLP bal-acc", ("mlp", "balanced_accuracy")),
]
SHARED_COLUMNS = [
    ("R@1", ("retrieval", "recall@1")), ("R@5", ("retrieval", "recall@5")), ("R@10", ("retrieval", "recall@10")),
    ("gene Pearson", ("genes", "pearson")), ("gene MAE", ("genes", "mae")),
    ("CCA r", ("cca", "mean_corr")), ("CCA r (shuffled)", ("cca", "null_mean_corr")),
]


def get_path(node, path: Sequence[str]):
    for p in path:
        if not isinstance(node, Mapping) or p not in node:
            return None
        node = node[p]
    return node


def fmt_ci(v, digits: int = 3) -> str:
    """``{"mean" (or "value"), "lo", "hi"}`` -> "0.812 [0.801, 0.824]"; missing -> "–"."""
    m = v.get("mean", v.get("value")) if isinstance(v, Mapping) else None
    if m is None:
        return "–"
    f = lambda x: "nan" if x is None or x != x else f"{x:.{digits}f}"  # noqa: E731
    return f"{f(m)} [{f(v.get('lo'))}, {f(v.get('hi'))}]"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _within_keys(results: Mapping[str, Mapping], lab: str) -> list[str]:
    return list(dict.fromkeys(k for r in results.values() for k in get_path(r, ("labels", lab)) or {}
                              if str(k).startswith("within_")))


def _group_table(results: Mapping[str, Mapping], lab: str, wk: str) -> str | None:
    """Per group of one within-scoring: kNN and linear accuracy of each group, rows = methods."""
    groups = list(dict.fromkeys(g for r in results.values() for g in get_path(r, ("labels", lab, wk, "groups")) or {}))
    if not groups:
        return None
    cols = [(f"{g} {p}", ("labels", lab, wk, "groups", g, probe, "accuracy"))
            for g in groups for p, probe in (("kNN", "knn"), ("linear", "linear"))]
    rows = [[m] + [fmt_ci(get_path(r, p)) for _, p in cols] for m, r in results.items()]
    first = next(r for r in results.values() if get_path(r, ("labels", lab, wk, "groups")))
    node = first["labels"][lab][wk]
    chance = ", ".join(f"{g} {node['groups'][g]['chance']:.3f}" for g in groups if g in node["groups"])
    what = f"classes {', '.join(node['classes'])}" if node.get("classes") else "all classes"
    skipped = "; skipped: " + ", ".join(f"{g} ({why})" for g, why in node["skipped"].items()) if node.get("skipped") else ""
    return (f"**{lab} within each {wk.removeprefix('within_').removesuffix('_selected')}** ({what}; accuracy, "
            f"mean [95 % CI])\n\n" + _table(["method"] + [n for n, _ in cols], rows)
            + f"\n\nMajority-class chance per group: {chance}{skipped}")


def format_metric_table(results: Mapping[str, Mapping], labels: Sequence[str] | None = None) -> str:
    """Markdown tables for ``{method: evaluate_anndata result}`` (metrics.json contents)."""
    if labels is None:
        labels = list(dict.fromkeys(lab for r in results.values() for lab in r.get("labels", {})))
    parts = []
    for lab in labels:
        within = _within_keys(results, lab)
        extra = [(f"{n} {wk.replace('_', ' ', 1).replace('_selected', ' (selected)')}", (wk, probe, "accuracy"))
                 for wk in within for n, probe in (("kNN acc", "knn"), ("linear acc", "linear"))]
        cols = [(n, p) for n, p in LABEL_COLUMNS + extra
                if any(get_path(r, ("labels", lab) + p) is not None for r in results.values())]
        if not cols:
            continue
        rows = [[m] + [fmt_ci(get_path(r, ("labels", lab) + p)) for _, p in cols] for m, r in results.items()]
        parts.append(f"**{lab}** (mean [95 % CI])\n\n" + _table(["method"] + [n for n, _ in cols], rows))
        shown = [wk for wk in within if wk.endswith("_selected")] or within
        parts += [t for t in (_group_table(results, lab, wk) for wk in shown) if t]
    cols = [(n, p) for n, p in SHARED_COLUMNS if any(get_path(r, p) is not None for r in results.values())]
    if cols:
        rows = []
        for m, r in results.items():
            rows.append([m] + [fmt_ci(get_path(r, p)) for _, p in cols])
        chance = next((r["retrieval"] for r in results.values() if "retrieval" in r), None)
        note = ""
        if chance is not None and any(n.startswith("R@") for n, _ in cols):
            note = "\n\nRecall@K chance level (K / n; ties count against the true match): " + ", ".join(
                f"R@{k.split('@')[1]} = {v:.4f}" for k, v in chance.items() if k.startswith("chance@"))
        parts.append("**label-free metrics** (mean [95 % CI])\n\n" + _table(["method"] + [n for n, _ in cols], rows) + note)
    return "\n\n".join(parts) if parts else "(no metrics)"
