"""The reference autoregressive sampler: the loop the server runs, in PyTorch.

Per latent frame k (docs/model-format.md gives the same algorithm for the engine):
1. Encode the prompt governing frame k and the empty prompt (classifier-free guidance).
2. Build the temporal-pyramid history from past latents, corrupt it with sigma_c and seeded
   noise, and run the history pass once.
3. Start from seeded noise at stage 0; per stage, Euler steps over u in [0, 1), each one
   batched conditional + unconditional, v = v_u + w (v_c - v_u); between stages, upsample
   and renoise with seeded block noise.
4. Decode the new latent with the causal decoder (cache = the previous raw latent).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import pyramid, rng
from .denoiser import PyramidDiT
from .text import TextEncoder, Tokenizer
from .vae import StreamingDecoder


@dataclass
class Generator:
    """Everything the loop needs, as the server will have it."""

    tokenizer: Tokenizer
    text_encoder: TextEncoder
    dit: PyramidDiT
    decoder: StreamingDecoder
    spatial: pyramid.SpatialPyramid
    temporal: pyramid.TemporalPyramid
    guidance: float = 3.0

    @torch.no_grad()
    def text(self, prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Conditional and unconditional text embeddings stacked: (2, L, Dt), (2, L)."""
        return self.text_encoder(self.tokenizer.batch([prompt, ""]))

    @torch.no_grad()
    def latent_frame(self, past: list[torch.Tensor], text: tuple[torch.Tensor, torch.Tensor], seed: int,
                     frame: int, history: str = "pyramid") -> torch.Tensor:
        """One new latent frame (1, C, h, w) given the past latents (oldest first)."""
        cfg = self.dit.cfg
        if history == "full":
            levels = [(torch.stack(past[::-1], dim=1), torch.arange(1, len(past) + 1).float()[None],
                       torch.ones(1, len(past)))] if past else pyramid.empty_history(
                pyramid.TemporalPyramid(levels=((1, 1),)), 1, cfg.latent_channels, cfg.latent_size)
        elif past:
            levels = pyramid.history_levels(past, self.temporal)
        else:
            levels = pyramid.empty_history(self.temporal, 1, cfg.latent_channels, cfg.latent_size)
        sigma_c = self.temporal.noise
        levels = pyramid.corrupt_history(levels, sigma_c, seed, frame)
        hk, hv, hb = self.dit.encode_history(levels, torch.full((1,), sigma_c))
        hk, hv, hb = hk.expand(-1, 2, -1, -1, -1), hv.expand(-1, 2, -1, -1, -1), hb.expand(2, -1, -1, -1)
        emb, mask = text
        sp = self.spatial
        side = cfg.latent_size // sp.factor(0)
        x = rng.gaussian(seed, pyramid.noise_stream(frame, 0), (1, cfg.latent_channels, side, side))
        for stage in range(sp.stages):
            if stage > 0:
                alpha, beta = sp.jump(stage)
                z = rng.gaussian(seed, pyramid.noise_stream(frame, stage), (1, cfg.latent_channels) + tuple(2 * s for s in x.shape[-2:]))
                x = alpha * pyramid.up(x) + beta * pyramid.block_noise(z)
            start, end, n = sp.starts[stage], sp.ends[stage], sp.steps[stage]
            for i in range(n):
                sigma = start + (end - start) * i / n
                v = self.dit(x.expand(2, -1, -1, -1), torch.full((2,), sigma), emb, mask, hk, hv, hb)
                v = v[1:] + self.guidance * (v[:1] - v[1:])
                x = x + v / n
        return x

    @torch.no_grad()
    def generate(self, prompts: list[tuple[int, str]], n_latent: int, seed: int, history: str = "pyramid",
                 progress=None) -> tuple[torch.Tensor, torch.Tensor]:
        """prompts: (first latent frame it governs, text), sorted. Returns latents (K, C, h, w) and
        frames (K*T, 3, H, W) uint8."""
        past: list[torch.Tensor] = []
        latents, frames = [], []
        cache = torch.zeros(1, self.dit.cfg.latent_channels, self.dit.cfg.latent_size, self.dit.cfg.latent_size)
        texts: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for k in range(n_latent):
            prompt = [p for start, p in prompts if start <= k][-1]
            if prompt not in texts:
                texts[prompt] = self.text(prompt)
            x = self.latent_frame(past, texts[prompt], seed, k, history)
            past.append(x)
            if history == "pyramid":
                past = past[-self.temporal.frames:]
            rgb, cache = self.decoder(x, cache)  # (1, T, H, W, 3) uint8
            latents.append(x[0])
            frames.append(rgb[0].permute(0, 3, 1, 2))
            if progress:
                progress(k + 1, n_latent)
        return torch.stack(latents), torch.cat(frames)
