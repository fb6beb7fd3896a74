"""Losses on decoded video frames, shared by the decoder phases and the denoiser's decoded-frame term."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def pixel_foreground_weights(video: torch.Tensor, strength: float) -> torch.Tensor:
    """Per-pixel loss weights (..., 1, H, W) with mean 1, larger on and around the objects.
    Backgrounds shade along y only, so each row's median is its background colour."""
    background = video.median(dim=-1, keepdim=True).values  # (..., 3, H, 1)
    mask = ((video - background).abs().amax(dim=-3, keepdim=True) > 0.1).float()
    flat = mask.flatten(0, -4)
    mask = F.max_pool2d(flat, 5, stride=1, padding=2).reshape(mask.shape)  # the edges count too
    w = 1 + strength * mask
    return w / w.mean(dim=(-2, -1), keepdim=True)


def edge_error(recon: torch.Tensor, video: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """L1 error of frames (..., 3, H, W) under per-pixel weights (`pixel_foreground_weights`), plus
    the L1 error of their image gradients: a shape lives in its edges and corners, which a plain
    pixel loss lets blur."""
    return ((recon - video).abs() * weight).mean() + sum(
        F.l1_loss(a, b) for a, b in zip(image_gradients(recon), image_gradients(video)))
