"""PyramidDiT: the denoiser, a diffusion transformer over a spatial and a temporal pyramid.

Two passes share every weight:
- the history pass runs once per latent frame over the bounded temporal pyramid (the newest
  frame at full resolution, older ones coarser) at timestep sigma_c (the history's corruption
  level), and keeps each layer's keys and values;
- the step pass runs at every denoising step over the current frame at its spatial-pyramid stage,
  attending to [text tokens | cached history | itself]. It never recomputes the history.
Tokens carry their place as continuous coordinates in full-latent cells, their extent (2, 4 or 8
cells: the pyramid level) and their age in latent frames, so one set of weights serves every
level and any history length.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .carry import MotionHead
from .layers import Linear, attention


@dataclass
class DiTConfig:
    latent_channels: int = 16
    latent_size: int = 16  # full-resolution latent side (cells)
    patch: int = 2  # tokens are 2x2 latent cells at every pyramid level
    width: int = 256
    depth: int = 8
    heads: int = 4
    text_width: int = 128
    # What the flow generates: "frame", the new latent frame, or "residual", the new frame minus the
    # newest history frame (zeros without a past). A residual model copies the last frame unless it
    # changes it, so a shape survives a step it cannot redraw (docs/architecture.md).
    predicts: str = "frame"
    # How a frame with a past is sampled: "pyramid", every spatial stage from noise like a first
    # frame, or "bridge", the last stage alone, from the newest history frame noised to that stage's
    # starting sigma: a flow from the last frame to the next, so what the frame keeps is not redrawn.
    continuation: str = "pyramid"


def sincos(v: torch.Tensor, dims: int, max_period: float) -> torch.Tensor:
    """v (...,) -> (..., dims) sinusoidal features."""
    freqs = torch.exp(-math.log(max_period) * torch.arange(dims // 2, device=v.device).float() / (dims // 2))
    angles = v[..., None].float() * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def modulate(x, shift, scale):
    return x * (1 + scale[:, None]) + shift[:, None]


class TimestepEmbedder(nn.Module):
    """sigma in [0, 1] (B,) -> (B, D)."""

    def __init__(self, width: int):
        super().__init__()
        self.mlp = nn.Sequential(Linear(256, width), nn.SiLU(), Linear(width, width))

    def forward(self, sigma):
        return self.mlp(sincos(sigma * 1000, 256, 10000))


class Block(nn.Module):
    """adaLN-single transformer block whose attention can take extra keys and values."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)  # affine: torch 1.13 cannot export non-affine LayerNorm at opset 17
        self.qkv = Linear(width, 3 * width)
        self.proj = Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(Linear(width, 4 * width), nn.GELU(approximate="tanh"), Linear(4 * width, width))
        self.table = nn.Parameter(torch.randn(6, width) / width**0.5)  # per-block offset to the shared modulation

    def forward(self, x, mod, bias, extra_k=None, extra_v=None):
        """x (B, N, D); mod (B, 6, D); bias (B, 1, 1, M+N) additive mask over [extra | own] keys;
        extra_k/v (B, H, M, Dh) or None.

        Returns the new x and this layer's own keys and values (B, H, N, Dh).
        """
        b, n, d = x.shape
        shift1, scale1, gate1, shift2, scale2, gate2 = (mod + self.table).unbind(1)
        q, k, v = self.qkv(modulate(self.norm1(x), shift1, scale1)).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        keys = k if extra_k is None else torch.cat([extra_k, k], dim=2)  # (B, H, M+N, Dh)
        values = v if extra_v is None else torch.cat([extra_v, v], dim=2)
        y = attention(q, keys, values, bias).transpose(1, 2).reshape(b, n, d)  # over (B, H, N, M+N)
        x = x + gate1[:, None] * self.proj(y)
        x = x + gate2[:, None] * self.mlp(modulate(self.norm2(x), shift2, scale2))
        return x, k, v


