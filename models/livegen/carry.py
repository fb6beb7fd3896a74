"""MotionCarry: the newest latent frame moved on by the motion the decoder sees in it.

Objects move about three quarters of a latent cell per latent frame. A denoiser that must redraw
each shape at a new sub-cell offset puts it no nearer the truth than leaving it in place, while
the decoder's velocity branch, trained against the renderer's true motion, already infers from a
latent frame and the one before it how the scene moved. A bridge model starts each continuation
from the newest frame carried on by that motion, so the denoiser corrects a prediction instead of
inventing the move (docs/architecture.md).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import pyramid
from .vae import VideoVAE

CELL_PX = 16  # video pixels per latent cell: the autoencoder's spatial compression


class MotionCarry(nn.Module):
    """(latent, previous) normalised (B, C, h, w) -> latent moved on by one latent frame's motion.

    The velocity (pixels per video frame) comes from the decoder's branch at 1/4 resolution and is
    averaged per latent cell. A cell takes the velocity of largest magnitude within one cell of it,
    so the cells an object moves into move with it (no object moves a whole cell per latent frame).
    The move is a bilinear resampling on the torus, as the world wraps round. The export graph
    runs only when there is a previous frame."""

    def __init__(self, vae: VideoVAE):
        super().__init__()
        self.vae = vae

    def displacement(self, latent: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        """(B, 2, h, w): x and y cells per latent frame."""
        vae = self.vae
        both = torch.cat([vae.denormalize(latent), vae.denormalize(previous)], dim=1)
        v = vae.decoder.velocity(both)  # (B, 2, 4h, 4w): at 1/4 resolution, four per latent cell
        v = F.avg_pool2d(v, 4)
        rolled = [torch.roll(v, (dy, dx), dims=(2, 3)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        candidates = torch.stack(rolled, dim=2)  # (B, 2, 9, h, w)
        best = candidates.pow(2).sum(dim=1, keepdim=True).argmax(dim=2, keepdim=True)  # (B, 1, 1, h, w)
        v = torch.gather(candidates, 2, best.expand(-1, 2, -1, -1, -1)).squeeze(2)
        return v * vae.cfg.frames_per_latent / CELL_PX

    def forward(self, latent: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        d = self.displacement(latent, previous)
        h, w = latent.shape[-2:]
        m = 2  # margin of wrapped cells: more than any displacement
        padded = torch.cat([latent[..., -m:, :], latent, latent[..., :m, :]], dim=-2)
        padded = torch.cat([padded[..., -m:], padded, padded[..., :m]], dim=-1)
        ys = torch.arange(h, dtype=latent.dtype)[None, :, None] + m + 0.5 - d[:, 1]
        xs = torch.arange(w, dtype=latent.dtype)[None, None, :] + m + 0.5 - d[:, 0]
        grid = torch.stack([xs / (w + 2 * m) * 2 - 1, ys / (h + 2 * m) * 2 - 1], dim=-1)  # (B, h, w, 2)
        return F.grid_sample(padded, grid, mode="bilinear", padding_mode="border", align_corners=False)


@torch.no_grad()
def bridge_start(carry: MotionCarry, newest: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    """Where a bridge model's flow starts, per clip (B, C, h, w): the newest frame carried on by its
    motion where a frame came before it, else the newest frame itself (zeros without a past)."""
    return torch.where(pyramid.present(previous)[:, None, None, None], carry(newest, previous), newest)
