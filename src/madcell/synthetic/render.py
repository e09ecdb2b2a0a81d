"""Render one block of the slide: label mask and fluorescence or H&E pixels.

Per block (plus a small halo so blur and membrane rims are exact at block edges):

1. rasterise the cells whose reach touches the window (:func:`madcell.synthetic.shapes.paint`);
2. marker abundances per compartment: nucleus (chromatin texture = fine noise scaled by the type's
   ``nuc_tex``), membrane (a ~0.8 µm rim inside each mask boundary), cytoplasm (medium-scale texture
   scaled by ``cyto_tex``, dimmer over the nucleus), ECM (fibres outside cells, oriented along the
   same smooth angle field that orients fibroblasts, weighted by the niche; none in vessel lumens);
   each cell's levels are its type's marker row times per-cell log-normal jitter;
3. optical blur (Gaussian, 0.35 µm), a slide-wide low-frequency illumination field (±~25 %);
4. fluorescence: photon counts ``offset + gain * illumination * (abundance + autofluorescence)``
   with Poisson shot noise and Gaussian read noise, uint16; or H&E: Beer-Lambert absorbance of
   haematoxylin (nuclei) and eosin (cytoplasm, membrane, ECM) with standard stain vectors, uint8 RGB.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from madcell.synthetic.fields import FourierField, smooth_noise
from madcell.synthetic.geometry import NicheGeometry
from madcell.synthetic.params import NICHE_ECM, NICHES, morphology_table, MORPH_FIELDS
from madcell.synthetic.shapes import CellShapes, paint

HEMATOXYLIN = np.array([0.65, 0.70, 0.29])  # Ruifrok & Johnston optical-density stain vectors
EOSIN = np.array([0.07, 0.99, 0.11])
FIBRE_HALF_LENGTH_UM, FIBRE_SAMPLES, FIBRE_GRID_UM = 6.0, 9, 0.8
FLUO_OFFSET, FLUO_GAIN, FLUO_READ_NOISE, AUTOFLUORESCENCE = 100.0, 1800.0, 3.0, 0.03


class Renderer:
    def __init__(self, geometry: NicheGeometry, shapes: CellShapes, cell_type: np.ndarray, levels: np.ndarray,
                 modality: str, pixel_size_um: float, seed: int, rng: np.random.Generator):
        self.geom, self.shapes, self.levels = geometry, shapes, levels.astype(np.float32)
        self.modality, self.ps, self.seed = modality, float(pixel_size_um), int(seed)
        morph = morphology_table()
        self.nuc_tex = morph[cell_type, MORPH_FIELDS.index("nuc_tex")].astype(np.float32)
        self.cyto_tex = morph[cell_type, MORPH_FIELDS.index("cyto_tex")].astype(np.float32)
        self.ecm_weight = np.array([NICHE_ECM[n] for n in NICHES], np.float32)
        self.illumination = FourierField(rng, (300.0, 2000.0), n_waves=6)
        self.blur_px = 0.35 / self.ps
        self.rim_px = max(1, int(round(0.8 / self.ps)))
        self.margin = int(np.ceil(4 * self.blur_px)) + self.rim_px + 1
        self.max_reach = float(shapes.reach.max()) if len(shapes) else 0.0

    def _cells_near(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        cy = self.shapes.cy  # sorted ascending (cells are in raster order)
        lo, hi = np.searchsorted(cy, [y0 - self.max_reach, y1 + self.max_reach])
        idx = np.arange(lo, hi)
        cx = self.shapes.cx[idx]
        return idx[(cx >= x0 - self.max_reach) & (cx <= x1 + self.max_reach)]

    def _fibres(self, wy0: int, wy1: int, wx0: int, wx1: int) -> np.ndarray:
        """Collagen-like fibres: fine noise averaged along the local orientation (line-integral
        convolution over ±FIBRE_HALF_LENGTH_UM), so fibres follow the same smooth angle field as
        fibroblasts and bend with it. Computed on a grid of ~FIBRE_GRID_UM (aligned to the global
        pixel grid, so blocks agree) and linearly upsampled."""
        f = max(1, int(round(FIBRE_GRID_UM / self.ps)))
        step = f * self.ps  # µm per coarse pixel
        ky0, ky1 = wy0 // f, -(-(wy1 - 1) // f)
        kx0, kx1 = wx0 // f, -(-(wx1 - 1) // f)
        theta = self.geom.fibre_angle_field.grid(np.arange(kx0, kx1 + 1) * step, np.arange(ky0, ky1 + 1) * step)
        theta *= np.float32(0.5 * np.pi)
        L = int(np.ceil(FIBRE_HALF_LENGTH_UM / step)) + 1
        noise = smooth_noise(self.seed, 3, ky0 - L, ky1 + 1 + L, kx0 - L, kx1 + 1 + L, (0.5 / step, 0.5 / step))
        rows, cols = np.mgrid[L : L + ky1 + 1 - ky0, L : L + kx1 + 1 - kx0].astype(np.float32)
        dy, dx = np.sin(theta), np.cos(theta)
        acc = np.zeros(theta.shape, np.float32)
        for t in np.linspace(-(L - 1), L - 1, FIBRE_SAMPLES, dtype=np.float32):
            acc += ndimage.map_coordinates(noise, [rows + t * dy, cols + t * dx], order=1, mode="nearest")
        fibre = np.clip(0.45 + 0.6 * acc / np.sqrt(np.float32(FIBRE_SAMPLES / 2.0)), 0, None)
        if f > 1:
            # output side f*(n-1)+1 with grid_mode=False: coarse sample k lands exactly on pixel f*k
            zoom = [(f * (n - 1) + 1) / n for n in fibre.shape]
            fibre = ndimage.zoom(fibre, zoom, order=1, grid_mode=False)
        return fibre[wy0 - f * ky0 : wy1 - f * ky0, wx0 - f * kx0 : wx1 - f * kx0]

    def render(self, y0: int, y1: int, x0: int, x1: int) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (C, y1-y0, x1-x0) and labels (int32) of the block [y0:y1, x0:x1]."""
        m = self.margin
        wy0, wy1, wx0, wx1 = y0 - m, y1 + m, x0 - m, x1 + m
        h, w = wy1 - wy0, wx1 - wx0
        lab, nuc = paint(self.shapes, self._cells_near(wy0, wy1, wx0, wx1), wy0, wx0, h, w)
        inside = lab > 0
        ci = np.where(inside, lab - 1, 0)
        L = self.levels[ci] * inside[..., None]  # (h, w, 4)
        size = 2 * self.rim_px + 1
        rim = inside & (ndimage.maximum_filter(lab, size) != ndimage.minimum_filter(lab, size))

        s, ps = self.seed, self.ps
        fine = smooth_noise(s, 1, wy0, wy1, wx0, wx1, (0.4 / ps, 0.4 / ps))
        med = smooth_noise(s, 2, wy0, wy1, wx0, wx1, (1.2 / ps, 1.2 / ps))
        x1d, y1d = np.arange(wx0, wx1) * ps, np.arange(wy0, wy1) * ps
        yy, xx = np.meshgrid(y1d, x1d, indexing="ij")
        g = self.geom
        tumour = g.tumour_field.grid(x1d, y1d)
        niche, lumen, _ = g.classify_local(xx, yy, tumour, g.warp_field.grid(x1d, y1d))
        ecm = self.ecm_weight[niche]
        soft = niche <= 1  # tumour/stroma: soft transition instead of a hard edge
        ecm[soft] = self.ecm_weight[0] + (self.ecm_weight[1] - self.ecm_weight[0]) * g.stroma_weight(tumour[soft])
        fibre = self._fibres(wy0, wy1, wx0, wx1)

        nf = nuc.astype(np.float32)
        chans = np.empty((4, h, w), np.float32)
        chans[0] = L[..., 0] * np.clip(1 + self.nuc_tex[ci] * fine, 0, None) * nf
        chans[1] = L[..., 1] * (rim + 0.12 * inside)
        chans[2] = L[..., 2] * np.clip(1 + self.cyto_tex[ci] * med, 0, None) * (1 - 0.5 * nf)
        chans[3] = ecm * fibre * ~inside * ~lumen + L[..., 3]
        for c in range(4):
            chans[c] = ndimage.gaussian_filter(chans[c], self.blur_px)
        illum = 1.0 + 0.25 * self.illumination.grid(x1d, y1d)
        core = (slice(m, m + y1 - y0), slice(m, m + x1 - x0))
        rng = np.random.default_rng([s, 7, y0, x0])
        if self.modality == "fluorescence":
            expected = FLUO_OFFSET + FLUO_GAIN * np.clip(illum, 0.3, None) * (chans + AUTOFLUORESCENCE)
            counts = rng.poisson(expected[(slice(None),) + core]) + rng.normal(0, FLUO_READ_NOISE, (4, y1 - y0, x1 - x0))
            pixels = np.clip(np.rint(counts), 0, 65535).astype(np.uint16)
        else:
            hema = 1.1 * chans[0] + 0.08 * inside
            eosin = 0.7 * chans[2] + 0.3 * chans[1] + 0.5 * chans[3]
            od = hema[None] * HEMATOXYLIN[:, None, None] + eosin[None] * EOSIN[:, None, None]
            light = 242.0 * (1.0 + 0.25 * (illum - 1.0))  # brightfield varies less than fluorescence
            rgb = light[None] * np.exp(-od)
            rgb = rgb[(slice(None),) + core] + rng.normal(0, 2.0, (3, y1 - y0, x1 - x0))
            pixels = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
        return pixels, lab[core]
