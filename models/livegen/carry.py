"""MotionCarry: the newest latent frame moved on by the motion the decoder sees in it, steered by the text.

Objects move about three quarters of a latent cell per latent frame. A denoiser that must redraw
each shape at a new sub-cell offset puts it no nearer the truth than leaving it in place, while
the decoder's velocity branch, trained against the renderer's true motion, already infers from a
latent frame and the one before it how the scene moved. A bridge model starts each continuation
from the newest frame carried on by that motion, so the denoiser corrects a prediction instead of
inventing the move (docs/architecture.md).

What the decoder sees cannot start a motion: a stream's second frame has no frame before its
newest, and its pair is still, so everything would stay where the first frame put it. Nor can it
follow an edit that changes a motion. The MotionHead adds what the prompt says: a correction to
the observed motion from the newest frame and the text, trained on where the next frame's objects
really go.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import pyramid
from .vae import VideoVAE

CELL_PX = 16  # video pixels per latent cell: the autoencoder's spatial compression


class MotionHead(nn.Module):
    """(latent (B, C, h, w) normalised, observed (B, 2, h, w) cells, text (B, L, Dt), text_mask (B, L))
    -> a correction to the observed displacement (B, 2, h, w) in cells per latent frame.

    Each cell attends to the prompt's tokens with what it shows (its colour and shape features),
    which binds an object to its own motion words when a prompt names two. Zero at start: the
    carry of what the decoder sees."""

    def __init__(self, channels: int, text_width: int, width: int = 64):
        super().__init__()
        self.cells = nn.Sequential(nn.Conv2d(channels + 3, width, 3, padding=1), nn.SiLU(), nn.Conv2d(width, width, 3, padding=1))
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(text_width, width)
        self.value = nn.Linear(text_width, width)
        self.out = nn.Sequential(nn.Conv2d(2 * width, width, 3, padding=1), nn.SiLU(), nn.Conv2d(width, 2, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def untrained(self) -> bool:
        """Whether its output layer is still at its zero start: a head no step has taught."""
        return not any(bool(p.any()) for p in self.out[-1].parameters())

    def forward(self, latent, observed, seen, text, text_mask):
        """`seen` (B,) is 1 where a previous frame gave the observed motion, else 0."""
        b, _, h, w = latent.shape
        flag = seen[:, None, None, None].expand(-1, 1, h, w)
        x = self.cells(torch.cat([latent, observed, flag], dim=1))  # (B, W, h, w)
        q = self.query(x.flatten(2).transpose(1, 2))  # (B, hw, W)
        att = q @ self.key(text).transpose(1, 2) * q.shape[-1] ** -0.5 + ((1 - text_mask) * -1e4)[:, None, :]
        y = (att.softmax(dim=-1) @ self.value(text)).transpose(1, 2).reshape(b, -1, h, w)
        return self.out(F.silu(torch.cat([x, y], dim=1)))


class MotionCarry(nn.Module):
    """(latent, previous) normalised (B, C, h, w), the prompt's (text, text_mask) -> latent moved on
    by one latent frame's motion.

    The observed velocity (pixels per video frame) comes from the decoder's branch at 1/4
    resolution and is averaged per latent cell. A cell takes the velocity of largest magnitude
    within one cell of it, so the cells an object moves into move with it (no object moves a whole
    cell per latent frame). Without a previous frame (zeros) nothing is observed. The head adds
    the prompt's correction. The move is a bilinear resampling on the torus, as the world wraps
    round."""

    def __init__(self, vae: VideoVAE, motion: MotionHead):
        super().__init__()
        self.vae = vae
        self.motion = motion  # named as the denoiser names it, so the exported graph's weights are the denoiser's

    def observed(self, latent: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        """(B, 2, h, w): x and y cells per latent frame, as the decoder's velocity branch sees them."""
        vae = self.vae
        both = torch.cat([vae.denormalize(latent), vae.denormalize(previous)], dim=1)
        v = vae.decoder.velocity(both)  # (B, 2, 4h, 4w): at 1/4 resolution, four per latent cell
        v = F.avg_pool2d(v, 4)
        rolled = [torch.roll(v, (dy, dx), dims=(2, 3)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        candidates = torch.stack(rolled, dim=2)  # (B, 2, 9, h, w)
        best = candidates.pow(2).sum(dim=1, keepdim=True).argmax(dim=2, keepdim=True)  # (B, 1, 1, h, w)
        v = torch.gather(candidates, 2, best.expand(-1, 2, -1, -1, -1)).squeeze(2)
        return v * vae.cfg.frames_per_latent / CELL_PX

    def displacement(self, latent, previous, text, text_mask) -> torch.Tensor:
        """(B, 2, h, w): the observed displacement plus the head's correction."""
        seen = pyramid.present(previous).to(latent.dtype)
        return self.corrected(latent, self.observed(latent, previous) * seen[:, None, None, None], seen, text, text_mask)

    def corrected(self, latent, observed, seen, text, text_mask) -> torch.Tensor:
        """The head's displacement given what was observed (zeros where nothing was, `seen` 0)."""
        return observed + self.motion(latent, observed, seen, text, text_mask)

    def forward(self, latent, previous, text, text_mask) -> torch.Tensor:
        return move(latent, self.displacement(latent, previous, text, text_mask))


def move(latent: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Latent (B, C, h, w) resampled so that what was at a cell lands d (B, 2, h, w) cells on, on the torus."""
    h, w = latent.shape[-2:]
    m = 2  # margin of wrapped cells: more than any displacement
    padded = torch.cat([latent[..., -m:, :], latent, latent[..., :m, :]], dim=-2)
    padded = torch.cat([padded[..., -m:], padded, padded[..., :m]], dim=-1)
    ys = torch.arange(h, dtype=latent.dtype, device=latent.device)[None, :, None] + m + 0.5 - d[:, 1]
    xs = torch.arange(w, dtype=latent.dtype, device=latent.device)[None, None, :] + m + 0.5 - d[:, 0]
    grid = torch.stack([xs / (w + 2 * m) * 2 - 1, ys / (h + 2 * m) * 2 - 1], dim=-1)  # (B, h, w, 2)
    return F.grid_sample(padded, grid, mode="bilinear", padding_mode="border", align_corners=False)


def motion_loss(carry: MotionCarry, newest, previous, target, text, text_mask) -> torch.Tensor:
    """The head's loss on examples with a past: its displacement of the newest frame against the
    one the decoder's branch sees from the newest to the true next frame, weighted towards the
    cells that move (objects cover a few percent of a frame)."""
    with torch.no_grad():
        true = carry.observed(target, newest)
    per_clip = motion_error(carry.displacement(newest, previous, text, text_mask), true)
    has_past = pyramid.present(newest).float()
    return (per_clip * has_past).sum() / has_past.sum().clamp_min(1)


def motion_error(d: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """(B,) squared error of displacements (B, 2, h, w), five times over the cells that move."""
    weight = 1 + 4 * (true.pow(2).sum(dim=1, keepdim=True) > 0.01).float()
    return ((d - true).pow(2) * weight).flatten(1).mean(dim=1)


@torch.no_grad()
def bridge_start(carry: MotionCarry, newest: torch.Tensor, previous: torch.Tensor, text, text_mask) -> torch.Tensor:
    """Where a bridge model's flow starts, per clip (B, C, h, w): the newest frame carried on by its
    motion and the prompt (zeros without a past)."""
    return torch.where(pyramid.present(newest)[:, None, None, None], carry(newest, previous, text, text_mask), newest)
