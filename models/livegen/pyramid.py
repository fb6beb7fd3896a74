"""The two pyramids of Pyramid Flow: spatial stages within a frame, temporal levels of history.

Spatial: stage k works at 1/2^(K-1-k) of the latent side and moves sigma from start[k] to
end[k] (flow matching, x_sigma = (1 - sigma) x0 + sigma n). At a jump the latent is upsampled
(nearest, 2x) and renoised, x <- alpha Up(x) + beta n', with block noise
n' = (2 / sqrt 3) (z - mean of each 2x2 block of z), z ~ N(0, I). With end e of one stage,
the next starts at s' = 2e / (1 + e), alpha = (1 - s') / (1 - e) and beta = s' sqrt(3) / 2: then
the signal part is (1 - s') Up(Down(x0)) and the noise part is distributed as s' N(0, I).
Pyramid Flow's ends (0.667, 0.334, 0) give its constants: starts 1, 0.8002, 0.5007;
(alpha, beta) = (0.5999, 0.6930) and (0.7496, 0.4337).

Temporal: the history is a fixed set of slots, newest first: `levels` lists (downsampling
factor, frame count). Each slot holds one past latent frame pooled to its level's size; slots
before the stream's start are empty (masked). The token count is therefore fixed, however long
the stream runs.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class SpatialPyramid:
    ends: tuple[float, ...] = (0.667, 0.334, 0.0)  # stage end sigmas; Pyramid Flow's three stages
    steps: tuple[int, ...] = (6, 4, 3)  # Euler steps per stage at sampling time

    @property
    def stages(self) -> int:
        return len(self.ends)

    @property
    def starts(self) -> tuple[float, ...]:
        return (1.0,) + tuple(2 * e / (1 + e) for e in self.ends[:-1])

    def jump(self, k: int) -> tuple[float, float]:
        """(alpha, beta) of the jump into stage k >= 1."""
        e, s = self.ends[k - 1], self.starts[k]
        return (1 - s) / (1 - e), s * math.sqrt(3) / 2

    def factor(self, k: int) -> int:
        """Downsampling factor of stage k against the full latent."""
        return 2 ** (self.stages - 1 - k)


@dataclass
class TemporalPyramid:
    levels: tuple[tuple[int, int], ...] = ((1, 1), (2, 2), (4, 4))  # (downsampling factor, frames), newest first
    noise: float = 0.1  # sigma_c the history is corrupted with at sampling time

    @property
    def frames(self) -> int:
        return sum(n for _, n in self.levels)

    def tokens(self, latent_size: int, patch: int) -> int:
        return sum(n * (latent_size // f // patch) ** 2 for f, n in self.levels)


def down(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Average pooling of (..., C, h, w) by `factor`."""
    if factor == 1:
        return x
    shape = x.shape
    y = F.avg_pool2d(x.reshape(-1, *shape[-3:]), factor)
    return y.reshape(*shape[:-2], *y.shape[-2:])


def up(x: torch.Tensor) -> torch.Tensor:
    """Nearest 2x upsampling of (B, C, h, w)."""
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def block_noise(z: torch.Tensor) -> torch.Tensor:
    """Zero mean inside each 2x2 block, unit variance per element."""
    return (2 / math.sqrt(3)) * (z - up(F.avg_pool2d(z, 2)))


def history_levels(past: list[torch.Tensor], tp: TemporalPyramid) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """From past latents (each (B, C, h, w), oldest first) to the model's history input:
    per level (latents (B, F, C, h/f, w/f), ages (B, F), mask (B, F))."""
    ref = past[-1] if past else None
    out = []
    age = 1
    for factor, count in tp.levels:
        frames, ages, mask = [], [], []
        for _ in range(count):
            if age <= len(past):
                frames.append(down(past[-age], factor))
                mask.append(1.0)
            else:
                frames.append(None)
                mask.append(0.0)
            ages.append(float(age))
            age += 1
        out.append((frames, ages, mask))
    return [_stack(frames, ages, mask, ref, f) for (frames, ages, mask), (f, _) in zip(out, tp.levels)]


def _stack(frames, ages, mask, ref, factor):
    if ref is None:
        raise ValueError("history_levels needs the shape of at least one latent; use empty_history")
    b, c, h, w = ref.shape
    filled = [f if f is not None else ref.new_zeros(b, c, h // factor, w // factor) for f in frames]
    return (torch.stack(filled, dim=1), ref.new_tensor(ages)[None].expand(b, -1).contiguous(),
            ref.new_tensor(mask)[None].expand(b, -1).contiguous())


def empty_history(tp: TemporalPyramid, b: int, c: int, size: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The history of a stream that has no past yet: every slot empty."""
    levels = history_levels([torch.zeros(b, c, size, size)], tp)
    return [(lat, ages, torch.zeros_like(mask)) for lat, ages, mask in levels]


def newest(levels) -> torch.Tensor:
    """The newest history frame of each clip (B, C, h, w), zeros where a clip has no past."""
    lat, _, mask = levels[0]
    return lat[:, 0] * mask[:, 0, None, None, None]


def present(frames: torch.Tensor) -> torch.Tensor:
    """(B,) True where a clip has a frame (B, C, h, w), not the zeros that stand for none."""
    return frames.flatten(1).abs().amax(dim=1) > 0


def noise_stream(frame: int, purpose: int) -> int:
    """The RNG stream for latent frame `frame`: purpose 0 is the stage-0 noise, k in 1..K-1 the
    noise of the jump into stage k, 8 + level the noise that corrupts that history level."""
    return frame * 16 + purpose


def corrupt_history(levels, sigma: float, noise: Callable[[int, tuple[int, ...]], torch.Tensor]):
    """History as the sampler feeds it: (1 - sigma) x + sigma n in filled slots, where
    noise(level, shape) gives n for that level, (B,) + shape."""
    out = []
    for i, (lat, ages, mask) in enumerate(levels):
        n = noise(i, tuple(lat.shape[1:]))
        out.append(((1 - sigma) * lat + sigma * n * mask[..., None, None, None], ages, mask))
    return out
