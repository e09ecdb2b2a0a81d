"""``python -m madcell.cli ...`` (what ``torchrun -m madcell.cli pretrain ...`` runs)."""

from madcell.cli import app

app()
