"""An output never replaces an input, and a bad output path fails before any work (exit 2)."""

from __future__ import annotations

import hashlib
import os

import pytest
from typer.testing import CliRunner

from madcell.cli import app
from madcell.errors import InputError
from madcell.utils.paths import check_output

runner = CliRunner()


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_rules(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "image.ome.tif").write_bytes(b"pixels")
    store = tmp_path / "s.h5"
    store.write_bytes(b"store")
    with pytest.raises(InputError, match="is the input"):
        check_output(store, [store])
    with pytest.raises(InputError, match="is the input"):
        check_output(tmp_path / "x" / ".." / "s.h5", [store])  # same file, other spelling
    os.symlink(store, tmp_path / "link.h5")
    with pytest.raises(InputError, match="is the input"):
        check_output(tmp_path / "link.h5", [store])
    with pytest.raises(InputError, match="file of the input folder"):
        check_output(folder / "image.ome.tif", [folder])
    with pytest.raises(InputError, match="is a directory"):
        check_output(folder, [store])
    with pytest.raises(InputError, match="is a file; give a folder"):
        check_output(store, [], folder=True)
    with pytest.raises(InputError, match="is a file, so the output cannot be created"):
        check_output(store / "sub" / "out.h5ad", [])
    assert check_output(folder / "new_views.h5", [folder]) == (folder / "new_views.h5").resolve()
    assert check_output(tmp_path / "new" / "deeper" / "out.h5ad", [store, None]).name == "out.h5ad"


def test_prepare_out_inside_its_input_is_refused_and_the_input_kept(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    image = folder / "image.ome.tif"
    image.write_bytes(b"not read: the check comes first")
    before = _digest(image)
    res = runner.invoke(app, ["prepare", str(folder), "--out", str(image), "--no-progress"])
    assert res.exit_code == 2 and "file of the input folder" in res.output and "image.ome.tif" in res.output
    assert _digest(image) == before


def test_embed_out_equal_to_the_store_is_refused(tmp_path):
    store = tmp_path / "s.h5"
    store.write_bytes(b"store bytes")
    res = runner.invoke(app, ["embed", str(store), "--run", str(tmp_path / "run"), "--out", str(store)])
    assert res.exit_code == 2 and "is the input" in res.output
    assert store.read_bytes() == b"store bytes"


def test_evaluate_out_that_is_a_file_fails_before_the_work(tmp_path):
    emb = tmp_path / "emb.h5ad"
    emb.write_bytes(b"x")
    blocker = tmp_path / "eval"
    blocker.write_text("a file where the output folder should go")
    res = runner.invoke(app, ["evaluate", str(emb), "--out", str(blocker)])
    assert res.exit_code == 2 and "is a file; give a folder" in res.output
