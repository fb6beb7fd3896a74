"""The quality analyzer: does a frame show what its prompt says?

It knows the palette and the grammar, nothing of the model. Per frame:
- every pixel is classified to its nearest palette colour (farther than MAX_COLOR_DISTANCE: none);
- the background is the commonest class on the frame's border;
- each prompt object must be exactly one connected region of its colour (on the torus, since
  directional objects wrap), of the right shape (fill ratio of its bounding box: a square fills
  it, a circle about pi/4, a triangle about half) and size (area);
- no other colour may form a sizeable region (a model that scatters blobs fails here);
- motion is judged from an object's centroid over a window of frames around the frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from . import world

MAX_COLOR_DISTANCE = 60.0
MIN_REGION = 0.0015  # regions under this fraction of the frame are specks, not objects
MOTION_WINDOW = 8  # frames (half a second at 16 fps)

_PALETTE = np.array([world.PALETTE[c] for c in world.COLORS], dtype=np.float32)  # (10, 3)


def classify(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) palette index, or -1 when no palette colour is close."""
    d = np.linalg.norm(frame[:, :, None, :].astype(np.float32) - _PALETTE[None, None], axis=-1)  # (H, W, 10)
    idx = d.argmin(-1)
    idx[d.min(-1) > MAX_COLOR_DISTANCE] = -1
    return idx


