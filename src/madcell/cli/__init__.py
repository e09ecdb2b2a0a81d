"""The ``madcell`` command line. Each subcommand lives in its own module of this package and
exposes ``register(app)``; modules are discovered here so commands stay independent."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

app = typer.Typer(
    name="madcell",
    help="MAD: microenvironment-aware per-cell embeddings from microscopy (virtual spatial omics).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

@app.callback()
def _main(threads: int = typer.Option(0, "--threads", help="Torch threads (default: torch's choice, at most the CPUs this process may use).")) -> None:
    """MAD: microenvironment-aware per-cell embeddings from microscopy (virtual spatial omics)."""
    from madcell.errors import InputError
    from madcell.utils.threads import set_threads

    if threads < 0:
        raise typer.BadParameter(f"must be >= 0, got {threads}") from InputError("--threads", "negative")
    set_threads(threads or None)


_ORDER = ["run", "synth", "segment", "prepare", "pretrain", "embed", "decode", "evaluate", "analyze", "predict", "report", "niche", "export", "benchmark", "demo"]


def _register_all() -> None:
    found = {m.name for m in pkgutil.iter_modules(__path__) if m.name not in ("common", "__main__")}
    for name in sorted(found, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n)):
        importlib.import_module(f"madcell.cli.{name}").register(app)


_register_all()
