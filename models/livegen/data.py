"""Training data drawn from the world: rendered clips with their captions, on the training split."""
from __future__ import annotations

import numpy as np
import torch

from . import world


def clip_batch(rng: np.random.Generator, batch: int, n_frames: int, size: int, fps: float,
               heldout: dict, max_start: float = 30.0) -> tuple[torch.Tensor, list[world.Scene], list[float]]:
    """`batch` training-split clips (B, n_frames, 3, size, size) in [-1, 1], their scenes and start times.

    Clips start at a random time, so objects are seen everywhere, mid-wrap and mid-bounce too.
    """
    scenes = [world.sample_scene(rng, heldout, want_heldout=False) for _ in range(batch)]
    starts = [float(rng.uniform(0, max_start)) for _ in range(batch)]
    video = torch.stack([world.render(s, n_frames, size, fps, t0) for s, t0 in zip(scenes, starts)])
    return video.float().div_(127.5).sub_(1), scenes, starts


def edit_clip_batch(rng: np.random.Generator, batch: int, n_frames: int, switch: list[int], size: int, fps: float,
                    heldout: dict) -> tuple[torch.Tensor, list[world.Scene], list[world.Scene]]:
    """Clips with a steering edit: scene A up to video frame `switch[b]`, then the edited scene B
    from there on, continuing the same motion. Both scenes are on the training split."""
    before = [world.sample_scene(rng, heldout, want_heldout=False) for _ in range(batch)]
    after = [world.edit_scene(rng, s, heldout, want_heldout=False) for s in before]
    clips = []
    for a, b, cut in zip(before, after, switch):
        t0 = float(rng.uniform(0, 60.0))
        clips.append(torch.cat([world.render(a, cut, size, fps, t0), world.render(b, n_frames - cut, size, fps, t0 + cut / fps)]))
    return torch.stack(clips).float().div_(127.5).sub_(1), before, after


def twin_clip_batch(rng: np.random.Generator, batch: int, n_frames: int, size: int, fps: float,
                    heldout: dict) -> tuple[torch.Tensor, list[world.Scene], list[world.Scene]]:
    """Pairs of clips (B, 2, n_frames, 3, size, size) in [-1, 1]: a scene, then its twin with every
    object's shape swapped (world.swapped), rendered over the same time. Both are on the training split."""
    pairs: list[tuple[world.Scene, world.Scene]] = []
    while len(pairs) < batch:
        a = world.sample_scene(rng, heldout, want_heldout=False)
        b = world.swapped(a, "shape")
        if not world.is_heldout(b, heldout):
            pairs.append((a, b))
    video = []
    for a, b in pairs:
        t0 = float(rng.uniform(0, 60.0))
        video.append(torch.stack([world.render(a, n_frames, size, fps, t0), world.render(b, n_frames, size, fps, t0)]))
    return torch.stack(video).float().div_(127.5).sub_(1), [a for a, _ in pairs], [b for _, b in pairs]
