"""A PNG grid of example views from a view store: what the model actually sees.

Each column is one cell (picked per label class when a label column is given, so every class shows
up); the top row is its morphology view, the bottom row its microenvironment view. Channels are shown
as a false-colour composite (one fixed colour per channel, added and clipped), so any channel count
works: 1 channel is grey, RGB stores (H&E) are shown as they are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from madcell.data.source import ViewSource, open_views
from madcell.views.thumbnail import channel_colours


def composite(views: np.ndarray, channel_names: list[str]) -> np.ndarray:
    """(n, C, h, w) 0-1 -> (n, h, w, 3) RGB, with the slide thumbnails' channel colours."""
    colours = channel_colours(list(channel_names))
    return np.clip(np.einsum("nchw,ck->nhwk", views, colours), 0, 1)


def pick_cells(store: ViewSource, n: int, label: str | None, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Up to ``n`` example cells: one per class of ``label``, largest classes first, each drawn from
    the class's cells away from the slide border (microenvironment window inside the slide, centroid
    in the inner part of the slide's extent), falling back to any cell of the class."""
    rng = np.random.default_rng(seed)
    obs = store.obs
    inner = np.ones(len(obs), bool)
    if "edge" in obs:
        inner &= ~obs["edge"].to_numpy(bool)
    for c in ("x_px", "y_px"):  # centroid in the middle 80 % of its slide's extent
        v = obs[c].to_numpy(float)
        slide = obs["slide"].astype(str).to_numpy() if "slide" in obs else np.zeros(len(obs), str)
        for s in np.unique(slide):
            m = slide == s
            lo, hi = np.percentile(v[m], [10, 90])
            inner[m] &= (v[m] >= lo) & (v[m] <= hi)

    def draw(members: np.ndarray) -> int:
        good = members[inner[members]]
        return int(rng.choice(good if len(good) else members))

    if label is None or label not in obs:
        pool = np.flatnonzero(inner) if inner.sum() >= n else np.arange(len(obs))
        idx = np.sort(rng.choice(pool, size=min(n, len(pool)), replace=False))
        return idx, [str(obs.index[i]) for i in idx]
    values = obs[label].astype(str).to_numpy()
    classes = obs[label].dropna().astype(str).value_counts().index[:n].tolist()  # largest first
    idx = np.array([draw(np.flatnonzero(values == c)) for c in classes])
    return idx, classes


def plot_view_grid(store: str | Path | ViewSource, path: str | Path, n: int = 10, label: str | None = None,
                   seed: int = 0) -> Path:
    """Write the grid PNG to ``path`` and return it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from madcell.utils.atomic import atomic_path

    vs = open_views(store)
    idx, titles = pick_cells(vs, n, label, seed)
    morph = composite(vs.read_morph(idx), vs.channel_names)
    micro = composite(vs.read_micro(idx), vs.channel_names)
    k = len(idx)
    fig, axes = plt.subplots(2, k, figsize=(1.6 * k + 0.8, 3.8), squeeze=False)
    for j in range(k):
        for row, imgs in enumerate((morph, micro)):
            ax = axes[row, j]
            ax.imshow(imgs[j], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, j].set_title(titles[j].replace("_", "\n", 1), fontsize=8)
    axes[0, 0].set_ylabel(f"morphology\n{vs.morph_size} px", fontsize=9)
    axes[1, 0].set_ylabel(f"microenvironment\n{vs.micro_size} px", fontsize=9)
    fig.suptitle(f"Example views ({', '.join(vs.channel_names)})", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
