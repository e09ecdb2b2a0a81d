"""``madcell run`` on an H&E + spots folder (Space Ranger outs, legacy ST, HEST AnnData): one command from the
raw folder to a report. Steps, each cached in ``OUT`` like :mod:`madcell.run` (run again to resume)::

    OUT/segment/        nuclei and cells found in the H&E (madcell segment), pixel size from the spots
    OUT/store.h5        views of every cell (generic reader on OUT/segment)
    OUT/run/ OUT/embedding.h5ad          MAD pretraining and the cell embedding (X_mad, _morph, _micro)
    OUT/baselines/<name>.h5ad            the same cells by each baseline (default: pixel PCA, untrained ViT)
    OUT/cells.h5ad OUT/spots.h5ad        every embedding on the cells, and pooled under the spots
    OUT/spot_eval/      spot-level scores of every embedding (madcell.spots.evaluate)
    OUT/spot_niche/     spot niches distilled into the image-only cell student (madcell.spots.niche)
    OUT/report/report.md
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

from madcell.errors import InputError
from madcell.run import StepRunner, plan_file, train_and_embed
from madcell.utils.atomic import atomic_write_text

PLAN_KEYS = ("input", "spot_options", "config", "overrides", "max_steps", "time_budget_s", "segment", "baselines",
             "radius_factor", "niche")


def run_spot_pipeline(input: str | Path, out: str | Path, config: str = "cpu-tiny", overrides: Sequence[str] | None = None,
                      max_steps: int | None = None, time_budget_s: float | None = None, spot_options: dict | None = None,
                      segment_options: dict | None = None, baselines: dict | None = None, radius_factor: float = 1.0,
                      niche: dict | None = None, log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Run (or finish) every step into ``out``; returns ``{"paths", "seconds", "spots"}``.

    ``baselines``: ``{name: config overrides}`` (default pixel PCA and an untrained ViT of the preset);
    ``niche``: overrides of the ``niche`` config section plus ``source`` (``expression`` or a spot table)."""
    import anndata as ad

    from madcell.spots import read_spots

    out = Path(out)
    spots = read_spots(input, **dict(spot_options or {}))
    if (Path(input) / "spots_truth.csv").is_file():  # a synthetic grid: its known answers become spot labels
        from madcell.synthetic.spots import read_spot_truth

        spots.add_labels(*read_spot_truth(input))
    if spots.image_path is None:
        raise InputError(input, "names no H&E image: give it with --option image=PATH")
    baselines = {"pca": {}, "untrained": {"preset": config}} if baselines is None else dict(baselines)
    niche = dict(niche or {})
    source = niche.pop("source", "expression")
    plan = {"input": str(Path(input).resolve()), "spot_options": dict(spot_options or {}), "config": str(config),
            "overrides": list(overrides or []), "max_steps": max_steps, "time_budget_s": time_budget_s,
            "segment": dict(segment_options or {}), "baselines": baselines, "radius_factor": float(radius_factor),
            "niche": {**niche, "source": source}}
    plan_file(out, plan, PLAN_KEYS)
    log(f"spots: {spots.counts.n_obs} ({spots.platform}), {spots.counts.n_vars} genes, {spots.um_per_px:.4f} µm/px "
        f"({spots.um_per_px_source}), spot diameter {spots.spot_diameter_um:g} µm; image {spots.image_path}")
    step = StepRunner(log)

    def seg() -> None:
        from madcell.segment import segment

        segment(spots.image_path, out / "segment", modality="he", pixel_size_um=spots.um_per_px, progress=progress,
                **dict(segment_options or {}))

    step("segment", out / "segment" / "labels.tif", seg)

    def prep() -> None:
        from madcell.views import prepare

        prepare(out / "segment", out / "store.h5", format="generic", config=config, overrides=list(overrides or []) or None,
                reader_options={"pixel_size_um": spots.um_per_px}, progress=progress)

    store = step("prepare", out / "store.h5", prep)
    _, emb = train_and_embed(step, store, out, config, overrides, max_steps, time_budget_s, progress)
    for name, cfg in baselines.items():
        def base(name=name, cfg=cfg) -> None:
            from madcell.baselines.run import run_baseline

            run_baseline(name.split(":")[0], store, out / "baselines" / f"{name}.h5ad", cfg)

        step(f"baseline {name}", out / "baselines" / f"{name}.h5ad", base)

    def pool() -> None:
        from madcell.embed.anndata_form import write_h5ad
        from madcell.spots.pool import pool_to_spots

        cells = ad.read_h5ad(emb)
        for name in baselines:
            b = ad.read_h5ad(out / "baselines" / f"{name}.h5ad")
            for k in b.obsm:
                if k.startswith("X_") and k not in cells.obsm:
                    cells.obsm[k] = b[cells.obs_names].obsm[k]
        write_h5ad(cells, out / "cells.h5ad")
        write_h5ad(pool_to_spots(cells, spots, radius_factor=radius_factor), out / "spots.h5ad")

    step("pool", out / "spots.h5ad", pool)
    cfg = _config(config, overrides)

    def spot_eval() -> None:
        import pandas as pd

        from madcell.spots.evaluate import evaluate_spots, summary_rows
        from madcell.utils.atomic import atomic_path

        res = evaluate_spots(ad.read_h5ad(out / "spots.h5ad"), cfg=cfg)
        with atomic_path(out / "spot_eval" / "summary.csv") as tmp:
            pd.DataFrame(summary_rows(res)).to_csv(tmp, index=False)
        atomic_write_text(out / "spot_eval" / "metrics.json", json.dumps(res, indent=1, default=_json))

    step("spot evaluation", out / "spot_eval" / "metrics.json", spot_eval)

    def spot_niche() -> None:
        from madcell.embed.anndata_form import write_h5ad
        from madcell.spots.niche import run_spot_niche

        cells, sp = ad.read_h5ad(out / "cells.h5ad"), ad.read_h5ad(out / "spots.h5ad")
        cells, metrics = run_spot_niche(cells, sp, {**cfg["niche"], **niche}, source)
        write_h5ad(cells, out / "spot_niche" / "cells.h5ad")
        write_h5ad(sp, out / "spot_niche" / "spots.h5ad")
        atomic_write_text(out / "spot_niche" / "metrics.json", json.dumps(metrics, indent=1, default=_json))

    step("spot niches", out / "spot_niche" / "metrics.json", spot_niche)

    def report() -> None:
        from madcell.report.spots import spot_report

        spot_report(out, spots, step.seconds)

    step("report", out / "report" / "report.md", report)
    return {"paths": {k: str(v) for k, v in step.paths.items()}, "seconds": step.seconds, "spots": spots.counts.n_obs}


def _config(config: str, overrides) -> dict:
    from madcell.config import load_config

    return load_config(config, list(overrides or []) or None)


def _json(o):
    import numpy as np

    if isinstance(o, (np.integer, np.floating)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
