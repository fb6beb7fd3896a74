"""The streaming video autoencoder: 16x spatial and 4x temporal compression.

A latent frame (C, H/16, W/16) stands for `frames_per_latent` consecutive video frames. The decoder
is causal: latent frame k decodes from (z_k, z_{k-1}), with z_{k-1} the explicit cache, so a stream
decodes one latent frame at a time with no seams and the same result as decoding the whole clip.

The decoder is the real-time part (it runs for every latent frame on the server), so its expensive
work happens at 1/16, 1/8 and 1/4 resolution and a 4x4 pixel shuffle produces the full frame:
about 1 GFLOP per 256x256 video frame, velocity branch included. A velocity field, warped in at
full resolution, moves objects smoothly across the video frames of one latent frame. The encoder
is used only in training.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class VAEConfig:
    latent_channels: int = 16
    frames_per_latent: int = 4  # temporal compression
    enc_width: tuple[int, int] = (128, 256)  # at 1/8 and 1/16 resolution
    dec_width: tuple[int, int, int] = (256, 128, 64)  # at 1/16, 1/8, 1/4 resolution


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection; no normalisation, to stay cheap."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class Encoder(nn.Module):
    """(B, T, 3, H, W) video chunk of T = frames_per_latent frames -> (B, 2C, H/16, W/16) mean and log-variance."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        w1, w2 = cfg.enc_width
        self.patch = nn.Conv2d(3 * cfg.frames_per_latent * 64, w1, 1)  # an 8x8 patch embedding
        self.block1 = ResBlock(w1)
        self.down = nn.Conv2d(w1, w2, 3, stride=2, padding=1)
        self.block2 = ResBlock(w2)
        self.out = nn.Conv2d(w2, 2 * cfg.latent_channels, 1)

    def forward(self, x):
        b, t, c, h, w = x.shape
        x = F.pixel_unshuffle(x.reshape(b, t * c, h, w), 8)  # (B, T*3*64, H/8, W/8)
        x = self.block1(self.patch(x))
        x = self.block2(self.down(F.silu(x)))
        return self.out(F.silu(x))