def torus_label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected components (4-neighbour) of a mask whose opposite edges touch."""
    labels, n = ndimage.label(mask)
    parent = list(range(n + 1))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a_edge, b_edge in ((labels[:, 0], labels[:, -1]), (labels[0, :], labels[-1, :])):
        for a, b in zip(a_edge, b_edge):
            if a and b:
                parent[find(a)] = find(b)
    roots = np.array([find(i) for i in range(n + 1)])
    merged = roots[labels]
    uniq = np.unique(merged[merged > 0])
    remap = np.zeros(n + 1, dtype=np.int64)
    remap[uniq] = np.arange(1, len(uniq) + 1)
    return remap[merged], len(uniq)


def unwrap(mask: np.ndarray) -> np.ndarray:
    """Rolls a region that crosses the frame's edges back into one piece."""
    h, w = mask.shape
    if mask[:, 0].any() and mask[:, -1].any():
        mask = np.roll(mask, w // 2, axis=1)
    if mask[0, :].any() and mask[-1, :].any():
        mask = np.roll(mask, h // 2, axis=0)
    return mask


def shape_of(region: np.ndarray) -> str:
    ys, xs = np.nonzero(unwrap(region))
    box = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    fill = len(ys) / box
    return "square" if fill > 0.9 else "circle" if fill > 0.65 else "triangle"


def size_of(area: int, side: int) -> str:
    """Small or large by area, split at the geometric mean of the two expected areas (as circles)."""
    small, large = (np.pi / 4 * (world.SIZE_EXTENT[s] * side) ** 2 for s in ("small", "large"))
    return "large" if area > np.sqrt(small * large) else "small"


def centroid(region: np.ndarray) -> np.ndarray:
    """(x, y) on the torus, via the circular mean."""
    h, w = region.shape
    ys, xs = np.nonzero(region)
    out = []
    for v, n in ((xs, w), (ys, h)):
        a = v / n * 2 * np.pi
        out.append((np.arctan2(np.sin(a).mean(), np.cos(a).mean()) / (2 * np.pi) * n) % n)
    return np.array(out)


@dataclass
class FrameResult:
    background: bool
    objects: list[dict] = field(default_factory=list)  # per prompt object: present, color, shape, size, centroid
    extra_regions: int = 0

    @property
    def coherent(self) -> bool:
        """Background right, every object exactly once with its shape, nothing else."""
        return self.background and self.extra_regions == 0 and all(o["present"] and o["shape"] and o["size"] for o in self.objects)


def analyze_frame(frame: np.ndarray, background: str, objects: tuple[world.ObjectSpec, ...]) -> FrameResult:
    h, w, _ = frame.shape
    cls = classify(frame)
    border = np.concatenate([cls[0], cls[-1], cls[:, 0], cls[:, -1]])
    border = border[border >= 0]
    bg_idx = int(np.bincount(border, minlength=len(world.COLORS)).argmax()) if len(border) else -1
    result = FrameResult(background=bg_idx == world.COLORS.index(background))
    min_area = MIN_REGION * h * w
    wanted = {world.COLORS.index(o.color) for o in objects}
    for c in range(len(world.COLORS)):
        if c == bg_idx or c in wanted:
            continue
        labels, n = torus_label(cls == c)
        sizes = np.bincount(labels.ravel())[1:]
        result.extra_regions += int((sizes >= min_area).sum())
    for o in objects:
        labels, n = torus_label(cls == world.COLORS.index(o.color))
        sizes = np.bincount(labels.ravel())[1:] if n else np.zeros(0, dtype=np.int64)
        big = np.nonzero(sizes >= min_area)[0]
        entry = {"present": len(big) == 1, "shape": False, "size": False, "centroid": None}
        if len(big) == 1:
            region = labels == big[0] + 1
            entry["shape"] = shape_of(region) == o.shape
            entry["size"] = size_of(int(sizes[big[0]]), w) == o.size
            entry["centroid"] = centroid(region)
        result.objects.append(entry)
    return result


def motion_of(track: list[np.ndarray | None], side: int) -> str | None:
    """Motion class of a centroid track (None entries: object not found), or None if unknown."""
    points = [p for p in track if p is not None]
    if len(points) < len(track) // 2 + 1 or len(points) < 2:
        return None
    steps = []
    for a, b in zip(track, track[1:]):
        if a is not None and b is not None:
            steps.append((b - a + side / 2) % side - side / 2)  # shortest way round the torus
    if not steps:
        return None
    v = np.median(np.array(steps), axis=0)  # px per frame
    vx, vy = v
    speed = np.hypot(vx, vy)
    if speed < 0.4:
        return "still"
    if abs(vx) > 0.5 and abs(vy) > 0.5 and min(abs(vx), abs(vy)) > 0.35 * max(abs(vx), abs(vy)):
        return "bouncing"
    if abs(vx) > abs(vy):
        return "right" if vx > 0 else "left"
    return "down" if vy > 0 else "up"


@dataclass
class ClipReport:
    frames: int
    background: float
    objects_present: float
    shape: float
    size: float
    motion: float
    no_extra: float
    coherent: float  # background, objects, shapes, sizes, no extras
    passed: float  # coherent and every object's motion right

    def as_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def analyze_clip(frames: np.ndarray, prompt: str, per_frame_prompts: list[str] | None = None) -> tuple[ClipReport, list[dict]]:
    """frames (T, H, W, 3) uint8. Returns the clip's fractions and per-frame results."""
    t_total, h, w, _ = frames.shape
    prompts = per_frame_prompts or [prompt] * t_total
    parsed = [world.parse_caption(p) for p in prompts]
    results = [analyze_frame(f, *p) for f, p in zip(frames, parsed)]
    per_frame = []
    half = MOTION_WINDOW // 2
    for t, (r, (bg, objects)) in enumerate(zip(results, parsed)):
        lo, hi = max(0, t - half), min(t_total, t + half + 1)
        motions = []
        for i, o in enumerate(objects):
            if any(len(results[s].objects) != len(objects) or parsed[s][1][i].color != o.color for s in range(lo, hi)):
                motions.append(None)  # the prompt changed inside the window
                continue
            track = [results[s].objects[i]["centroid"] for s in range(lo, hi)]
            motions.append(motion_of(track, w) == o.motion)
        per_frame.append({"coherent": r.coherent, "background": r.background, "extra": r.extra_regions,
                          "objects": [{**{k: v for k, v in o.items() if k != "centroid"}, "motion": m}
                                      for o, m in zip(r.objects, motions)]})

    def frac(values) -> float:
        values = list(values)
        return float(np.mean(values)) if values else 0.0

    objs = [o for f in per_frame for o in f["objects"]]
    report = ClipReport(
        frames=t_total,
        background=frac(f["background"] for f in per_frame),
        objects_present=frac(o["present"] for o in objs),
        shape=frac(o["shape"] for o in objs),
        size=frac(o["size"] for o in objs),
        motion=frac(bool(o["motion"]) for o in objs if o["motion"] is not None),
        no_extra=frac(f["extra"] == 0 for f in per_frame),
        coherent=frac(f["coherent"] for f in per_frame),
        passed=frac(f["coherent"] and all(o["motion"] is not False for o in f["objects"]) for f in per_frame),
    )
    return report, per_frame