class FinalLayer(nn.Module):
    """adaLN then a linear map from tokens to 2x2 patches of latent velocity."""

    def __init__(self, width: int, out: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.ada = Linear(width, 2 * width)
        self.linear = Linear(width, out)

    def forward(self, x, c):
        shift, scale = self.ada(F.silu(c)).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


class PyramidDiT(nn.Module):
    """The denoiser; see the module docstring for its two passes."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.cfg = cfg
        d, p, c = cfg.width, cfg.patch, cfg.latent_channels
        self.patch_embed = Linear(c * p * p, d)
        self.pos_embed = Linear(64 + 64 + 32 + 32, d)
        self.t_embed = TimestepEmbedder(d)
        self.text_proj = Linear(cfg.text_width, d)
        self.text_pool = nn.Sequential(Linear(cfg.text_width, d), nn.SiLU(), Linear(d, d))
        self.text_kv = nn.ModuleList(Linear(d, 2 * d) for _ in range(cfg.depth))
        self.ada = nn.Sequential(nn.SiLU(), Linear(d, 6 * d))
        self.blocks = nn.ModuleList(Block(d, cfg.heads) for _ in range(cfg.depth))
        self.final = FinalLayer(d, c * p * p)
        self.initialize_weights()
        # A bridge model's prompt-steered motion (livegen/carry.py): trained with the denoiser on
        # its text encoder's output, exported inside the motion-carry graph.
        self.motion = MotionHead(c, cfg.text_width) if cfg.continuation == "bridge" else None

    def initialize_weights(self):
        # Linear layers: Xavier, as in DiT.
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        # The shared modulation starts at zero, so each block starts as the identity (adaLN-zero).
        nn.init.zeros_(self.ada[-1].weight)
        nn.init.zeros_(self.ada[-1].bias)
        for block in self.blocks:
            with torch.no_grad():
                block.table[2].zero_()
                block.table[5].zero_()
        # The output starts at zero velocity.
        nn.init.zeros_(self.final.ada.weight)
        nn.init.zeros_(self.final.ada.bias)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)

    def tokens(self, x, age):
        """x (B, C, h, w) at any pyramid level; age (B,) -> tokens (B, h*w/p^2, D).

        Coordinates come from the shape through tensor ops, so exported graphs take any size.
        """
        b, c, h, w = x.shape
        p = self.cfg.patch
        patches = F.pixel_unshuffle(x, p).flatten(2).transpose(1, 2)  # (B, N, C*p*p)
        rows = x.new_ones(h // p).cumsum(0) - 0.5  # (gh,) token centres in token units
        cols = x.new_ones(w // p).cumsum(0) - 0.5  # (gw,)
        extent = self.cfg.latent_size / rows.new_ones(rows.shape).sum()  # (,) latent cells per token: 2, 4 or 8
        ys = (rows * extent)[:, None].expand(-1, cols.shape[0]).reshape(-1)  # (N,)
        xs = (cols * extent)[None, :].expand(rows.shape[0], -1).reshape(-1)
        n = ys.shape[0]
        feats = torch.cat([
            sincos(xs, 64, 64.0),
            sincos(ys, 64, 64.0),
            sincos(extent.log2().expand(n), 32, 16.0),
        ], dim=-1)  # (N, 160)
        feats = feats[None].expand(b, -1, -1)
        age_feats = sincos(age, 32, 10000.0)[:, None].expand(-1, n, -1)  # (B, N, 32)
        return self.patch_embed(patches) + self.pos_embed(torch.cat([feats, age_feats], dim=-1))

    def encode_history(self, levels, sigma_c):
        """The history pass.

        levels: list of (latents (B, F, C, h, w), ages (B, F), mask (B, F)), newest level first;
        sigma_c (B,): the corruption level of the history latents.
        Returns keys, values (depth, B, H, M, Dh) and the attention bias (B, 1, 1, M), M history tokens.
        """
        toks, masks = [], []
        for latents, ages, mask in levels:
            b, f = latents.shape[:2]
            t = self.tokens(latents.flatten(0, 1), ages.flatten())  # (B*F, n, D)
            n = t.shape[1]
            toks.append(t.reshape(b, f * n, -1))
            masks.append(mask[:, :, None].expand(-1, -1, n).reshape(b, f * n))
        x = torch.cat(toks, dim=1)  # (B, M, D)
        bias = ((1 - torch.cat(masks, dim=1)) * -1e4)[:, None, None, :]  # (B, 1, 1, M)
        mod = self.ada(self.t_embed(sigma_c)).reshape(x.shape[0], 6, -1)
        keys, values = [], []
        for block in self.blocks:
            x, k, v = block(x, mod, bias)  # history tokens attend to each other; empty slots masked out
            keys.append(k)
            values.append(v)
        return torch.stack(keys), torch.stack(values), bias

    def forward(self, x, sigma, text, text_mask, hist_k, hist_v, hist_bias):
        """The step pass.

        x (B, C, h, w) noisy latent at the stage's resolution; sigma (B,);
        text (B, L, Dt) and text_mask (B, L) from the text encoder;
        hist_k, hist_v (depth, B, H, M, Dh) and hist_bias (B, 1, 1, M) from encode_history.
        Returns the velocity (B, C, h, w).
        """
        b, c, h, w = x.shape
        tok = self.tokens(x, sigma.new_zeros(b))
        pooled = (text * text_mask[..., None]).sum(1) / text_mask.sum(1, keepdim=True).clamp_min(1)
        cond = self.t_embed(sigma) + self.text_pool(pooled)  # (B, D)
        mod = self.ada(cond).reshape(b, 6, -1)
        text_tok = self.text_proj(text)  # (B, L, D)
        text_bias = ((1 - text_mask) * -1e4)[:, None, None, :]
        own_bias = tok.new_zeros(b, 1, 1, tok.shape[1])
        bias = torch.cat([text_bias, hist_bias, own_bias], dim=-1)  # (B, 1, 1, L+M+N)
        heads = self.cfg.heads
        for i, block in enumerate(self.blocks):
            tk, tv = self.text_kv[i](text_tok).reshape(b, -1, 2, heads, self.cfg.width // heads).permute(2, 0, 3, 1, 4)
            tok, _, _ = block(tok, mod, bias, torch.cat([tk, hist_k[i]], dim=2), torch.cat([tv, hist_v[i]], dim=2))
        out = self.final(tok, cond)  # (B, N, C*p*p)
        p = self.cfg.patch
        return F.pixel_shuffle(out.transpose(1, 2).reshape(b, c * p * p, h // p, w // p), p)


PyramidDiT_models = {
    "PyramidDiT-tiny": DiTConfig(width=64, depth=2, heads=2),
    "PyramidDiT-XS": DiTConfig(width=192, depth=6, heads=3),  # the CPU default: near compute-optimal for an hour of 2 cores
    "PyramidDiT-XS10": DiTConfig(width=192, depth=10, heads=3),  # XS deepened by models/grow.py
    "PyramidDiT-S": DiTConfig(width=256, depth=8, heads=4),
    "PyramidDiT-B": DiTConfig(width=384, depth=12, heads=6),
}
