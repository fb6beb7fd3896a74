"""The seeded noise generator, written again in server/ with the same results.

Counter-based, so any frame's noise can be drawn without drawing what came before it:
    hash32(x): x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16  (uint32)
    base = hash32(seed + hash32(stream + 0x9e3779b9))                                        (mod 2^32)
    h(i) = hash32(base + i)
    pair j: u1 = (h(2j) + 1) / 2^32, u2 = h(2j + 1) / 2^32, r = sqrt(-2 ln u1)
            z[2j] = r cos(2 pi u2), z[2j + 1] = r sin(2 pi u2)     (float64, then float32)
A stream number names what the noise is for (see livegen.pyramid.noise_stream).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

M32 = np.uint64(0xFFFFFFFF)


def hash32(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.uint64) & M32
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & M32
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & M32
    x ^= x >> np.uint64(16)
    return x


def gaussian(seed: int, stream: int, shape: tuple[int, ...]) -> torch.Tensor:
    """Standard normal float32 tensor of `shape` for (seed, stream)."""
    count = int(np.prod(shape))
    base = (np.uint64(seed & 0xFFFFFFFF) + hash32(np.uint64(stream) + np.uint64(0x9E3779B9))) & M32
    h = hash32((base + np.arange(2 * ((count + 1) // 2), dtype=np.uint64)) & M32).astype(np.float64)
    u1 = (h[0::2] + 1) / 2.0**32
    u2 = h[1::2] / 2.0**32
    r = np.sqrt(-2 * np.log(u1))
    z = np.stack([r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2)], axis=1).reshape(-1)
    return torch.from_numpy(z[:count].astype(np.float32).reshape(shape))


def gaussian_rows(seeds: Sequence[int], stream: int, shape: tuple[int, ...]) -> torch.Tensor:
    """(len(seeds), *shape): row i is gaussian(seeds[i], stream, shape), so a clip's noise does not
    depend on the clips that share its batch."""
    return torch.stack([gaussian(seed, stream, shape) for seed in seeds])
