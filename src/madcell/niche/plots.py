"""Side-by-side spatial niche maps: teacher | student | baselines, one row per slide.

Predicted labels are recoloured to their Hungarian-matched teacher niche so the same colour means
the same niche across panels; unmatched predicted niches get extra colours. Held-out cells (where
the methods are scored) are drawn opaque, training-region cells faded.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from madcell.niche.evaluate import match_niches  # noqa: E402
from madcell.utils.atomic import atomic_path  # noqa: E402


def aligned(reference: np.ndarray, predicted: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Relabel ``predicted`` to matched ``reference`` ids (matching on ``mask`` cells)."""
    pairs = match_niches(reference[mask], predicted[mask])
    nxt = int(max(reference.max(initial=0), 0)) + 1
    out = np.empty_like(predicted)
    for p in np.unique(predicted):
        if int(p) not in pairs:
            pairs[int(p)], nxt = nxt, nxt + 1
        out[predicted == p] = pairs[int(p)]
    return out


def niche_maps(
    xy: np.ndarray,
    slides: np.ndarray,
    labels: dict[str, np.ndarray],
    heldout: np.ndarray,
    path: str | Path,
    titles: dict[str, str] | None = None,
    max_slides: int = 4,
    flip_y: bool = True,
) -> Path:
    """Write the PNG; ``labels`` maps panel name -> integer labels, first entry = the reference."""
    names = list(labels)
    ref = np.asarray(labels[names[0]]).astype(int)
    everyone = np.ones(len(ref), dtype=bool)  # colour matching on all cells: every niche gets its partner
    lab = {n: (ref if i == 0 else aligned(ref, np.asarray(labels[n]).astype(int), everyone)) for i, n in enumerate(names)}
    n_col = int(max(v.max() for v in lab.values())) + 1
    cmap = plt.get_cmap("tab10" if n_col <= 10 else "tab20")
    colours = np.array([cmap(i % cmap.N) for i in range(n_col)])
    slide_ids = list(dict.fromkeys(np.asarray(slides).astype(str)))[:max_slides]
    fig, axes = plt.subplots(len(slide_ids), len(names), figsize=(3.6 * len(names), 3.6 * len(slide_ids) + 0.8), squeeze=False)
    for r, s in enumerate(slide_ids):
        m = np.asarray(slides).astype(str) == s
        size = float(np.clip(6000 / max(m.sum(), 1), 1, 40))
        for c, n in enumerate(names):
            ax = axes[r, c]
            for sel, alpha in ((m & ~heldout, 0.3), (m & heldout, 1.0)):
                ax.scatter(xy[sel, 0], xy[sel, 1], c=colours[lab[n][sel]], s=size, alpha=alpha, linewidths=0)
            ax.set_aspect("equal")
            if flip_y:
                ax.invert_yaxis()
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title((titles or {}).get(n, n), fontsize=10)
            if c == 0:
                ax.set_ylabel(f"slide {s}", fontsize=9)
    handles = [Line2D([], [], marker="o", ls="", color=colours[i], label=f"niche {i}") for i in range(n_col)]
    fig.legend(handles=handles, loc="lower center", ncol=min(n_col, 10), fontsize=8, frameon=False)
    fig.suptitle("Niches (opaque = held-out blocks, faded = training region; colours matched to teacher)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
