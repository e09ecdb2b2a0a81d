"""The benchmark's datasets: an existing view store, or synthetic tissues (seeds x difficulties)
generated and prepared with the benchmark's own ``prepare`` section — each cached by its key."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from madcell.benchmark.cache import ArtefactCache, file_key, make_key
from madcell.benchmark.methods import Dataset
from madcell.errors import InputError

# what a synthetic tissue folder holds beyond the spec: bumped when the generator writes new files
# (here truth.parquet, which the oracle methods read), so cached tissues and stores are redone
TISSUE_OUTPUT = "truth.parquet/1"


def datasets(bench: Mapping, train_cfg: Mapping, cache: ArtefactCache, root: Path) -> list[Dataset]:
    data = bench["data"]
    if data["store"] is not None:
        store = Path(data["store"]).expanduser()
        if not store.is_file():
            raise InputError(store, "data.store of the benchmark config does not exist (set it to a view store)")
        return [Dataset(store.stem, store.stem, store, file_key(store))]
    from madcell.synthetic import make_tissue
    from madcell.views import prepare

    syn = data["synthetic"]
    out = []
    for difficulty in syn["difficulties"]:
        for seed in syn["seeds"]:
            name = f"{difficulty}-s{seed}"
            spec = dict(n_cells=int(syn["cells"]), seed=int(seed), modality=syn["modality"], difficulty=difficulty,
                        **dict(syn["overrides"] or {}))
            tkey = make_key("tissue", spec, TISSUE_OUTPUT)
            tissue = cache.get(root / "data" / name / "tissue", tkey, lambda p, s=spec: make_tissue(p, **s),
                               f"synthesise {name}")
            skey = make_key("store", train_cfg["prepare"], tkey)
            store = cache.get(root / "data" / name / "store.h5", skey,
                              lambda p, t=tissue: prepare(t, p, overrides={"prepare": dict(train_cfg["prepare"])},
                                                          progress=False),
                              f"prepare {name}")
            out.append(Dataset(name, difficulty, store, skey))
    return out
