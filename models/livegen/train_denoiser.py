"""The denoiser phase of models/train.py: text encoder + PyramidDiT on pre-encoded latent clips.

Each training example is one target latent frame with its temporal-pyramid history. The history
pass runs once and serves all spatial stages, each at its own random point of its stage
(Pyramid Flow's piecewise flow). The history is corrupted with sigma_c ~ U(0, max) and its older
levels sometimes dropped, and in a share of examples the newest history frame is one the model
sampled itself from the frames before it: so it learns to continue from imperfect frames of its
own. A share of examples has no history at all, so first frames from text alone get their own
practice; their targets are any frame of a clip.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import media, pyramid, world
from .config import TrainConfig
from .caption_probe import CaptionProbe
from .carry import MotionCarry, bridge_start, motion_error, motion_loss
from .denoiser import PyramidDiT, PyramidDiT_models
from .frame_loss import edge_error, pixel_foreground_weights
from .layers import bfloat16_matmuls, wants_bfloat16
from .runlog import Log, load, load_decoder, resume, save
from .sampler import Generator, denoise
from .text import TextConfig, TextEncoder, default_tokenizer
from .vae import StreamingDecoder, VideoVAE

SAMPLE_PROMPTS = [
    "a large red circle moving left on a blue background",
    "a small yellow square bouncing and a large green triangle standing still on a black background",
]


def build(cfg: TrainConfig) -> tuple[TextEncoder, PyramidDiT]:
    tokenizer = default_tokenizer()
    text = TextEncoder(TextConfig(vocab_size=len(tokenizer.vocab), max_tokens=tokenizer.max_tokens))
    dit = PyramidDiT(dataclasses.replace(PyramidDiT_models[cfg.model], latent_size=cfg.size // 16, predicts=cfg.predicts,
                                                    continuation=cfg.continuation))
    return text, dit


def scene_from_dict(s: dict) -> world.Scene:
    return world.Scene(s["background"], tuple(world.ObjectSpec(**o) for o in s["objects"]), s["shading"],
                       tuple(map(tuple, s["starts"])), tuple(map(tuple, s["bounce_signs"])))


class Batcher:
    """Draws training examples from the latent dataset and, when there is one, the steering set:
    there the target is one of the first latent frames after a prompt edit, captioned with the
    new prompt while its history still shows the old scene. Given shape twins (train.py's
    twins.pt), each batch ends with cfg.twin_pairs pairs: their first members, then their twins."""

    def __init__(self, latents: torch.Tensor, scenes: list[dict], cfg: TrainConfig, tp: pyramid.TemporalPyramid, seed: int,
                 edits: dict | None = None, rollout=None, twins: dict | None = None):
        self.latents, self.cfg, self.tp = latents, cfg, tp
        self.rollout = rollout
        self.scenes = [scene_from_dict(s) for s in scenes]
        self.edits = edits
        if edits is not None:
            self.edit_scenes = [scene_from_dict(s) for s in edits["after"]]
        self.twins = twins
        if twins is not None:
            self.twin_scenes = [tuple(scene_from_dict(s) for s in pair) for pair in twins["scenes"]]
        self.rng = np.random.default_rng(seed)
        self.tokenizer = default_tokenizer()

    def example(self) -> tuple[torch.Tensor, int, world.Scene, bool]:
        """A clip (K, C, h, w), the index of the target frame in it, the scene it shows, and whether
        it may take the model's own sample as its newest history frame (not across a prompt edit)."""
        if self.edits is not None and self.rng.random() < self.cfg.edit_share:
            i = int(self.rng.integers(len(self.edit_scenes)))
            clip = self.edits["latents"][i].float()
            k = min(self.edits["switch"][i] + int(self.rng.integers(0, 4)), clip.shape[0] - 1)
            return clip, k, self.edit_scenes[i], False
        i = int(self.rng.integers(self.latents.shape[0]))
        clip = self.latents[i].float()
        if self.rng.random() < self.cfg.first_frame_share:
            # Clips start at a random time, so any of their frames is a first frame the world could
            # show: first frames from text draw on every latent frame, not on one per clip.
            return clip[int(self.rng.integers(clip.shape[0])):], 0, self.scenes[i], False
        if self.rng.random() < self.cfg.motion_start_share:
            # A stream's second frame: one frame of history, no frame before it to show the motion,
            # which then has to start from the text. Rare among uniformly drawn targets, and a
            # stream whose motion never starts stays still.
            return clip[int(self.rng.integers(clip.shape[0] - 1)):], 1, self.scenes[i], True
        return clip, int(self.rng.integers(1, clip.shape[0])), self.scenes[i], True

    def twin_pair(self) -> tuple[list, torch.Tensor, torch.Tensor, list[str]]:
        """One pair of shape twins: their shared history (uncorrupted levels), the two targets
        (C, h, w), the frame before the history's newest (zeros where there is none), and the two
        captions, alike but for the shape words. The history is either twin's past, so one
        target continues it and the other is a shape edit; or, in a share of pairs, there is
        none, and only the words tell the shape."""
        i = int(self.rng.integers(len(self.twin_scenes)))
        clips = self.twins["latents"][i].float()  # (2, K, C, h, w)
        if self.rng.random() < self.cfg.twin_first_share:
            k = int(self.rng.integers(clips.shape[1]))
            levels, previous = self.history(clips[0], 0), torch.zeros_like(clips[0, 0])
        else:
            k = int(self.rng.integers(1, clips.shape[1]))
            past = clips[int(self.rng.integers(2))]
            levels, previous = self.history(past, k), self.frame(past, k - 2)
        seed = int(self.rng.integers(2**31))  # one draw of synonyms for both captions
        captions = [world.caption(scene, np.random.default_rng(seed)) for scene in self.twin_scenes[i]]
        return levels, clips[:, k], previous, captions

    def history(self, clip: torch.Tensor, k: int):
        """The temporal-pyramid history of frame k of a clip, uncorrupted."""
        past = [clip[j][None] for j in range(max(0, k - self.tp.frames), k)]
        c, h = clip.shape[1], clip.shape[2]
        return pyramid.history_levels(past, self.tp) if past else pyramid.empty_history(self.tp, 1, c, h)

    def __call__(self, batch: int):
        examples = [self.example() for _ in range(batch)]
        texts = [world.caption(scene, self.rng) for _, _, scene, _ in examples]
        # Not below frame 2: a frame sampled from no history is a new scene, not the clip's frame.
        own = [i for i, (_, k, _, may) in enumerate(examples)
               if may and k >= 2 and self.rollout is not None and self.rng.random() < self.cfg.rollout_share]
        previous = [self.frame(clip, k - 2) for clip, k, _, _ in examples]  # true, even where the rollout replaces frame k - 1
        if own:
            # The newest history frame becomes what the model itself samples from the frames before
            # it: training then shows the model its own errors (soft edges, objects that grow),
            # which it would otherwise only meet at sampling time and compound frame after frame.
            before = [self.history(examples[i][0], examples[i][1] - 1) for i in own]
            sampled = self.rollout(cat_levels(before), [texts[i] for i in own],
                                   torch.stack([self.frame(examples[i][0], examples[i][1] - 3) for i in own]))
            for i, x in zip(own, sampled):
                clip, k, scene, _ = examples[i]
                clip = clip.clone()
                clip[k - 1] = x
                examples[i] = clip, k, scene, True
        histories, targets, captions = [], [], []
        for (clip, k, _, _), text in zip(examples, texts):
            levels = self.history(clip, k)
            if self.rng.random() < self.cfg.history_drop:
                keep = int(self.rng.integers(1, len(levels)))  # drop the older levels
                levels = [(lat, age, mask if j < keep else torch.zeros_like(mask)) for j, (lat, age, mask) in enumerate(levels)]
            histories.append(levels)
            targets.append(clip[k])
            captions.append("" if self.rng.random() < self.cfg.text_dropout else text)
        pairs = [self.twin_pair() for _ in range(self.cfg.twin_pairs if self.twins is not None else 0)]
        for member in (0, 1):
            for levels, pair_targets, before, pair_captions in pairs:
                histories.append(levels)
                targets.append(pair_targets[member])
                previous.append(before)
                captions.append(pair_captions[member])
        twins = len(pairs)
        levels = cat_levels(histories)
        newest = pyramid.newest(levels)
        sigma_c = tie_twins(torch.from_numpy(self.rng.uniform(0, self.cfg.history_noise_max, len(targets))).float(), twins)
        levels = [(tie_twins((1 - sigma_c[:, None, None, None, None]) * lat + sigma_c[:, None, None, None, None] * torch.randn_like(lat), twins),
                   ages, mask) for lat, ages, mask in levels]
        return levels, sigma_c, torch.stack(targets), self.tokenizer.batch(captions), newest, torch.stack(previous), captions, twins

    @staticmethod
    def frame(clip: torch.Tensor, j: int) -> torch.Tensor:
        """Latent frame j of a clip, zeros before its start."""
        return clip[j] if j >= 0 else torch.zeros_like(clip[0])


