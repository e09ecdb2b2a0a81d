"""Annotations in: a user's label table (``--labels``) and Xenium Ranger's clusters as label columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from madcell.cli import app
from madcell.data.store import ViewStore
from madcell.errors import InputError
from madcell.io.annotations import attach_annotations, read_annotations, xenium_clusters
from madcell.io.xenium import read_xenium

from io_testdata import XENIUM_OPTS, real

SMALL = ["--set", "prepare.morph_size=28", "--set", "prepare.micro_size=56", "--set", "prepare.k_neighbors=8",
         "--set", "prepare.stats_sample_pixels=20000", "--no-progress",
         "--option", "pixel_size_um=1.7", "--option", "origin_um=[995.5, 998.9]"]


def _linked_copy(src, dst):
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).symlink_to(f)
    return dst


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_read_annotations_formats(tmp_path, suffix):
    df = pd.DataFrame({"cell_id": ["a", "b", "c"], "cell_class": ["T", "B", "T"], "score": [0.1, 0.2, 0.3]})
    path = tmp_path / f"ann{suffix}"
    if suffix == ".parquet":
        df.to_parquet(path)
    else:
        df.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    ann = read_annotations(path)
    assert list(ann.index) == ["a", "b", "c"] and list(ann.columns) == ["cell_class", "score"]


@pytest.mark.parametrize("content, problem", [
    ("cell_id,x\na,1\na,2\n", "duplicated cell id"),
    ("id,x\na,1\n", "no 'cell_id' column"),
    ("cell_id\na\n", "no label column"),
    ("cell_id,label\na,1\n", "reserved"),
])
def test_bad_annotation_tables_name_the_file(tmp_path, content, problem):
    path = tmp_path / "ann.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=problem) as exc:
        read_annotations(path)
    assert "ann.csv" in str(exc.value)


def test_real_xenium_clusters_become_a_label_column():
    cl = xenium_clusters(real("xenium_pancreas_crop"))
    assert list(cl.columns) == ["xenium_graphclust"]
    cells = pd.read_parquet(real("xenium_pancreas_crop") / "cells.parquet")
    joined = cl["xenium_graphclust"].reindex(cells["cell_id"].astype(str))
    assert joined.isna().sum() == 17 and joined.nunique() == 26  # 10x left 17 cells of the crop unclustered


def test_xenium_reader_and_prepare_pick_up_clusters_and_labels(tmp_path):
    folder = _linked_copy(real("xenium_outs_mini"), tmp_path / "outs")
    ids = pd.read_parquet(folder / "cells.parquet")["cell_id"].astype(str).to_numpy()
    clusters = folder / "analysis" / "clustering" / "gene_expression_kmeans_2_clusters"
    clusters.mkdir(parents=True)
    pd.DataFrame({"Barcode": ids[:500], "Cluster": (np.arange(500) % 2 + 1)}).to_csv(clusters / "clusters.csv", index=False)
    (slide,) = read_xenium(folder, XENIUM_OPTS)
    col = slide.cells.set_index("cell_id")["xenium_kmeans_2_clusters"]
    assert col.loc[ids[:4]].tolist() == ["1", "2", "1", "2"] and col.loc[ids[500:]].isna().all()

    ann = tmp_path / "annot.csv"
    pd.DataFrame({"cell_id": list(ids[:300]) + ["not_a_cell"], "cell_class": ["jurkat"] * 150 + ["raji"] * 150 + ["x"]}).to_csv(ann, index=False)
    out = tmp_path / "views.h5"
    with pytest.warns(UserWarning, match="1 of 301 annotated cell ids match no cell"):
        res = CliRunner().invoke(app, ["prepare", str(folder), "--out", str(out), "--labels", str(ann), *SMALL])
    assert res.exit_code == 0, res.output
    with ViewStore(out) as vs:
        assert {"cell_class", "xenium_kmeans_2_clusters"} <= set(vs.label_columns)
        obs = vs.obs.set_index(vs.obs.index.astype(str))
    assert (obs.loc[ids[:150], "cell_class"] == "jurkat").all() and (obs.loc[ids[300:], "cell_class"] == "").all()


def test_labels_matching_no_cell_fail_before_writing(tmp_path):
    folder = real("xenium_outs_mini")
    ann = tmp_path / "annot.csv"
    pd.DataFrame({"cell_id": ["x1", "x2"], "cell_class": ["a", "b"]}).to_csv(ann, index=False)
    out = tmp_path / "views.h5"
    res = CliRunner().invoke(app, ["prepare", str(folder), "--out", str(out), "--labels", str(ann), *SMALL])
    assert res.exit_code == 2 and "annot.csv" in res.output and "matches a cell" in res.output
    assert not out.exists()
    dup = tmp_path / "dup.csv"
    dup.write_text("cell_id,x\na,1\na,2\n")
    res = CliRunner().invoke(app, ["prepare", str(folder), "--out", str(out), "--labels", str(dup), *SMALL])
    assert res.exit_code == 2 and "dup.csv" in res.output and not out.exists()


def test_attach_refuses_a_column_the_table_has(tmp_path, xenium_slide):
    ann = pd.DataFrame({"x_centroid_copy": [1.0]}, index=pd.Index([xenium_slide.cells["cell_id"][0]], name="cell_id"))
    slides, report = attach_annotations([xenium_slide], ann, "ann.csv")
    assert report == {"matched": 1, "cells": 526, "unknown_ids": 0}
    with pytest.raises(InputError, match="already exist"):
        attach_annotations(slides, ann, "ann.csv")


def test_annotate_anndata_joins_by_cell_id(tmp_path):
    import anndata as ad

    from madcell.io.annotations import annotate_anndata

    a = ad.AnnData(obs=pd.DataFrame({"slide": ["s"] * 4}, index=["c1", "c2", "c3", "c4"]))
    path = tmp_path / "ann.csv"
    path.write_text("cell_id,kind,score\nc2,tumour,0.5\nc1,immune,1.5\nzz,tumour,2\n")
    with pytest.warns(UserWarning, match="1 of 3 annotated cell ids match no cell"):
        rep = annotate_anndata(a, path)
    assert rep == {"matched": 2, "cells": 4, "unknown_ids": 1, "columns": ["kind", "score"]}
    assert a.obs["kind"].iloc[:2].tolist() == ["immune", "tumour"] and a.obs["kind"].iloc[2:].isna().all()
    assert a.obs["score"].iloc[:2].tolist() == [1.5, 0.5] and np.isnan(a.obs["score"].iloc[2])
    with pytest.raises(InputError, match="already exist"):
        annotate_anndata(a, path)  # the columns are there now
    other = tmp_path / "other.csv"
    other.write_text("cell_id,kind2\nq1,x\n")
    with pytest.raises(InputError, match="none of its 1 cell ids matches") as exc:
        annotate_anndata(a, other)
    assert "other.csv" in str(exc.value)


def test_vendor_metadata_text_columns_become_labels(tmp_path):
    """CosMx *_metadata_file.csv and MERSCOPE cell_metadata.csv: text columns (an exported cell type)
    become label columns joined on the vendor ids; numbers (area, centres) do not."""
    import shutil

    from madcell.io import read_input

    cos = tmp_path / "cosmx"
    shutil.copytree(real("cosmx_lung_mini"), cos)
    slides = read_input(cos, options={"pixel_size_um": 0.18})
    rows = [(int(s.slide_id[1:]), int(cid.split("_")[1])) for s in slides for cid in s.cells["cell_id"]]
    meta = pd.DataFrame(rows, columns=["fov", "cell_ID"])
    meta["Area"] = np.arange(len(meta)) * 10
    meta["cellType"] = np.where(np.arange(len(meta)) % 3 == 0, "tumor", "stroma")
    meta.iloc[:len(meta) // 2].to_csv(cos / "Lung12_metadata_file.csv", index=False)  # half the cells annotated
    slides = read_input(cos, options={"pixel_size_um": 0.18})
    cells = pd.concat([s.cells for s in slides])
    assert "cellType" in slides[0].label_columns and "Area" not in cells
    assert cells["cellType"].notna().sum() == len(meta) // 2
    assert set(cells["cellType"].dropna()) == {"tumor", "stroma"}

    mer = tmp_path / "merscope"
    shutil.copytree(real("merscope_brain_mini"), mer)
    opts = {"pixel_size_um": 0.108627, "origin_um": (6400.029, 4699.967)}
    (s,) = read_input(mer, options=opts)
    ids = s.cells["cell_id"].astype(str).to_numpy()
    pd.DataFrame({"EntityID": ids, "volume": np.ones(len(ids)), "cluster": [f"c{i % 4}" for i in range(len(ids))]}).to_csv(
        mer / "cell_metadata.csv", index=False)
    (s,) = read_input(mer, options=opts)
    assert list(s.cells["cluster"].iloc[:4]) == ["c0", "c1", "c2", "c3"] and "volume" not in s.cells
