"""The reference autoregressive sampler: the loop the server runs, in PyTorch.

Per latent frame k (docs/model-format.md gives the same algorithm for the engine):
1. Encode the prompt governing frame k and the empty prompt (classifier-free guidance).
2. Build the temporal-pyramid history from past latents, corrupt it with sigma_c and seeded
   noise, and run the history pass once.
3. Start from seeded noise at stage 0; per stage, Euler steps over u in [0, 1), each one
   batched conditional + unconditional, v = v_u + w (v_c - v_u); between stages, upsample
   and renoise with seeded block noise. A residual model's result is added to the newest
   (uncorrupted) history frame. A bridge model continues a clip from its newest history frame
   instead, carried on by the motion the decoder sees between it and the frame before (none
   before a stream's second frame) and by the prompt's correction to it (livegen/carry.py),
   noised to the last stage's starting sigma, through the last stage alone.
   A stream's first frame, where the model has a FrameCritic and more than one candidate, is
   sampled once per candidate (candidate j draws the noise of seed + j * CANDIDATE_STRIDE), each
   is decoded, and the one whose video frames the critic scores highest is kept (livegen/critic.py).
4. Decode the new latent with the causal decoder (cache = the previous raw latent).

Several clips can run as one batch (`generate_many`): each draws its noise from its own seed, so
a clip comes out the same whichever clips share its batch, and the evaluation runs several times
faster than clip by clip on a CPU.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from . import pyramid, rng
from .carry import MotionCarry
from .critic import FrameCritic
from .denoiser import PyramidDiT
from .text import TextEncoder, Tokenizer
from .vae import StreamingDecoder

Schedule = list[tuple[int, str]]  # (first latent frame a prompt governs, prompt), sorted
CANDIDATE_STRIDE = 0x9E3779B9  # candidate j of a first frame takes the seed (seed + j * this) mod 2^32
GUIDANCE = 1.0  # the default model's guidance weight (manifest guidance.scale): at 1 no unconditional pass; 1-1.5 beat 3 (the model card's guidance ablation)


@dataclass
class Generator:
    """Everything the loop needs, as the server will have it."""

    tokenizer: Tokenizer
    text_encoder: TextEncoder
    dit: PyramidDiT
    decoder: StreamingDecoder
    spatial: pyramid.SpatialPyramid
    temporal: pyramid.TemporalPyramid
    guidance: float = GUIDANCE
    critic: FrameCritic | None = None
    candidates: int = 1  # first frames sampled per stream start when there is a critic
    _texts: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict, init=False, repr=False)

    @torch.no_grad()
    def text(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Each prompt's embedding, then as many of the empty prompt's: (2B, L, Dt), (2B, L)."""
        for p in set(prompts) | {""}:
            if p not in self._texts:
                emb, mask = self.text_encoder(self.tokenizer.batch([p]))
                self._texts[p] = emb, mask
        rows = [self._texts[p] for p in prompts] + [self._texts[""]] * len(prompts)
        return torch.cat([e for e, _ in rows]), torch.cat([m for _, m in rows])

    @torch.no_grad()
    def latent_frame(self, past: list[torch.Tensor], text: tuple[torch.Tensor, torch.Tensor], seeds: list[int],
                     frame: int) -> torch.Tensor:
        """One new latent frame per clip (B, C, h, w) given the past latents (each (B, C, h, w), oldest first)."""
        if not past and self.critic is not None and self.candidates > 1:
            return self.first_frame(text, seeds, frame)
        return self.sample(past, text, seeds, frame)

    @torch.no_grad()
    def first_frame(self, text: tuple[torch.Tensor, torch.Tensor], seeds: list[int], frame: int) -> torch.Tensor:
        """Each clip's first frame (B, C, h, w): the best of `candidates` by the critic's score."""
        b, n = len(seeds), self.candidates
        emb, mask = text
        clip_rows = torch.arange(b).repeat_interleave(n)
        rows = clip_rows if emb.shape[0] == b else torch.cat([clip_rows, clip_rows + b])  # the empty prompts' rows follow
        x = self.sample([], (emb[rows], mask[rows]), [candidate_seed(s, j) for s in seeds for j in range(n)], frame)
        frames, _ = self.decoder(x, torch.zeros_like(x))  # a stream's first frame decodes with an empty cache
        score = self.critic.score(frames, emb[clip_rows], mask[clip_rows]).reshape(b, n)
        return x.reshape(b, n, *x.shape[1:])[torch.arange(b), score.argmax(dim=1)]

    def sample(self, past: list[torch.Tensor], text: tuple[torch.Tensor, torch.Tensor], seeds: list[int], frame: int) -> torch.Tensor:
        """One latent frame per clip, each from its own seed's noise."""
        cfg = self.dit.cfg
        b = len(seeds)
        if past:
            levels = pyramid.history_levels(past, self.temporal)
        else:
            levels = pyramid.empty_history(self.temporal, b, cfg.latent_channels, cfg.latent_size)
        newest = pyramid.newest(levels)
        start = None
        if cfg.continuation == "bridge" and past:
            previous = past[-2] if len(past) >= 2 else torch.zeros_like(newest)
            emb, mask = text
            start = MotionCarry(self.decoder.vae, self.dit.motion)(newest, previous, emb[:b], mask[:b])
        noise = seeded_noise(seeds, frame)
        levels = pyramid.corrupt_history(levels, self.temporal.noise, lambda level, shape: noise(8 + level, shape))
        return denoise(self.dit, self.spatial, levels, self.temporal.noise, text, self.guidance, noise, newest, start)

    @torch.no_grad()
    def generate_many(self, schedules: list[Schedule], n_latent: int, seeds: list[int],
                      progress=None) -> tuple[torch.Tensor, torch.Tensor]:
        """One clip per (schedule, seed), in one batch. Returns latents (B, K, C, h, w) and frames
        (B, K*T, 3, H, W) uint8."""
        cfg = self.dit.cfg
        past: list[torch.Tensor] = []
        latents, frames = [], []
        cache = torch.zeros(len(seeds), cfg.latent_channels, cfg.latent_size, cfg.latent_size)
        for k in range(n_latent):
            prompts = [[p for start, p in schedule if start <= k][-1] for schedule in schedules]
            x = self.latent_frame(past, self.text(prompts), seeds, k)
            past = (past + [x])[-self.temporal.frames:]
            rgb, cache = self.decoder(x, cache)  # (B, T, H, W, 3) uint8
            latents.append(x)
            frames.append(rgb.permute(0, 1, 4, 2, 3))
            if progress:
                progress(k + 1, n_latent)
        return torch.stack(latents, dim=1), torch.cat(frames, dim=1)

    def generate(self, prompts: Schedule, n_latent: int, seed: int, progress=None) -> tuple[torch.Tensor, torch.Tensor]:
        """One clip: latents (K, C, h, w) and frames (K*T, 3, H, W) uint8."""
        latents, frames = self.generate_many([prompts], n_latent, [seed], progress)
        return latents[0], frames[0]


