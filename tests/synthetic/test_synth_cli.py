"""`madcell synth` on the command line."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from madcell.cli import app


def test_synth_cli(tmp_path):
    out = tmp_path / "s"
    res = CliRunner().invoke(app, ["synth", "--out", str(out), "--cells", "80", "--seed", "2",
                                   "--difficulty", "hard", "--pixel-size", "0.6"])
    assert res.exit_code == 0, res.output
    cells = pd.read_parquet(out / "cells.parquet")
    assert len(cells) == 80
    assert abs(cells["x_um"].iloc[0] - 0.6 * cells["x_px"].iloc[0]) < 1e-9


def test_synth_cli_bad_option(tmp_path):
    res = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "x"), "--cells", "10", "--modality", "xray"])
    assert res.exit_code == 2
    assert not (tmp_path / "x" / "image.ome.tif").exists()
