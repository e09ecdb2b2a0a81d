"""``predict``: virtual spatial omics for an image-only slide.

An embedding AnnData (``madcell embed`` with a trained run) + saved decoders (``madcell decode``)
[+ a saved niche student (``madcell niche``)] -> one AnnData of predictions:

``X``                     predicted expression, ``var_names`` = the decoded genes, in the decoders'
                          target space (``uns['madcell_predict']['space']``, e.g. log1p(counts))
``obs['pred_<label>']``   predicted labels (``obsm['pred_proba_<label>']`` their probabilities)
``obs['student_niche']``  predicted niche (``obsm['student_niche_proba']``), with a student
``obs`` / ``obsm``        the embedding's cell table, ``spatial`` and the embedding itself
``layers['measured']``    only when the slide *was* measured (a held-out check): the measured
                          expression of the same genes in the same space; per-gene Pearson r and MAE
                          against it go to ``uns['madcell_predict']['scores']``
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd


def predict_anndata(emb: ad.AnnData, decoders_dir: str | Path, student_dir: str | Path | None = None,
                    key: str | None = None) -> ad.AnnData:
    from madcell.decode import apply_decoders
    from madcell.decode.anndata_decode import gene_scores
    from madcell.decode.transforms import transform_expression

    a = apply_decoders(emb.copy(), decoders_dir, key)
    info = a.uns["madcell_decode"]
    genes = list(info.get("genes", []))
    if "pred_expression" in a.obsm:
        pred = np.asarray(a.obsm.pop("pred_expression"), np.float32)
    elif "pred_expression" in a.layers:
        pred = np.asarray(a.layers["pred_expression"], np.float32)[:, a.var_names.get_indexer(genes)]
    else:
        pred = np.zeros((a.n_obs, 0), np.float32)
    if student_dir is not None:
        from madcell.niche.persist import apply_student

        apply_student(a, student_dir, key)
    out = ad.AnnData(X=pred, obs=a.obs.copy(), var=pd.DataFrame(index=pd.Index(genes, dtype=str)))
    for k, v in a.obsm.items():
        out.obsm[k] = v
    meta = {"decoders": str(Path(decoders_dir).resolve()), "space": info.get("space", ""),
            "transform": info.get("transform", ""), "embedding_key": info["embedding_key"],
            "labels": list(info.get("labels", {}))}
    if student_dir is not None:
        meta["niche_student"] = str(Path(student_dir).resolve())
    measured = [g for g in genes if g in emb.var_names]
    if genes and len(measured) == len(genes) and emb.n_obs:
        Y = transform_expression(emb.X, info["transform"], emb.var_names.get_indexer(genes))
        out.layers["measured"] = Y
        meta["scores"] = gene_scores(Y, pred, genes)
    out.uns["madcell"] = {**emb.uns.get("madcell", {}), "predicted": True}
    out.uns["madcell_predict"] = meta
    return out
