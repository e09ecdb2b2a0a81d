"""The benchmark's verdict table: the reference method against each control, paired, per group.

Uses :mod:`madcell.evaluate.compare` on the metrics folders the benchmark wrote (each with its
bootstrap.npz). Controls are ``verdicts`` of the benchmark config, or every other method that ran
except the oracles (which are ceilings, not competitors). A pair that cannot be compared (e.g. a
metrics folder from an older madcell without bootstrap samples) is reported, not fatal.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from madcell.errors import InputError
from madcell.evaluate.compare import difference_samples, format_verdicts, verdict_table


def controls_of(bench: Mapping, methods: Sequence[str]) -> list[str]:
    ref = bench["reference"]
    if bench.get("verdicts"):
        return [m for m in bench["verdicts"] if m in methods and m != ref]
    return [m for m in methods if m != ref and bench["methods"][m]["kind"] != "oracle"]


def benchmark_verdicts(bench: Mapping, entries: Mapping[str, Mapping[str, dict]], groups: Mapping[str, str],
                       methods: Sequence[str], ci: float = 0.95) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """(table with a ``group`` column, ``{group: markdown}``, problems) from ``entries[dataset][method]
    ["metrics"]`` (metrics folders) and ``groups[dataset]``."""
    ref = bench["reference"]
    controls = controls_of(bench, methods)
    per_group: dict[str, list] = {}
    problems: list[str] = []
    for ds, ents in entries.items():
        if ref not in ents:
            continue
        diffs = {}
        for c in controls:
            if c not in ents:
                continue
            try:
                diffs[c] = difference_samples(ents[ref]["metrics"], ents[c]["metrics"])
            except InputError as exc:
                problems.append(f"{ds}: {ref} vs {c}: {exc}")
        per_group.setdefault(groups[ds], []).append(diffs)
    tables, md = [], {}
    for g, diffs in per_group.items():
        t = verdict_table(diffs, ci)
        tables.append(t.assign(group=g))
        md[g] = format_verdicts(t, ref)
    cols = ["group", "metric", "control", "n_datasets", "diff", "lo", "hi", "verdict"]
    table = pd.concat(tables, ignore_index=True)[cols] if tables else pd.DataFrame(columns=cols)
    return table, md, problems
