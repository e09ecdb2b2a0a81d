"""Small shared helpers (atomic file writes, seeding, progress)."""

from madcell.utils.atomic import atomic_path, atomic_write_text

__all__ = ["atomic_path", "atomic_write_text"]