def seeded_noise(seeds: list[int], frame: int) -> Callable[[int, tuple[int, ...]], torch.Tensor]:
    """noise(purpose, shape): what latent frame `frame` of clips with these seeds draws for a
    purpose (pyramid.noise_stream), (B,) + shape, each clip from its own seed."""
    return lambda purpose, shape: rng.gaussian_rows(seeds, pyramid.noise_stream(frame, purpose), shape)


def candidate_seed(seed: int, j: int) -> int:
    return (seed + j * CANDIDATE_STRIDE) & 0xFFFFFFFF


@torch.no_grad()
def denoise(dit: PyramidDiT, sp: pyramid.SpatialPyramid, levels, sigma_c: float, text: tuple[torch.Tensor, torch.Tensor],
            guidance: float, noise: Callable[[int, tuple[int, ...]], torch.Tensor], newest: torch.Tensor,
            start: torch.Tensor | None = None) -> torch.Tensor:
    """Steps 2-3 of the loop for a batch of B clips: the history pass on `levels` (already corrupted
    with sigma_c), then the spatial pyramid from noise to a clean latent (B, C, h, w). `text` holds
    the B prompts then, when guidance is not 1, the B empty prompts; `noise(stage, shape)` gives
    the stage-0 noise (stage 0) and the noise of the jump into each later stage, (B,) + shape.
    `newest` is the newest history frame before corruption (zeros without a past): a residual
    model's flow ends at the new frame minus it, and a bridge model's flow for a clip with a past
    starts from `start` (by default `newest`; the sampler gives it the newest frame carried on by
    its motion), noised with the stage-0 noise (at full size) to the last stage's starting sigma,
    and runs that stage alone."""
    start = newest if start is None else start
    cfg = dit.cfg
    b = levels[0][0].shape[0]
    has_past = pyramid.present(newest)
    bridge = cfg.continuation == "bridge"
    if bridge and 0 < int(has_past.sum()) < b:  # clips with and without a past take different paths
        out = torch.empty_like(newest)
        for rows in (has_past, ~has_past):
            i = rows.nonzero().flatten()
            emb, mask = text
            t = i if emb.shape[0] == b else torch.cat([i, i + b])  # the empty prompts' rows follow the prompts'
            out[i] = denoise(dit, sp, [tuple(x[i] for x in level) for level in levels], sigma_c, (emb[t], mask[t]), guidance,
                             lambda stage, shape: noise(stage, shape)[i], newest[i], start[i])
        return out
    history = dit.encode_history(levels, torch.full((b,), sigma_c))
    first = 0
    if bridge and bool(has_past.all()):
        first = sp.stages - 1
        s = sp.starts[first]
        x = (1 - s) * start + s * noise(0, tuple(newest.shape[1:]))
    else:
        side = cfg.latent_size // sp.factor(0)
        x = noise(0, (cfg.latent_channels, side, side))
    x = run_stages(dit, sp, x, first, history, text, guidance, noise)
    return x + newest if cfg.predicts == "residual" else x