def tie_twins(t: torch.Tensor, twins: int) -> torch.Tensor:
    """`t` (B, ...) with its last `twins` rows, a batch's twins, replaced by the rows of their first
    members: what a pair shares (its history's corruption, its noise, its point on the flow)."""
    return torch.cat([t[:-twins], t[-2 * twins:-twins]]) if twins else t


def cat_levels(histories):
    """Per-example histories (each a list of levels) as one batch."""
    return [tuple(torch.cat([hst[j][m] for hst in histories]) for m in range(3)) for j in range(len(histories[0]))]


def own_sampler(text: TextEncoder, dit: PyramidDiT, sp: pyramid.SpatialPyramid, tp: pyramid.TemporalPyramid,
                device: torch.device, carry: MotionCarry | None):
    """What Batcher's rollout calls: the sampler's algorithm (history corrupted with sigma_c as at
    sampling time, no guidance: the cheaper pass) on fresh random noise. `previous` holds the frame
    before each history's newest (zeros where there is none), which a bridge model's start needs."""
    tokenizer = default_tokenizer()

    @torch.no_grad()
    def sample(levels, captions: list[str], previous: torch.Tensor) -> torch.Tensor:
        def fresh(_, shape: tuple[int, ...]) -> torch.Tensor:
            return torch.randn((len(captions),) + shape, device=device)
        levels = [tuple(t.to(device) for t in lvl) for lvl in levels]
        newest = pyramid.newest(levels)
        emb, mask = text(tokenizer.batch(captions).to(device))
        start = bridge_start(carry, newest, previous.to(device), emb, mask) if carry is not None else None
        levels = pyramid.corrupt_history(levels, tp.noise, fresh)
        x = denoise(dit, sp, levels, tp.noise, (emb, mask), 1.0, fresh, newest, start)
        return x.cpu()
    return sample


