"""Cross-modal niche distillation (Hizmi et al., arXiv 2604.09076): tissue niches defined from
spatial transcriptomics (neighbourhood cell-type composition) are distilled into a student that sees
only frozen image embeddings of a cell and its neighbours, then predicted on held-out tissue.

Entry point: :func:`run_niche`; CLI: ``madcell niche``.
"""

from madcell.niche.pipeline import niche_config, run_niche

__all__ = ["run_niche", "niche_config"]