class Decoder(nn.Module):
    """(z, cache) each (B, C, H/16, W/16) -> (B, T, 3, H, W) video frames in [-1, 1]."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        w1, w2, w3 = cfg.dec_width
        self.frames = cfg.frames_per_latent
        self.inp = nn.Conv2d(2 * cfg.latent_channels, w1, 3, padding=1)
        self.block1 = ResBlock(w1)
        self.up1 = nn.Conv2d(w1, w2, 3, padding=1)
        self.block2 = ResBlock(w2)
        self.up2 = nn.Conv2d(w2, w3, 3, padding=1)
        self.block3 = ResBlock(w3)
        self.out = nn.Conv2d(w3, self.frames * 3 * 16, 1)  # a 4x4 pixel shuffle per frame
        # Motion inside a latent frame: a velocity field (pixels per video frame) that moves each
        # frame away from the latent frame's middle instant; without it the decoder held objects
        # still for 4 frames, then jumped. The encoder's latent does not carry the velocity (a
        # linear probe on it and the cache found none), so a branch of its own infers it from how
        # the scene moved since the previous latent frame, the cache. Zero at start: no warp.
        c2 = 2 * cfg.latent_channels
        self.velocity = nn.Sequential(
            nn.Conv2d(c2, 128, 3, padding=1), nn.SiLU(), nn.Conv2d(128, 128, 3, padding=1), nn.SiLU(),
            nn.Upsample(scale_factor=4.0, mode="nearest"), nn.Conv2d(128, 64, 3, padding=1), nn.SiLU(),
            nn.Conv2d(64, 2, 1))  # at 1/4 resolution
        nn.init.zeros_(self.velocity[-1].weight)
        nn.init.zeros_(self.velocity[-1].bias)

    def still(self, z, cache):
        """The frames before the warp (B*T, 3, H, W): what the scene looks like, without its motion."""
        x = self.block1(self.inp(torch.cat([z, cache], dim=1)))
        x = self.block2(self.up1(F.interpolate(F.silu(x), scale_factor=2.0, mode="nearest")))
        x = self.block3(self.up2(F.interpolate(F.silu(x), scale_factor=2.0, mode="nearest")))
        frames = F.pixel_shuffle(self.out(F.silu(x)), 4)  # (B, T*3, H, W)
        b, _, h, w = frames.shape
        return frames.reshape(b * self.frames, 3, h, w)

    def predict(self, z, cache):
        """The frames before the warp (B*T, 3, H, W) and the velocity field (B, 2, H, W), pixels per video frame."""
        velocity = self.velocity(torch.cat([z, cache], dim=1))
        return self.still(z, cache), F.interpolate(velocity, scale_factor=4.0, mode="bilinear", align_corners=False)

    def forward(self, z, cache):
        frames, velocity = self.predict(z, cache)
        b, _, h, w = velocity.shape
        return warp(frames, velocity, self.frames).reshape(b, self.frames, 3, h, w)


def warp(frames: torch.Tensor, velocity: torch.Tensor, t: int) -> torch.Tensor:
    """frames (B*T, 3, H, W), velocity (B, 2, H, W) in pixels per frame: frame i is sampled from
    where its content is at the middle instant, i.e. displaced by velocity * (i - (T - 1) / 2)."""
    b, _, h, w = velocity.shape
    offsets = (torch.arange(t, dtype=velocity.dtype) - (t - 1) / 2).reshape(1, t, 1, 1, 1)
    shift = (velocity[:, None] * offsets).reshape(b * t, 2, h, w)  # (B*T, 2, H, W) pixels
    ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, dtype=velocity.dtype)
    xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, dtype=velocity.dtype)
    grid_y = ys[None, :, None] - shift[:, 1] * (2 / h)
    grid_x = xs[None, None, :] - shift[:, 0] * (2 / w)
    grid = torch.stack([grid_x, grid_y], dim=-1)  # (B*T, H, W, 2) as grid_sample wants
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode="border", align_corners=False)


class VideoVAE(nn.Module):
    """Encoder + causal decoder, with the latent normalisation the denoiser works in."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        # Set after training so that normalised latents have zero mean and unit variance per channel.
        self.register_buffer("latent_mean", torch.zeros(cfg.latent_channels))
        self.register_buffer("latent_std", torch.ones(cfg.latent_channels))

    def encode_moments(self, video):
        """video (B, K*T, 3, H, W) in [-1, 1] -> mean, logvar, each (B, K, C, H/16, W/16)."""
        b, n, c, h, w = video.shape
        t = self.cfg.frames_per_latent
        k = n // t
        moments = self.encoder(video[:, : k * t].reshape(b * k, t, c, h, w))
        mean, logvar = moments.chunk(2, dim=1)
        shape = (b, k) + mean.shape[1:]
        return mean.reshape(shape), logvar.clamp(-20, 5).reshape(shape)

    def normalize(self, z):
        return (z - self.latent_mean[:, None, None]) / self.latent_std[:, None, None]

    def denormalize(self, z):
        return z * self.latent_std[:, None, None] + self.latent_mean[:, None, None]

    def encode(self, video):
        """Normalised latents (B, K, C, h, w) of a clip: the means, without sampling."""
        mean, _ = self.encode_moments(video)
        return self.normalize(mean)

    def decode_clip(self, latents):
        """Normalised latents (B, K, C, h, w) -> (B, K*T, 3, H, W) in [-1, 1], all frames in one batch:
        each latent frame's cache is the frame before it (zeros for the first)."""
        z = self.denormalize(latents)
        cache = causal_caches(z)
        b, k = z.shape[:2]
        frames = self.decoder(z.flatten(0, 1), cache.flatten(0, 1))  # (B*K, T, 3, H, W)
        return frames.reshape(b, k * self.cfg.frames_per_latent, *frames.shape[2:])


def causal_caches(z: torch.Tensor) -> torch.Tensor:
    """The decoder cache of each latent frame of raw latents (B, K, C, h, w), as a stream has it:
    the latent frame before it, zeros for the first."""
    return torch.cat([torch.zeros_like(z[:, :1]), z[:, :-1]], dim=1)


class StreamingDecoder(nn.Module):
    """The exported decoder step: one normalised latent frame + cache -> its RGB frames + the next cache."""

    def __init__(self, vae: VideoVAE):
        super().__init__()
        self.vae = vae

    def forward(self, latent, cache):
        """latent (B, C, h, w) normalised; cache (B, C, h, w) raw previous latent (zeros at start).

        Returns frames (B, T, H, W, 3) uint8 RGB and the next cache (B, C, h, w).
        """
        z = self.vae.denormalize(latent)
        frames = self.vae.decoder(z, cache)  # (B, T, 3, H, W) in [-1, 1]
        rgb = ((frames.clamp(-1, 1) + 1) * 127.5).round()
        return rgb.permute(0, 1, 3, 4, 2).to(torch.uint8), z
