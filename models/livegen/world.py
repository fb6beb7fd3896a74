"""The procedural world the default model learns: scenes, their captions, and the renderer.

A scene is a background colour (solid or gently shaded) and one or two flat-filled objects,
each with a shape, a size, a colour and a motion. Everything is seeded: the same seed gives the
same scene, the same caption and the same pixels on every machine.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field, replace

import numpy as np
import torch

# Exact sRGB; objects are flat-filled in these, backgrounds use them too (DESIGN section 5).
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (229, 57, 53),
    "orange": (251, 140, 0),
    "yellow": (253, 216, 53),
    "green": (67, 160, 71),
    "cyan": (0, 172, 193),
    "blue": (30, 136, 229),
    "purple": (142, 36, 170),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
    "gray": (128, 128, 128),
}
COLORS = list(PALETTE)
SHAPES = ["circle", "square", "triangle"]
SIZES = ["small", "large"]
MOTIONS = ["left", "right", "up", "down", "bouncing", "still"]

# Object extent as a fraction of the frame side; speed in frame sides per second.
SIZE_EXTENT = {"small": 0.19, "large": 0.36}
SPEED = 0.19  # a directional object crosses the frame in about 5 s
BOUNCE_SPEED = (0.15, 0.12)  # (x, y) components of a bouncing object's velocity

# Synonyms: the first entry of each list is the canonical word.
SHAPE_WORDS = {
    "circle": ["circle", "disc", "ball", "dot"],
    "square": ["square", "box", "block"],
    "triangle": ["triangle", "wedge"],
}
SIZE_WORDS = {"small": ["small", "little", "tiny"], "large": ["large", "big", "huge"]}
COLOR_WORDS = {c: [c] for c in COLORS}
COLOR_WORDS["gray"] = ["gray", "grey"]
MOTION_PHRASES = {
    "left": ["moving left", "drifting left", "sliding to the left", "heading left"],
    "right": ["moving right", "drifting right", "sliding to the right", "heading right"],
    "up": ["moving up", "rising", "drifting upward", "floating up"],
    "down": ["moving down", "falling", "drifting downward", "sinking"],
    "bouncing": ["bouncing", "bouncing around", "bouncing off the walls"],
    "still": ["standing still", "resting", "not moving", "sitting still"],
}
BACKGROUND_PHRASES = ["on {a} {c} background", "over {a} {c} backdrop", "against {a} {c} background"]
JOINERS = [" and ", " with ", " next to "]


@dataclass(frozen=True)
class ObjectSpec:
    """One object of a scene: what it is and how it moves."""

    shape: str
    size: str
    color: str
    motion: str


@dataclass(frozen=True)
class Scene:
    """A whole scene: background, objects, and where the objects start (fractions of the frame)."""

    background: str
    objects: tuple[ObjectSpec, ...]
    shading: float = 0.0  # vertical brightness slope of the background; 0 is a solid background
    starts: tuple[tuple[float, float], ...] = field(default_factory=tuple)  # (x, y) centres
    bounce_signs: tuple[tuple[int, int], ...] = field(default_factory=tuple)


def heldout_path() -> str:
    return os.path.join(os.path.dirname(__file__), "..", "heldout.json")


def load_heldout() -> dict[str, list[list[str]]]:
    """The attribute combinations that training never sees (models/heldout.json)."""
    with open(heldout_path()) as f:
        return json.load(f)


def is_heldout(scene: Scene, heldout: dict[str, list[list[str]]]) -> bool:
    """A scene is held out when any object matches a held-out colour-shape pair or
    colour-on-background pair."""
    pairs = {tuple(p) for p in heldout["color_shape"]}
    on_bg = {tuple(p) for p in heldout["color_on_background"]}
    return any((o.color, o.shape) in pairs or (o.color, scene.background) in on_bg for o in scene.objects)


def sample_scene(rng: np.random.Generator, heldout: dict[str, list[list[str]]] | None = None,
                 want_heldout: bool = False) -> Scene:
    """Draws a random scene; with `heldout` given, only scenes on the requested side of the split."""
    while True:
        background = COLORS[rng.integers(len(COLORS))]
        n = 1 if rng.random() < 0.55 else 2
        colors = [c for c in COLORS if c != background]
        picked = rng.choice(len(colors), size=n, replace=False)
        objects = tuple(
            ObjectSpec(
                shape=SHAPES[rng.integers(len(SHAPES))],
                size=SIZES[rng.integers(len(SIZES))],
                color=colors[i],
                motion=MOTIONS[rng.integers(len(MOTIONS))],
            )
            for i in picked
        )
        shading = 0.0 if rng.random() < 0.5 else float(rng.uniform(-0.12, 0.12))
        starts = tuple((float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.2, 0.8))) for _ in objects)
        signs = tuple((int(rng.choice([-1, 1])), int(rng.choice([-1, 1]))) for _ in objects)
        scene = Scene(background, objects, shading, starts, signs)
        if heldout is None or is_heldout(scene, heldout) == want_heldout:
            return scene


EDIT_KINDS = ["background", "color", "shape"]


def edit_scene(rng: np.random.Generator, scene: Scene, heldout: dict[str, list[list[str]]] | None = None,
               want_heldout: bool = False) -> Scene:
    """The scene after one steering edit: a new background colour, or a new colour or shape for
    one object. Objects keep their places and motions, as a steer should leave them."""
    while True:
        kind = EDIT_KINDS[rng.integers(len(EDIT_KINDS))]
        taken = {o.color for o in scene.objects}
        if kind == "background":
            options = [c for c in COLORS if c != scene.background and c not in taken]
            edited = replace(scene, background=options[rng.integers(len(options))])
        else:
            i = int(rng.integers(len(scene.objects)))
            o = scene.objects[i]
            if kind == "color":
                options = [c for c in COLORS if c != scene.background and c not in taken]
                o = replace(o, color=options[rng.integers(len(options))])
            else:
                options = [s for s in SHAPES if s != o.shape]
                o = replace(o, shape=options[rng.integers(len(options))])
            edited = replace(scene, objects=scene.objects[:i] + (o,) + scene.objects[i + 1:])
        if heldout is None or is_heldout(edited, heldout) == want_heldout:
            return edited


def next_of(values: list[str], value: str, taken: set[str]) -> str:
    """The value after `value` in `values`, round the list, skipping those `taken`."""
    i = values.index(value)
    return next(v for v in values[i + 1:] + values[:i] if v not in taken)


def swapped(scene: Scene, kind: str) -> Scene:
    """The scene after a steering edit of one kind (EDIT_KINDS) to every object at once: the
    background, or each object's colour or shape, changed to the next value that the scene leaves
    free; places and motions kept, so the edited scene rendered over the same time is the truth
    after such an edit."""
    if kind == "background":
        return replace(scene, background=next_of(COLORS, scene.background, {o.color for o in scene.objects}))
    objects = list(scene.objects)
    for i, o in enumerate(objects):
        if kind == "color":
            taken = {scene.background} | {p.color for j, p in enumerate(objects) if j != i}
            objects[i] = replace(o, color=next_of(COLORS, o.color, taken))
        else:
            objects[i] = replace(o, shape=next_of(SHAPES, o.shape, set()))
    return replace(scene, objects=tuple(objects))


def describe_object(o: ObjectSpec, rng: np.random.Generator | None) -> str:
    def pick(words: list[str]) -> str:
        return words[0] if rng is None else words[rng.integers(len(words))]

    return (f"a {pick(SIZE_WORDS[o.size])} {pick(COLOR_WORDS[o.color])} "
            f"{pick(SHAPE_WORDS[o.shape])} {pick(MOTION_PHRASES[o.motion])}")


def caption(scene: Scene, rng: np.random.Generator | None = None) -> str:
    """An English sentence for the scene; with `rng`, synonyms and phrasings vary."""
    def pick(words: list[str]) -> str:
        return words[0] if rng is None else words[rng.integers(len(words))]

    objects = pick(JOINERS).join(describe_object(o, rng) for o in scene.objects)
    colour = pick(COLOR_WORDS[scene.background])
    article = "an" if colour[0] in "aeiou" else "a"
    return f"{objects} {pick(BACKGROUND_PHRASES).format(a=article, c=colour)}"


def _reverse(table: dict[str, list[str]]) -> dict[str, str]:
    return {w: k for k, words in table.items() for w in words}


_SHAPE_OF = _reverse(SHAPE_WORDS)
_SIZE_OF = _reverse(SIZE_WORDS)
_COLOR_OF = _reverse(COLOR_WORDS)
_MOTION_OF = {p: m for m, phrases in MOTION_PHRASES.items() for p in phrases}
_OBJECT_RE = re.compile(
    r"a (?P<size>\w+) (?P<color>\w+) (?P<shape>\w+) (?P<motion>"
    + "|".join(sorted(map(re.escape, _MOTION_OF), key=len, reverse=True)) + r")"
)
_BACKGROUND_RE = re.compile(r"(?:on|over|against) an? (?P<color>\w+) (?:background|backdrop)$")


def parse_caption(text: str) -> tuple[str, tuple[ObjectSpec, ...]]:
    """Reads a caption of the grammar back into (background, objects); raises ValueError otherwise."""
    bg = _BACKGROUND_RE.search(text)
    if not bg or bg.group("color") not in _COLOR_OF:
        raise ValueError(f"no background in caption: {text!r}")
    objects = []
    for m in _OBJECT_RE.finditer(text[: bg.start()]):
        try:
            objects.append(ObjectSpec(_SHAPE_OF[m.group("shape")], _SIZE_OF[m.group("size")],
                                      _COLOR_OF[m.group("color")], _MOTION_OF[m.group("motion")]))
        except KeyError as e:
            raise ValueError(f"unknown word {e} in caption: {text!r}") from None
    if not 1 <= len(objects) <= 2:
        raise ValueError(f"caption must describe one or two objects: {text!r}")
    return _COLOR_OF[bg.group("color")], tuple(objects)


def vocabulary() -> list[str]:
    """Every word the grammar can produce, sorted."""
    words: set[str] = set()
    for table in (SHAPE_WORDS, SIZE_WORDS, COLOR_WORDS):
        for ws in table.values():
            words.update(ws)
    for phrases in MOTION_PHRASES.values():
        for p in phrases:
            words.update(p.split())
    for p in BACKGROUND_PHRASES + JOINERS:
        words.update(p.replace("{c}", "").replace("{a}", "").split())
    words.update(["a", "an"])
    return sorted(words)


def object_centres(scene: Scene, t: np.ndarray) -> np.ndarray:
    """Centres (len(t), n_objects, 2) in frame fractions at times t (seconds).

    Directional objects wrap around the frame (the world is a torus for them), so they stay
    in view forever; bouncing objects reflect off the walls and stay wholly inside.
    """
    out = np.zeros((len(t), len(scene.objects), 2))
    for i, (o, (x0, y0), (sx, sy)) in enumerate(zip(scene.objects, scene.starts, scene.bounce_signs)):
        if o.motion == "bouncing":
            half = SIZE_EXTENT[o.size] / 2
            lo, span = half, 1 - 2 * half
            for k, (p0, v) in enumerate(((x0, sx * BOUNCE_SPEED[0]), (y0, sy * BOUNCE_SPEED[1]))):
                u = (min(max(p0, lo), lo + span) - lo + v * t) % (2 * span)
                out[:, i, k] = lo + np.where(u < span, u, 2 * span - u)
        else:
            dx, dy = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1), "still": (0, 0)}[o.motion]
            out[:, i, 0] = (x0 + dx * SPEED * t) % 1.0
            out[:, i, 1] = (y0 + dy * SPEED * t) % 1.0
    return out


def object_velocities(scene: Scene, t: np.ndarray, size: int, fps: float) -> np.ndarray:
    """Velocities (len(t), n_objects, 2) in pixels per video frame at times t: the displacement
    across one frame interval centred on t (the shortest way round the torus)."""
    half = 0.5 / fps
    d = object_centres(scene, t + half) - object_centres(scene, t - half)
    return ((d + 0.5) % 1.0 - 0.5) * size


def object_masks(scene: Scene, t: np.ndarray, size: int) -> torch.Tensor:
    """Pixels (len(t), n_objects, size, size) bool that each object covers at times t (seconds)."""
    centres = torch.from_numpy(object_centres(scene, t)).float() * size  # (T, N, 2) pixels
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    masks = []
    for i, o in enumerate(scene.objects):
        # Offsets on the torus, so an object crossing an edge shows on the other side.
        dx = (coords[None, None, :] - centres[:, i, 0, None, None] + size / 2) % size - size / 2  # (T,1,W)
        dy = (coords[None, :, None] - centres[:, i, 1, None, None] + size / 2) % size - size / 2  # (T,H,1)
        masks.append(shape_mask(o.shape, dx, dy, SIZE_EXTENT[o.size] * size))  # (T,H,W)
    return torch.stack(masks, dim=1)


def render(scene: Scene, n_frames: int, size: int = 256, fps: float = 16.0, t0: float = 0.0) -> torch.Tensor:
    """Renders frames t0, t0 + 1/fps, ... as (n_frames, 3, size, size) uint8.

    Hard-edged flat fills, so every object pixel is exactly its palette colour.
    """
    t = t0 + np.arange(n_frames) / fps
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    bg = torch.tensor(PALETTE[scene.background], dtype=torch.float32)
    ramp = 1 + scene.shading * (coords / size - 0.5) * 2  # (H,)
    rows = (bg[:, None] * ramp[None, :]).clamp(0, 255).round().to(torch.uint8)  # (3, H): the shading is vertical
    frames = rows[None, :, :, None].expand(n_frames, 3, size, size).contiguous()
    # Painting in place, in uint8, through a channels-last view: whole-frame float copies per
    # object made rendering a third of the cost of building a latent dataset (docs/PERF.md).
    pixels = frames.permute(0, 2, 3, 1)
    masks = object_masks(scene, t, size)
    for i, o in enumerate(scene.objects):
        pixels[masks[:, i]] = torch.tensor(PALETTE[o.color], dtype=torch.uint8)
    return frames


def motion_field(scene: Scene, n_latent: int, frames_per_latent: int, size: int = 256, fps: float = 16.0,
                 t0: float = 0.0) -> torch.Tensor:
    """The true motion inside each latent frame of a clip rendered from t0: (n_latent, 2, size, size),
    pixels per video frame. Every pixel an object covers in any of the latent frame's video frames
    moves at that object's velocity at the middle instant (what a backward warp of the middle
    frame needs to draw each video frame); the rest is still. Later objects are on top, as drawn."""
    t = t0 + np.arange(n_latent * frames_per_latent) / fps
    masks = object_masks(scene, t, size).reshape(n_latent, frames_per_latent, len(scene.objects), size, size).any(dim=1)
    middle = t0 + (np.arange(n_latent) * frames_per_latent + (frames_per_latent - 1) / 2) / fps
    velocity = torch.from_numpy(object_velocities(scene, middle, size, fps)).float()  # (K, N, 2)
    field = torch.zeros(n_latent, 2, size, size)
    for i in range(len(scene.objects)):
        field = torch.where(masks[:, i, None], velocity[:, i, :, None, None], field)
    return field


def shape_mask(shape: str, dx: torch.Tensor, dy: torch.Tensor, extent: float) -> torch.Tensor:
    """Pixels inside a shape of the given extent centred at offset (0, 0)."""
    r = extent / 2
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        s = r * 0.9  # a slightly smaller square looks the same size as the circle
        return (dx.abs() <= s) & (dy.abs() <= s)
    # An upward equilateral triangle with its centroid at the centre.
    side = extent * 1.15
    h = side * math.sqrt(3) / 2
    top, bottom = -2 * h / 3, h / 3
    half_width = (dy - top) / h * (side / 2)
    return (dy >= top) & (dy <= bottom) & (dx.abs() <= half_width)