def foreground_weights(clean: torch.Tensor, strength: float, spread: int = 0) -> torch.Tensor:
    """Per-cell loss weights (B, 1, h, w) with mean 1, larger where the latent departs from the
    frame's background (and within `spread` cells of it). Objects cover a few percent of a frame,
    so an unweighted loss is met best by painting the background alone; these weights make the
    objects count. A frame with no past (all zeros) gets uniform weights."""
    if strength == 0:
        return torch.ones_like(clean[:, :1])
    background = clean.flatten(2).median(dim=2).values[..., None, None]  # (B, C, 1, 1)
    dev = (clean - background).abs().mean(dim=1, keepdim=True)  # (B, 1, h, w)
    if spread:
        dev = F.max_pool2d(dev, 2 * spread + 1, stride=1, padding=spread)
    dev = dev / dev.mean(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    w = 1 + strength * dev
    return w / w.mean(dim=(2, 3), keepdim=True)


def stage_examples(x0: torch.Tensor, sp: pyramid.SpatialPyramid, strength: float = 0.0, reference: torch.Tensor | None = None,
                   target_without_past: bool = False, origin: torch.Tensor | None = None, bridge: torch.Tensor | None = None,
                   twins: int = 0):
    """Per stage: (noisy latent, sigma, target velocity, loss weights) on the piecewise flow of Pyramid Flow.

    The flow ends at `x0`, or at `x0 - origin` given an `origin` (B, C, h, w): a residual model's.
    Given a `bridge` (B, C, h, w), the newest history frame (zeros without a past), an example with
    a past starts its last stage from that frame instead of the target's coarser self, and its
    earlier stages weigh nothing: the sampler never runs them for it.

    The weights come from the target `x0` or, given a `reference` (B, C, h, w), from it: the
    newest history frame, spread by a cell for the motion since. A reference of zeros (no past)
    gives uniform weights, or with `target_without_past` the target's. Weights drawn from the target
    tilt the loss's optimum: where the model cannot yet tell object from background, a target
    with the object there counts many times more than one without, so the velocity that
    minimises it paints object on every cell that might hold one, and objects come out too big.
    Weights from what the model is given (the history) leave the optimum where it is.

    The last `twins` examples are the twins of the `twins` before them (Batcher) and share their noise
    and their point on each stage's flow."""
    out = []
    b = x0.shape[0]
    no_past = None if reference is None or not target_without_past else ~pyramid.present(reference)[:, None, None, None]
    bridged = None if bridge is None else pyramid.present(bridge)[:, None, None, None]
    last = sp.stages - 1
    for k in range(sp.stages):
        clean = pyramid.down(x0, sp.factor(k))
        end = clean if origin is None else clean - pyramid.down(origin, sp.factor(k))
        coarse = pyramid.up(pyramid.down(end, 2)) if k > 0 else torch.zeros_like(end)
        if bridged is not None and k == last:
            coarse = torch.where(bridged, bridge, coarse)
        noise = tie_twins(torch.randn_like(end), twins)
        s, e = sp.starts[k], sp.ends[k]
        x_start = (1 - s) * coarse + s * noise
        x_end = (1 - e) * end + e * noise
        u = tie_twins(torch.rand(b, 1, 1, 1), twins)
        x = (1 - u) * x_start + u * x_end
        sigma = (s + (e - s) * u).flatten()
        weights = foreground_weights(clean, strength) if reference is None else \
            foreground_weights(pyramid.down(reference, sp.factor(k)), strength, spread=1)
        if no_past is not None:
            weights = torch.where(no_past, foreground_weights(clean, strength), weights)
        if bridged is not None and k < last:
            weights = weights * ~bridged
        out.append((x, sigma, x_end - x_start, weights))
    return out


def clean_estimate(x: torch.Tensor, sigma: torch.Tensor, v: torch.Tensor, start: float, end: float) -> torch.Tensor:
    """Where a stage's flow ends (B, C, h, w), read from the point `x` at noise `sigma` along it and
    the predicted velocity `v`: the rest of the straight line from `start` to `end`."""
    return x + ((end - sigma) / (end - start))[:, None, None, None] * v


class DecodedTerm:
    """The decoded-frame loss: the last stage's estimate of the clean latent frame, decoded by the
    run's decoder (frozen, before its warp) with the stream's cache, against the true latent
    decoded the same way. The flow loss weighs every latent channel alike, and a shape is a small
    part of a latent's energy, so a model can lower that loss without drawing better shapes; in
    pixels a corner or an edge counts as much as the decoder makes it count."""

    def __init__(self, vae: VideoVAE, examples: int, strength: float):
        self.vae, self.examples, self.strength = vae, examples, strength

    def __call__(self, estimate: torch.Tensor, x0: torch.Tensor, newest: torch.Tensor) -> torch.Tensor:
        n = self.examples
        # The stream's cache is the raw newest frame, zeros before a stream's first.
        cache = torch.where(pyramid.present(newest[:n])[:, None, None, None], self.vae.denormalize(newest[:n]), torch.zeros_like(newest[:n]))
        with torch.no_grad():
            truth = self.vae.decoder.still(self.vae.denormalize(x0[:n]), cache)
        drawn = self.vae.decoder.still(self.vae.denormalize(estimate[:n]), cache)
        return edge_error(drawn, truth, pixel_foreground_weights(truth, self.strength))


def denoiser_losses(text: TextEncoder, dit: PyramidDiT, sp: pyramid.SpatialPyramid, cfg: TrainConfig, carry: MotionCarry | None,
                    levels, sigma_c: torch.Tensor, x0: torch.Tensor, ids: torch.Tensor, newest: torch.Tensor, previous: torch.Tensor,
                    captions: list[str], twins: int, device: torch.device, decoded: DecodedTerm | None = None,
                    probe: CaptionProbe | None = None) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
    """The flow-matching loss of one batch (as Batcher returns it), per spatial stage (the history
    is encoded once for all of them), and the weighted extra terms: a bridge model's motion loss
    (its `carry` moves the newest frame on to where its last stage starts; the carry's head learns
    from the prompt as the denoiser reads it, without teaching the text encoder), given `decoded`,
    the decoded-frame loss of the last stage, given `probe`, the caption probe's loss on the
    text encoder's output for the batch's `captions`, and given `twins` pairs of shape twins at the
    batch's end, the pair term (twin_error)."""
    levels = [tuple(t.to(device) for t in lvl) for lvl in levels]
    emb, mask = text(ids.to(device))
    hk, hv, hb = dit.encode_history(levels, sigma_c.to(device))
    reference = None if cfg.foreground_from == "target" else newest.to(device)
    losses = []
    origin = newest.to(device) if dit.cfg.predicts == "residual" else None
    x0, newest, previous = x0.to(device), newest.to(device), previous.to(device)
    bridge = bridge_start(carry, newest, previous, emb, mask) if carry else None
    extra = {}
    velocities = []
    last = sp.stages - 1
    for k, (x, sigma, target, weight) in enumerate(stage_examples(x0, sp, cfg.foreground_weight, reference,
                                                                  target_without_past=cfg.foreground_from == "history+target",
                                                                  origin=origin, bridge=bridge, twins=twins)):
        sigma = sigma.to(device)
        v = dit(x, sigma, emb, mask, hk, hv, hb)
        losses.append(((v - target) ** 2 * weight).mean())
        if twins:
            # Both twins drawn again from the point halfway between theirs, where nothing tells
            # the shapes apart, so that their velocities can differ only as their captions do.
            pair = slice(-2 * twins, None)
            middle = (x[-2 * twins:-twins] + x[-twins:]) / 2
            velocities.append((dit(torch.cat([middle, middle]), sigma[pair], emb[pair], mask[pair], hk[:, pair], hv[:, pair], hb[pair]),
                               target[pair]))
        if decoded is not None and k == last:
            estimate = clean_estimate(x, sigma, v, sp.starts[k], sp.ends[k])
            extra["decoded"] = cfg.decoded_weight * decoded(estimate if origin is None else estimate + origin, x0, newest)
    if carry:
        extra["motion"] = motion_loss(carry, newest, previous, x0, emb.detach(), mask)
    if probe is not None:
        extra["captions"] = cfg.caption_weight * probe.loss(emb, mask, captions)
    if twins:
        extra["twins"] = cfg.twin_weight * twin_error(velocities, twins)
    return losses, extra


def twin_error(velocities: list[tuple[torch.Tensor, torch.Tensor]], twins: int) -> torch.Tensor:
    """The pair term: per pair of twins, the squared error of the difference between its two
    predicted velocities against the difference between its two true ones, over every stage,
    relative to the true difference's size; averaged over pairs. `velocities` holds per stage
    the predicted and the true velocities of the `twins` first members, then of their twins.
    The pair shares its history and noise, so the shared part of both errors (where an object
    will be, how the noise resolves) cancels: what is left is what the shape words alone should
    change. 1 for a model that ignores them, 0 for one that follows them exactly."""
    error, size = 0.0, 0.0
    for v, target in velocities:
        drawn = v[-2 * twins:-twins] - v[-twins:]
        truth = target[-2 * twins:-twins] - target[-twins:]
        error = error + ((drawn - truth) ** 2).flatten(1).sum(1)
        size = size + (truth ** 2).flatten(1).sum(1)
    return (error / size.clamp_min(1e-6)).mean()


def optimizer(text: TextEncoder, dit: PyramidDiT, lr: float) -> tuple[torch.optim.Optimizer, list[list[torch.nn.Parameter]]]:
    """AdamW over the text encoder and the denoiser, and its parameter groups: the motion head of a
    bridge model has a group of its own, since it is small and may join a trained denoiser late:
    it learns at ten times the rate (`rate`, applied with the schedule)."""
    params = list(text.parameters()) + list(dit.parameters())
    head = {id(p) for p in dit.motion.parameters()} if dit.motion is not None else set()
    groups = [[p for p in params if id(p) not in head], [p for p in params if id(p) in head]]
    opt = torch.optim.AdamW([{"params": groups[0], "rate": 1.0}] + ([{"params": groups[1], "rate": 10.0}] if head else []),
                            lr=lr, weight_decay=0.01, betas=(0.9, 0.99))
    return opt, [g for g in groups if g]


def with_motion_head(state: dict, dit: PyramidDiT, opt: torch.optim.Optimizer) -> dict:
    """A denoiser checkpoint made fit for `dit` when the run changes how it continues: a bridge
    model trained on from a checkpoint without a motion head gets the fresh one `dit` has, a
    pyramid model drops it; the optimiser then starts afresh, as its groups no longer match."""
    has_head = any(k.startswith("motion.") for k in state["dit"])
    if has_head == (dit.motion is not None):
        return state
    head = {k: v for k, v in dit.state_dict().items() if k.startswith("motion.")}
    for key in ("dit", "ema_dit"):
        state[key] = {**{k: v for k, v in state[key].items() if not k.startswith("motion.")}, **head}
    return {**state, "opt": opt.state_dict()}


def fit_motion_head(carry: MotionCarry, text: TextEncoder, latents: torch.Tensor, scenes: list[world.Scene], steps: int,
                    device: torch.device, seed: int, batch: int = 128) -> None:
    """Fits a bridge model's motion head alone when it joins a trained denoiser. Inside the
    denoiser's batches it sees a few second frames per step and learns slowly; here the frozen text
    encoder and the decoder's motion, computed once for every pair of frames, make a step cheap.
    Half of the examples are a stream's second frame (nothing observed before it), half later ones."""
    n, k = latents.shape[:2]
    observed = torch.zeros(n, k, 2, *latents.shape[-2:])  # [:, j]: the decoder's motion from frame j - 1 to j
    with torch.no_grad():
        for i in range(0, n, 50):
            c = latents[i:i + 50].float().to(device)
            moved = carry.observed(c[:, 1:].flatten(0, 1), c[:, :-1].flatten(0, 1))
            observed[i:i + 50, 1:] = moved.reshape(c.shape[0], k - 1, *moved.shape[1:]).cpu()
    opt = torch.optim.AdamW(carry.motion.parameters(), lr=1e-3, weight_decay=0.01)
    tokenizer = default_tokenizer()
    rng = np.random.default_rng(seed)
    start = time.time()
    for step in range(steps):
        i = rng.integers(n, size=batch)
        second = rng.random(batch) < 0.5
        j = np.where(second, rng.integers(1, k, size=batch), rng.integers(2, k, size=batch))
        seen = torch.from_numpy(~second).float()
        with torch.no_grad():
            emb, mask = text(tokenizer.batch([world.caption(scenes[c], rng) for c in i]).to(device))
        d = carry.corrected(latents[i, j - 1].float().to(device), (observed[i, j - 1] * seen[:, None, None, None]).to(device),
                            seen.to(device), emb, mask)
        loss = motion_error(d, observed[i, j].to(device)).mean()
        for g in opt.param_groups:
            g["lr"] = 1e-3 * min(1.0, (step + 1) / 50) * (0.1 + 0.45 * (1 + math.cos(math.pi * step / steps)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0 or step + 1 == steps:
            print(f"motion head: [{step + 1}/{steps}] loss={loss.item():.4g} ({time.time() - start:.0f}s)", flush=True)


def shipped_vae(out: str, vae: VideoVAE) -> VideoVAE:
    """A frozen copy of `vae` with the decoder the run would ship now (runlog.load_decoder): the
    decoded-frame loss judges latents by what a stream would show of them."""
    shipped = copy.deepcopy(vae).cpu()
    load_decoder(out, shipped)
    return shipped.eval().requires_grad_(False)


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Warmup, then a cosine down to 5% of cfg.lr at cfg.steps; both start at cfg.schedule_start,
    so a run continued for more steps can restart its schedule there."""
    done = max(0, step - cfg.schedule_start)
    span = max(1, cfg.steps - cfg.schedule_start)
    return cfg.lr * min(1.0, (done + 1) / cfg.warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * done / span)))


def train_denoiser(cfg: TrainConfig, out: str, device: torch.device, deadline: float, vae: VideoVAE) -> None:
    if cfg.predicts not in ("frame", "residual"):
        raise SystemExit(f"train: predicts must be 'frame' or 'residual', not {cfg.predicts!r}")
    if cfg.continuation not in ("pyramid", "bridge"):
        raise SystemExit(f"train: continuation must be 'pyramid' or 'bridge', not {cfg.continuation!r}")
    if cfg.continuation == "bridge" and cfg.predicts == "residual":
        raise SystemExit("train: a bridge starts from the newest history frame already; it takes predicts=frame")
    if cfg.foreground_from not in ("target", "history", "history+target"):
        raise SystemExit(f"train: foreground_from must be 'target', 'history' or 'history+target', not {cfg.foreground_from!r}")
    sp, tp = pyramid.SpatialPyramid(), pyramid.TemporalPyramid()
    if len(cfg.stage_weights) != sp.stages:
        raise SystemExit(f"train: stage_weights needs one weight per spatial stage ({sp.stages}), not {len(cfg.stage_weights)}")
    path = os.path.join(out, "denoiser.pt")
    text, dit = build(cfg)
    text, dit = text.to(device), dit.to(device)
    opt, groups = optimizer(text, dit, cfg.lr)
    params = [p for group in groups for p in group]
    ema_text, ema_dit = copy.deepcopy(text).eval(), copy.deepcopy(dit).eval()
    probe = CaptionProbe(dit.cfg.text_width).to(device) if cfg.caption_weight else None
    probe_opt = torch.optim.AdamW(probe.parameters(), lr=1e-3, weight_decay=0.01) if probe is not None else None

    def adapt(state: dict) -> dict:
        if probe is not None and "probe" in state:  # a run that trained without the probe gives it a fresh start
            probe.load_state_dict(state["probe"])
            probe_opt.load_state_dict(state["probe_opt"])
        return with_motion_head(state, dit, opt)

    step = resume(path, device, opt, adapt, text=text, dit=dit, ema_text=ema_text, ema_dit=ema_dit)
    if step >= cfg.steps:
        return
    dataset = load(os.path.join(out, "latents.pt"))
    edits_path = os.path.join(out, "edits.pt")
    edits = load(edits_path) if cfg.edit_share > 0 and os.path.exists(edits_path) else None
    twins_path = os.path.join(out, "twins.pt")
    twins = load(twins_path) if cfg.twin_pairs > 0 and os.path.exists(twins_path) else None
    vae = vae.to(device).eval().requires_grad_(False)
    bridge = cfg.continuation == "bridge"
    carry = MotionCarry(vae, dit.motion) if bridge else None
    rollout = own_sampler(ema_text, ema_dit, sp, tp, device, MotionCarry(vae, ema_dit.motion) if bridge else None) \
        if cfg.rollout_share > 0 else None
    batcher = Batcher(dataset["latents"], dataset["scenes"], cfg, tp, seed=step, edits=edits, rollout=rollout, twins=twins)
    decoded = DecodedTerm(shipped_vae(out, vae).to(device), cfg.decoded_examples, cfg.foreground_weight) if cfg.decoded_weight else None
    if dit.motion is not None and dit.motion.untrained() and step > 0 and cfg.motion_fit_steps:  # it joins a trained denoiser
        fit_motion_head(MotionCarry(vae, dit.motion), ema_text, dataset["latents"], batcher.scenes, cfg.motion_fit_steps, device, step)
        ema_dit.motion.load_state_dict(dit.motion.state_dict())
    log = Log(os.path.join(out, "denoiser.log"), cfg.steps)
    n_params = sum(p.numel() for p in params)
    n_edits = len(edits["switch"]) if edits else 0
    n_twins = len(twins["scenes"]) if twins else 0
    print(f"denoiser: {n_params / 1e6:.2f}M parameters, {len(dataset['scenes'])} clips, {n_edits} steering clips, "
          f"{n_twins} pairs of shape twins", flush=True)

    def checkpoint():
        save(path, text=text.state_dict(), dit=dit.state_dict(), ema_text=ema_text.state_dict(),
             ema_dit=ema_dit.state_dict(), opt=opt.state_dict(), step=step, config=cfg.model,
             **({"probe": probe.state_dict(), "probe_opt": probe_opt.state_dict()} if probe is not None else {}))

    text.train()
    dit.train()
    low_precision = wants_bfloat16(cfg.precision, device)
    if low_precision:
        print("denoiser: matmuls in bfloat16", flush=True)
    while step < cfg.steps and time.time() < deadline:
        with bfloat16_matmuls(low_precision):
            losses, extra = denoiser_losses(text, dit, sp, cfg, carry, *batcher(cfg.batch), device, decoded, probe)
        loss = sum(w * l for w, l in zip(cfg.stage_weights, losses)) + sum(extra.values())
        lr = learning_rate(cfg, step)
        for g in opt.param_groups:
            g["lr"] = lr * g.get("rate", 1.0)  # checkpoints from before the motion head have no rate
        opt.zero_grad(set_to_none=True)
        if probe_opt is not None:
            probe_opt.zero_grad(set_to_none=True)
        loss.backward()
        grad, *_ = [torch.nn.utils.clip_grad_norm_(group, 1.0) for group in groups]  # each group its own: the head's loss is on another scale
        opt.step()
        if probe_opt is not None:
            probe_opt.step()
        step += 1
        decay = min(cfg.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for ema, live in ((ema_text, text), (ema_dit, dit)):
                for pe, pl in zip(ema.parameters(), live.parameters()):
                    pe.lerp_(pl, 1 - decay)
        if step % 20 == 0:
            log.write(step, loss=loss.item(), **{f"stage{k}": l.item() for k, l in enumerate(losses)},
                      **{name: term.item() for name, term in extra.items()}, grad=float(grad), lr=lr)
        if step % cfg.checkpoint_every == 0:
            checkpoint()
        if step % cfg.sample_every == 0:
            write_samples(ema_text, ema_dit, vae, sp, tp, os.path.join(out, "samples", f"denoiser_{step:06d}.png"))
    checkpoint()
    if step < cfg.steps:
        print(f"denoiser: stopped at step {step} of {cfg.steps} (time budget); run again to resume")
        sys.exit(0)


def write_samples(text: TextEncoder, dit: PyramidDiT, vae: VideoVAE, sp, tp, path: str, n_latent: int = 8) -> None:
    gen = Generator(default_tokenizer(), copy.deepcopy(text).cpu().eval(), copy.deepcopy(dit).cpu().eval(),
                    StreamingDecoder(copy.deepcopy(vae).cpu().eval()), sp, tp)
    _, clips = gen.generate_many([[(0, p)] for p in SAMPLE_PROMPTS], n_latent, [1] * len(SAMPLE_PROMPTS))
    media.contact_sheet(list(clips), path, every=2)