@torch.no_grad()
def from_layout(dit: PyramidDiT, sp: pyramid.SpatialPyramid, tp: pyramid.TemporalPyramid, past: list[torch.Tensor],
                target: torch.Tensor, stage: int, text: tuple[torch.Tensor, torch.Tensor],
                noise: Callable[[int, tuple[int, ...]], torch.Tensor]) -> torch.Tensor:
    """A latent frame `target` (B, C, h, w) drawn again from its true history `past` (each
    (B, C, h, w), oldest first), entering the spatial pyramid at `stage` (1 or later) from the
    target's own layout: pooled to the size of the stage before, upsampled, and noised to the
    stage's starting sigma, as training starts that stage. What comes out keeps the target's
    layout at that scale, so it shows what the stages from `stage` on make of a right layout. A
    bridge model with a past enters its last stage from the target itself, which stands in for its
    carried frame. `noise(stage, shape)` as `denoise` takes it; the history's corruption draws
    from purposes 8 + level, as the sampler's does."""
    b, c, h, _ = target.shape
    levels = pyramid.history_levels(past, tp) if past else pyramid.empty_history(tp, b, c, h)
    origin = pyramid.newest(levels) if dit.cfg.predicts == "residual" else torch.zeros_like(target)
    levels = pyramid.corrupt_history(levels, tp.noise, lambda level, shape: noise(8 + level, shape))
    history = dit.encode_history(levels, torch.full((b,), tp.noise, device=target.device))
    if dit.cfg.continuation == "bridge" and past:
        stage, coarse = sp.stages - 1, target - origin
    else:
        coarse = pyramid.up(pyramid.down(target - origin, sp.factor(stage - 1)))
    s = sp.starts[stage]
    x = (1 - s) * coarse + s * noise(stage, tuple(coarse.shape[1:]))
    return origin + run_stages(dit, sp, x, stage, history, text, 1.0, noise)


@torch.no_grad()
def run_stages(dit: PyramidDiT, sp: pyramid.SpatialPyramid, x: torch.Tensor, first: int, history, text: tuple[torch.Tensor, torch.Tensor],
               guidance: float, noise: Callable[[int, tuple[int, ...]], torch.Tensor]) -> torch.Tensor:
    """The spatial pyramid from `x` (B, C, ...) at stage `first`'s size and starting sigma to the
    clean latent: each stage's Euler steps, and the jump into each later one. `history` is the
    history pass's (keys, values, bias) for the B clips."""
    b = x.shape[0]
    hk, hv, hb = history
    if guidance != 1.0:
        hk, hv, hb = hk.repeat(1, 2, 1, 1, 1), hv.repeat(1, 2, 1, 1, 1), hb.repeat(2, 1, 1, 1)
    emb, mask = text
    for stage in range(first, sp.stages):
        if stage > first:
            alpha, beta = sp.jump(stage)
            z = noise(stage, (x.shape[1],) + tuple(2 * s for s in x.shape[-2:]))
            x = alpha * pyramid.up(x) + beta * pyramid.block_noise(z)
        start, end, n = sp.starts[stage], sp.ends[stage], sp.steps[stage]
        for i in range(n):
            sigma = start + (end - start) * i / n
            if guidance != 1.0:
                v = dit(x.repeat(2, 1, 1, 1), torch.full((2 * b,), sigma), emb, mask, hk, hv, hb)
                v = v[b:] + guidance * (v[:b] - v[b:])
            else:
                v = dit(x, torch.full((b,), sigma), emb[:b], mask[:b], hk, hv, hb)
            x = x + v / n
    return x
