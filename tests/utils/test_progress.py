"""Progress for log files: complete plain lines with count, rate and ETA, never a silent job."""

from __future__ import annotations

import re

from madcell.utils.progress import Progress, progress_line


def test_progress_line_has_count_rate_and_eta():
    line = progress_line("embed mad", 4096, 19717, 0, 10.0, "cells", "loss 1.2")
    assert line == "embed mad: 4096/19717 cells (20.8 %), 409.6 cells/s, elapsed 0:00:10, ETA 0:00:38  loss 1.2"
    # the rate is of this session's work: a resumed job that started at 4000 has done 96 in 10 s
    assert "9.6 cells/s" in progress_line("embed", 4096, 19717, 4000, 10.0, "cells")


def test_plain_lines_when_not_a_terminal(capsys):
    with Progress("pretrain", 100, unit="steps", every_s=0.0, tty=False) as bar:
        for it in range(1, 4):
            bar.update(it, f"loss {1.0 / it:.2f}")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4  # one per update (every_s 0) and one at the end
    assert re.fullmatch(r"pretrain: 3/100 steps \(3\.0 %\), [\d.]+ steps/s, elapsed 0:00:00, ETA \S+  loss 0\.33",
                        lines[-1])


def test_throttled_and_disabled(capsys):
    with Progress("prepare", 10, every_s=3600, tty=False) as bar:
        bar.advance(4)
        bar.advance(6)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prepare: 10/10 cells (100.0 %), ")  # only the final line
    with Progress("prepare", 10, every_s=0.0, tty=False, enabled=False) as bar:
        bar.advance(10)
    assert capsys.readouterr().err == ""


def test_cli_prints_library_status_lines(tmp_path):
    """`evaluate` / `decode` / `niche` used to be silent for minutes in a batch log: their steps now
    print complete, timestamped lines."""
    from typer.testing import CliRunner

    from madcell.cli import app
    from madcell.evaluate.synthetic import make_embedding_anndata

    a = make_embedding_anndata(n=120, n_genes=3)
    a.write_h5ad(tmp_path / "emb.h5ad")
    res = CliRunner().invoke(app, ["decode", str(tmp_path / "emb.h5ad"), "--label", "cell_type", "--genes", "all",
                                   "--out", str(tmp_path / "d.h5ad"), "--set", "decode.max_epochs=3"])
    assert res.exit_code == 0, res.output
    assert re.search(r"\d\d:\d\d:\d\d madcell: decode: label cell_type \(5-fold out-of-fold \+ final fit\)", res.output)
    assert "madcell: decode: 3 genes" in res.output
