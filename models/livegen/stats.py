"""How sure a quality figure is: intervals over clips, and paired differences between two models.

A clip's frames are not independent draws (a clip that starts with a blob keeps it), so the clip
is the unit: a figure is the mean of per-clip fractions, and its uncertainty is that of a mean
over a few clips. Two models judged on the same prompts and seeds are compared clip by clip
(paired), which removes the spread between prompts from their difference.
"""
from __future__ import annotations

import numpy as np

LEVEL = 0.95
RESAMPLES = 4000


def interval(values: list[float], level: float = LEVEL, resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """The percentile-bootstrap interval of the mean of `values` (one per clip). Seeded: the same
    values give the same interval."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("interval: no values")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(v.size, size=(resamples, v.size))].mean(axis=1)
    tail = (1 - level) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return float(lo), float(hi)


def paired_difference(new: list[float], base: list[float], level: float = LEVEL) -> dict:
    """The mean of new - base over clips that pair up (same prompt, same seed), with its interval
    and the clips where new is above, equal to and below base."""
    if len(new) != len(base):
        raise ValueError(f"paired_difference: {len(new)} clips against {len(base)}")
    d = np.asarray(new, dtype=np.float64) - np.asarray(base, dtype=np.float64)
    lo, hi = interval(list(d), level)
    return {"mean": float(d.mean()), "interval": [lo, hi],
            "better": int((d > 0).sum()), "same": int((d == 0).sum()), "worse": int((d < 0).sum())}
