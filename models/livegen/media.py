"""Writing frames as PNG contact sheets and GIFs."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """(..., 3, H, W) in [-1, 1] or uint8 -> (..., H, W, 3) uint8."""
    if video.dtype != torch.uint8:
        video = ((video.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return video.movedim(-3, -1).cpu().numpy()


def contact_sheet(rows: list[torch.Tensor], path: str, every: int = 1, scale: float = 1.0) -> None:
    """One row per clip (T, 3, H, W), every `every`-th frame, written as a PNG, optionally scaled down."""
    strips = [np.concatenate(list(to_uint8(r[::every])), axis=1) for r in rows]
    width = max(s.shape[1] for s in strips)
    strips = [np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0))) for s in strips]
    image = Image.fromarray(np.concatenate(strips, axis=0))
    if scale != 1.0:
        image = shrink(image, scale)
    image.save(path, optimize=True)


def shrink(image: Image.Image, scale: float) -> Image.Image:
    """Box-filtered downscale, so model cards stay small."""
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.BOX)


def gif(video: torch.Tensor, path: str, fps: float) -> None:
    """(T, 3, H, W) as an animated GIF."""
    frames = [Image.fromarray(f) for f in to_uint8(video)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0)
