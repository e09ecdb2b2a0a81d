"""Cross-modal niche distillation on a small synthetic tissue (about 2 minutes on 2 CPU cores).

    python examples/niche_distillation.py --out /tmp/niche_example

Expression defines niches (teacher, fitted on training blocks only); a student that sees only image
embeddings of a cell and its neighbours learns them and predicts them on held-out spatial blocks.
The image features here are the untrained ViT's, so the example runs in seconds; use a MAD run's
embedding (``madcell embed``) for real work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from madcell.config import load_config
from madcell.embed import embed_store
from madcell.models import Encoder
from madcell.niche import run_niche
from madcell.synthetic import make_tissue
from madcell.views import prepare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("niche_example"))
    ap.add_argument("--cells", type=int, default=1500)
    args = ap.parse_args()

    tissue = make_tissue(args.out / "tissue", n_cells=args.cells, seed=1)
    store = prepare(tissue, args.out / "views.h5", config="cpu-tiny", progress=False)
    cfg = load_config("cpu-tiny", {"niche": {"student": "mlp"}})
    from madcell.data import ViewStore

    with ViewStore(store) as vs:
        enc = Encoder.untrained(cfg, vs.n_channels, vs.channel_names, seed=0)
    adata = embed_store(store, enc, args.out / "emb.h5ad", method="untrained_vit", progress=False)
    adata, metrics = run_niche(adata, cfg, out_dir=args.out / "niche")
    for name, m in metrics["methods"].items():
        print(f"{name:>22}: held-out ARI {m['ari']['value']:.3f} [{m['ari']['lo']:.3f}, {m['ari']['hi']:.3f}]")
    print(f"maps: {args.out / 'niche' / 'niche_maps.png'}")


if __name__ == "__main__":
    main()
