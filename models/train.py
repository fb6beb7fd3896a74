"""Trains the default model in resumable phases: autoencoder, latent dataset, decoder, motion, denoiser, refine, critic.

    /usr/bin/python3 models/train.py --preset cpu --out runs/cpu

Uses CUDA when present (`--preset gpu` sizes the run for it), else every CPU core. Each phase
checkpoints to --out and picks up where it stopped when the command runs again, with the settings
the run has in <out>/config.json (`--set` changes them); a finished phase is skipped. Losses go to
<out>/<phase>.log (JSON lines); samples to <out>/samples/.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, fields, replace

import numpy as np
import torch
import torch.nn.functional as F

from livegen import data, media, pyramid, world
from livegen.config import PRESETS, TrainConfig
from livegen.frame_loss import edge_error, pixel_foreground_weights
from livegen.layers import pick_device
from livegen.runlog import Log, load, resume, save
from livegen.sampler import from_layout
from livegen.vae import VAEConfig, VideoVAE, causal_caches, warp


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two videos in [-1, 1], measured on the 0..255 scale."""
    mse = F.mse_loss((a.clamp(-1, 1) + 1) * 127.5, (b.clamp(-1, 1) + 1) * 127.5).item()
    return 10 * math.log10(255**2 / max(mse, 1e-10))


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor, lr: float, clip: torch.nn.Module | None = None) -> None:
    """One step of a phase at learning rate `lr`, the gradient norm of `clip`'s parameters clipped to 1 when given."""
    for g in opt.param_groups:
        g["lr"] = lr
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(clip.parameters(), 1.0)
    opt.step()


def autoencoder_clips(rng: np.random.Generator, cfg: TrainConfig, heldout: dict, frames_per_latent: int) -> torch.Tensor:
    """A batch of 3-latent-frame training clips for the autoencoder, cropped to `vae_crop` at a
    latent cell boundary: the autoencoder is fully convolutional, and crops are cheaper."""
    video, _, _ = data.clip_batch(rng, cfg.vae_batch, 3 * frames_per_latent, cfg.size, cfg.fps, heldout)
    if cfg.vae_crop < cfg.size:
        cells = (cfg.size - cfg.vae_crop) // 16
        y, x = (int(rng.integers(cells + 1)) * 16 for _ in range(2))
        video = video[..., y : y + cfg.vae_crop, x : x + cfg.vae_crop]
    return video


def autoencoder_loss(vae: VideoVAE, video: torch.Tensor, kl_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The autoencoder's loss on a clip (B, K*T, 3, H, W): L1 + L2 reconstruction from a sampled
    latent, and the KL term to the unit Gaussian. Returns the loss, the reconstruction and the KL."""
    mean, logvar = vae.encode_moments(video)  # (B, K, C, h, w)
    z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
    cache = causal_caches(z)
    recon = vae.decoder(z.flatten(0, 1), cache.flatten(0, 1)).reshape(video.shape)
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
    return F.l1_loss(recon, video) + F.mse_loss(recon, video) + kl_weight * kl, recon, kl


def fit_autoencoder(vae: VideoVAE, trained: torch.nn.Module, key: str, cfg: TrainConfig, out: str, name: str, steps: int,
                    seed: int, warmup: int, device: torch.device, deadline: float) -> int:
    """Trains `trained` (the autoencoder, or a part of it) with the autoencoder loss up to `steps`,
    resumable from <out>/<name>.pt where it is kept under `key`; returns the step reached."""
    path = os.path.join(out, f"{name}.pt")
    opt = torch.optim.AdamW(trained.parameters(), lr=cfg.vae_lr, weight_decay=0.0)
    step = resume(path, device, opt, **{key: trained})
    if step >= steps:
        return step
    heldout = world.load_heldout()
    rng = np.random.default_rng(seed + step)
    log = Log(os.path.join(out, f"{name}.log"), steps)
    T = vae.cfg.frames_per_latent
    while step < steps and time.time() < deadline:
        video = autoencoder_clips(rng, cfg, heldout, T).to(device)
        loss, recon, kl = autoencoder_loss(vae, video, cfg.vae_kl)
        lr = cfg.vae_lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        optimizer_step(opt, loss, lr, trained)
        step += 1
        if step % 20 == 0:
            log.write(step, loss=loss.item(), kl=kl.item(), psnr=psnr(recon.detach(), video), lr=lr)
        if step % cfg.checkpoint_every == 0 or step == steps:
            save(path, **{key: trained.state_dict()}, opt=opt.state_dict(), step=step)
        if step % cfg.sample_every == 0:
            media.contact_sheet([torch.cat([video[0], recon[0].detach()], dim=-1)],
                                os.path.join(out, "samples", f"{name}_{step:06d}.png"), every=2)
    save(path, **{key: trained.state_dict()}, opt=opt.state_dict(), step=step)
    return step


def train_vae(cfg: TrainConfig, out: str, device: torch.device, deadline: float) -> VideoVAE:
    vae = VideoVAE(VAEConfig()).to(device)
    vae.train()
    step = fit_autoencoder(vae, vae, "model", cfg, out, "vae", cfg.vae_steps, 1000, 100, device, deadline)
    if step < cfg.vae_steps:
        print(f"vae: stopped at step {step} of {cfg.vae_steps} (time budget); run again to resume")
        sys.exit(0)
    return vae


@torch.no_grad()
def fit_latent_stats(vae: VideoVAE, cfg: TrainConfig, device: torch.device) -> None:
    """Sets the latent normalisation from a sample of encoded clips."""
    heldout = world.load_heldout()
    rng = np.random.default_rng(7)
    vae.eval()
    means = []
    for _ in range(8):
        video, _, _ = data.clip_batch(rng, 8, 8 * vae.cfg.frames_per_latent, cfg.size, cfg.fps, heldout)
        mean, _ = vae.encode_moments(video.to(device))
        means.append(mean.transpose(0, 2).reshape(vae.cfg.latent_channels, -1))  # (C, N)
    allz = torch.cat(means, dim=1)
    vae.latent_mean.copy_(allz.mean(dim=1))
    vae.latent_std.copy_(allz.std(dim=1).clamp_min(1e-3))


@torch.no_grad()
def encode_latents(vae: VideoVAE, cfg: TrainConfig, out: str, device: torch.device, deadline: float) -> None:
    """Encodes `latent_clips` training clips once: <out>/latents.pt holds normalised latents + captions."""
    path = os.path.join(out, "latents.pt")
    part = path + ".part"
    state = load(part) if os.path.exists(part) else {"latents": [], "scenes": [], "done": 0}
    heldout = world.load_heldout()
    T = vae.cfg.frames_per_latent
    vae.eval()
    per = 8
    while state["done"] < cfg.latent_clips:
        if time.time() > deadline:
            torch.save(state, part)
            print(f"latents: {state['done']}/{cfg.latent_clips} encoded (time budget); run again to resume")
            sys.exit(0)
        rng = np.random.default_rng(50_000 + state["done"])
        video, scenes, _ = data.clip_batch(rng, per, cfg.latent_frames * T, cfg.size, cfg.fps, heldout, max_start=60.0)
        state["latents"].append(vae.encode(video.to(device)).half().cpu())  # (B, K, C, h, w)
        state["scenes"].extend(asdict(s) for s in scenes)
        state["done"] += per
        if state["done"] % 200 == 0:
            print(f"latents: {state['done']}/{cfg.latent_clips}", flush=True)
            torch.save(state, part)
    torch.save({"latents": torch.cat(state["latents"]), "scenes": state["scenes"],
                "latent_mean": vae.latent_mean.clone(), "latent_std": vae.latent_std.clone()}, path)
    if os.path.exists(part):
        os.remove(part)


@torch.no_grad()
def encode_edits(vae: VideoVAE, cfg: TrainConfig, out: str, device: torch.device) -> None:
    """Encodes `edit_clips` steering clips once: <out>/edits.pt holds their latents, the scenes
    before and after the edit, and the latent frame where the edit takes effect."""
    path = os.path.join(out, "edits.pt")
    heldout = world.load_heldout()
    T = vae.cfg.frames_per_latent
    vae.eval()
    latents, before, after, switch = [], [], [], []
    per = 8
    for done in range(0, cfg.edit_clips, per):
        rng = np.random.default_rng(90_000 + done)
        cuts = [int(rng.integers(3, min(9, cfg.edit_frames - 1))) for _ in range(per)]
        video, a, b = data.edit_clip_batch(rng, per, cfg.edit_frames * T, [c * T for c in cuts], cfg.size, cfg.fps, heldout)
        latents.append(vae.encode(video.to(device)).half().cpu())
        before.extend(asdict(s) for s in a)
        after.extend(asdict(s) for s in b)
        switch.extend(cuts)
        if (done + per) % 200 == 0:
            print(f"edits: {done + per}/{cfg.edit_clips}", flush=True)
    torch.save({"latents": torch.cat(latents), "before": before, "after": after, "switch": switch}, path)


@torch.no_grad()
def encode_twins(vae: VideoVAE, cfg: TrainConfig, out: str, device: torch.device) -> None:
    """Encodes `twin_clips` pairs of shape twins once: <out>/twins.pt holds their latents
    (N, 2, K, C, h, w) and both scenes of each pair."""
    path = os.path.join(out, "twins.pt")
    heldout = world.load_heldout()
    vae.eval()
    latents, scenes = [], []
    per = 4
    for done in range(0, cfg.twin_clips, per):
        rng = np.random.default_rng(130_000 + done)
        n = min(per, cfg.twin_clips - done)
        video, a, b = data.twin_clip_batch(rng, n, cfg.twin_frames * vae.cfg.frames_per_latent, cfg.size, cfg.fps, heldout)
        latents.append(vae.encode(video.flatten(0, 1).to(device)).unflatten(0, (n, 2)).half().cpu())
        scenes.extend([asdict(x), asdict(y)] for x, y in zip(a, b))
        if (done + n) % 200 == 0:
            print(f"twins: {done + n}/{cfg.twin_clips}", flush=True)
    torch.save({"latents": torch.cat(latents), "scenes": scenes}, path)


def velocity_error(velocity: torch.Tensor, motion: torch.Tensor, strength: float) -> torch.Tensor:
    """Squared error of a velocity field (N, 2, H, W) against the true motion, weighted up where
    something moves: moving objects cover a few percent of a frame."""
    moving = (motion != 0).any(dim=1, keepdim=True).float()
    return ((velocity - motion) ** 2 * (1 + strength * moving)).mean()


def frame_loss(recon: torch.Tensor, video: torch.Tensor, cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoder phases' loss of decoded clips (B, N, 3, H, W) against the true ones, and its palette term."""
    weight = pixel_foreground_weights(video, cfg.foreground_weight)
    loss = edge_error(recon, video, weight)
    # Frame-to-frame change is where a decoder that holds objects still inside a latent frame
    # is wrong on every frame rather than on a few edge pixels.
    loss = loss + cfg.decoder_motion_weight * ((recon.diff(dim=1) - video.diff(dim=1)).abs() * weight[:, 1:]).mean()
    palette = palette_error(recon, video)
    return loss + cfg.decoder_palette_weight * palette, palette


def finetune_decoder(vae: VideoVAE, cfg: TrainConfig, out: str, device: torch.device, deadline: float) -> None:
    """Sharpens the decoder on full frames with the encoder frozen, so the latent space the
    denoiser learned stays exactly as it was. An L1 loss on image gradients punishes the blur
    that plain L1/L2 regression leaves at the edges of small shapes; weighting the objects'
    pixels and an L1 loss on frame-to-frame change push towards keeping small shapes' corners and
    moving objects within a latent frame's video frames (the autoencoder phase held them still,
    then jumped); the velocity field that moves them learns the true motion in the motion phase
    and, with `decoder_velocity_weight`, here too; at weight 0 this phase leaves the branch as
    the motion phase left it. A palette loss (`palette_error`) punishes the blended colours a
    blurred edge leaves between two flat fills, which the quality check sees as stray regions and
    rounded corners."""
    path = os.path.join(out, "decoder.pt")
    opt = torch.optim.AdamW(vae.decoder.parameters(), lr=cfg.decoder_lr, weight_decay=0.0)
    step = resume(path, device, opt, decoder=vae.decoder)
    vae.decoder.velocity.requires_grad_(cfg.decoder_velocity_weight > 0)  # AdamW skips parameters without gradients
    if step >= cfg.decoder_steps:
        return
    heldout = world.load_heldout()
    rng = np.random.default_rng(2000 + step)
    log = Log(os.path.join(out, "decoder.log"), cfg.decoder_steps)
    T = vae.cfg.frames_per_latent
    vae.encoder.eval()
    vae.decoder.train()
    while step < cfg.decoder_steps and time.time() < deadline:
        video, scenes, starts = data.clip_batch(rng, cfg.decoder_batch, cfg.decoder_clip * T, cfg.size, cfg.fps, heldout)
        video = video.to(device)
        with torch.no_grad():
            mean, logvar = vae.encode_moments(video)  # (B, K, C, h, w)
            z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
        cache = causal_caches(z)
        frames, velocity = vae.decoder.predict(z.flatten(0, 1), cache.flatten(0, 1))
        recon = warp(frames, velocity, T).reshape(video.shape)
        loss, palette = frame_loss(recon, video, cfg)
        # The renderer knows the true motion, so the velocity field gets it as a direct target: the
        # photometric losses reach the warp only through edge pixels, and in 1000 steps on them
        # alone a velocity head learned nothing of the motion.
        if cfg.decoder_velocity_weight:
            motion = torch.cat([world.motion_field(s, cfg.decoder_clip, T, cfg.size, cfg.fps, t0) for s, t0 in zip(scenes, starts)])
            loss = loss + cfg.decoder_velocity_weight * velocity_error(velocity, motion.to(device), cfg.foreground_weight)
        done = max(0, step - cfg.decoder_schedule_start)
        lr = cfg.decoder_lr * 0.5 * (1 + math.cos(math.pi * done / max(1, cfg.decoder_steps - cfg.decoder_schedule_start)))
        optimizer_step(opt, loss, lr, vae.decoder)
        step += 1
        if step % 20 == 0:
            log.write(step, loss=loss.item(), palette=palette.item(), psnr=psnr(recon.detach(), video), lr=lr)
        if step % cfg.checkpoint_every == 0:
            save(path, decoder=vae.decoder.state_dict(), opt=opt.state_dict(), step=step)
    save(path, decoder=vae.decoder.state_dict(), opt=opt.state_dict(), step=step)
    if step < cfg.decoder_steps:
        print(f"decoder: stopped at step {step} of {cfg.decoder_steps} (time budget); run again to resume")
        sys.exit(0)


def train_motion(vae: VideoVAE, cfg: TrainConfig, out: str, device: torch.device, deadline: float) -> None:
    """Trains the decoder's velocity branch alone against the renderer's true motion, pooled to the
    branch's 1/4 resolution. It reads only latents, so a step costs a fraction of a decoder step;
    the decoder phase then tunes it with the frames."""
    path = os.path.join(out, "motion.pt")
    branch = vae.decoder.velocity
    opt = torch.optim.AdamW(branch.parameters(), lr=cfg.motion_lr, weight_decay=0.0)
    step = resume(path, device, opt, velocity=branch)
    if step >= cfg.motion_steps:
        return
    heldout = world.load_heldout()
    rng = np.random.default_rng(3000 + step)
    log = Log(os.path.join(out, "motion.log"), cfg.motion_steps)
    T = vae.cfg.frames_per_latent
    vae.encoder.eval()
    branch.train()
    while step < cfg.motion_steps and time.time() < deadline:
        video, scenes, starts = data.clip_batch(rng, cfg.motion_batch, cfg.decoder_clip * T, cfg.size, cfg.fps, heldout)
        motion = torch.stack([world.motion_field(s, cfg.decoder_clip, T, cfg.size, cfg.fps, t0) for s, t0 in zip(scenes, starts)])
        with torch.no_grad():
            z, _ = vae.encode_moments(video.to(device))  # (B, K, C, h, w)
        cache = causal_caches(z)
        target = F.avg_pool2d(motion.flatten(0, 1).to(device), 4)  # (B*K, 2, H/4, W/4)
        loss = velocity_error(branch(torch.cat([z, cache], dim=2).flatten(0, 1)), target, cfg.foreground_weight)
        lr = cfg.motion_lr * 0.5 * (1 + math.cos(math.pi * step / cfg.motion_steps))
        optimizer_step(opt, loss, lr)
        step += 1
        if step % 20 == 0:
            log.write(step, loss=loss.item(), lr=lr)
        if step % cfg.checkpoint_every == 0:
            save(path, velocity=branch.state_dict(), opt=opt.state_dict(), step=step)
    save(path, velocity=branch.state_dict(), opt=opt.state_dict(), step=step)
    decoder_path = os.path.join(out, "decoder.pt")
    if os.path.exists(decoder_path):  # the decoder phase ran first: its checkpoint is the decoder to ship
        state = load(decoder_path)
        state["decoder"] = vae.decoder.state_dict()
        save(decoder_path, **state)
    if step < cfg.motion_steps:
        print(f"motion: stopped at step {step} of {cfg.motion_steps} (time budget); run again to resume")
        sys.exit(0)


def refined_parameters(decoder: torch.nn.Module) -> list[torch.nn.Parameter]:
    """What the refine phase trains: the decoder without its velocity branch (frozen from here on)."""
    decoder.velocity.requires_grad_(False)
    return [p for p in decoder.parameters() if p.requires_grad]


def refine_decoder(cfg: TrainConfig, out: str, device: torch.device, deadline: float) -> None:
    """The refine phase: the decoder learns to read the latents the denoiser draws. The decoder
    phase taught it the encoder's latents, but a stream decodes latents the denoiser drew, which
    stray from any the encoder makes in ways the decoder never saw. Here the trained denoiser (EMA
    weights, frozen, no guidance) draws each target latent frame of a rendered clip from the
    clip's true history, starting at a spatial stage from `refine_start_stage` on, where the
    stage's start keeps the true frame's coarser self under that stage's noise; what it draws
    keeps the true frame's layout, so the true video frames are its target. The cache of each
    drawn frame after the clip's first target is the frame drawn before it, as in a stream. A
    share of target frames (`refine_true_share`) keep the encoder's latent, so the decoder does
    not unlearn it, and a share of clips (`refine_edit_share`) change their prompt at the first
    target frame, as a steering edit does, so that the decoder follows a latent that no longer
    matches its cache. The encoder, the denoiser and the velocity branch stay frozen."""
    from export_onnx import load_run
    from livegen.text import default_tokenizer

    sp, tp = pyramid.SpatialPyramid(), pyramid.TemporalPyramid()
    if not 1 <= cfg.refine_start_stage < sp.stages:
        raise SystemExit(f"train: refine_start_stage must name a stage after the first (1-{sp.stages - 1})")
    info, text, dit, vae = load_run(out)
    path = os.path.join(out, "refine.pt")
    if os.path.exists(path) and info["refineSteps"] == 0:  # load_run passed it over: another denoiser's
        for stale in (path, os.path.join(out, "refine.log")):
            if os.path.exists(stale):
                os.remove(stale)
        print(f"refine: the denoiser moved on to step {info['steps']}; refining the decoder again", flush=True)
    text, dit, vae = text.to(device), dit.to(device), vae.to(device)
    decoder = vae.decoder
    opt = torch.optim.AdamW(refined_parameters(decoder), lr=cfg.refine_lr, weight_decay=0.0)
    step = resume(path, device, opt, decoder=decoder)
    if step >= cfg.refine_steps:
        return
    heldout = world.load_heldout()
    tokenizer = default_tokenizer()
    rng = np.random.default_rng(4000 + step)
    log = Log(os.path.join(out, "refine.log"), cfg.refine_steps)
    T, K = vae.cfg.frames_per_latent, cfg.refine_frames
    vae.eval()
    decoder.train()

    def fresh(_, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randn((cfg.decoder_batch,) + shape, device=device)

    def drawn(z: torch.Tensor, k: int, prompt: tuple[torch.Tensor, torch.Tensor], stage: int) -> torch.Tensor:
        """The denoiser's latent frame k (B, C, h, w) of normalised clips z (B, K, C, h, w), from their true history."""
        return from_layout(dit, sp, tp, [z[:, j] for j in range(max(0, k - tp.frames), k)], z[:, k], stage, prompt, fresh)

    while step < cfg.refine_steps and time.time() < deadline:
        past = int(rng.integers(0, tp.frames + 1))
        if rng.random() < cfg.refine_edit_share:
            video, _, scenes = data.edit_clip_batch(rng, cfg.decoder_batch, (past + K) * T, [past * T] * cfg.decoder_batch,
                                                    cfg.size, cfg.fps, heldout)
        else:
            video, scenes, _ = data.clip_batch(rng, cfg.decoder_batch, (past + K) * T, cfg.size, cfg.fps, heldout)
        video = video.to(device)
        with torch.no_grad():
            z = vae.encode(video)  # (B, past + K, C, h, w) normalised
            prompt = text(tokenizer.batch([world.caption(sc, rng) for sc in scenes]).to(device))
            stage = int(rng.integers(cfg.refine_start_stage, sp.stages))
            latents = torch.stack([drawn(z, past + j, prompt, stage) for j in range(K)], dim=1)
            true = torch.rand(latents.shape[:2] + (1, 1, 1), device=device) < cfg.refine_true_share
            raw = vae.denormalize(torch.where(true, z[:, past:], latents))
            before = vae.denormalize(z[:, past - 1:past]) if past else torch.zeros_like(raw[:, :1])
            cache = torch.cat([before, raw[:, :-1]], dim=1)
        target = video[:, past * T:]
        recon = decoder(raw.flatten(0, 1), cache.flatten(0, 1)).reshape(target.shape)
        loss, palette = frame_loss(recon, target, cfg)
        lr = cfg.refine_lr * 0.5 * (1 + math.cos(math.pi * step / cfg.refine_steps))
        optimizer_step(opt, loss, lr, decoder)
        step += 1
        if step % 20 == 0:
            log.write(step, loss=loss.item(), palette=palette.item(), psnr=psnr(recon.detach(), target), lr=lr)
        if step % cfg.checkpoint_every == 0:
            save(path, decoder=decoder.state_dict(), opt=opt.state_dict(), step=step, denoiser_step=info["steps"])
    save(path, decoder=decoder.state_dict(), opt=opt.state_dict(), step=step, denoiser_step=info["steps"])
    if step < cfg.refine_steps:
        print(f"refine: stopped at step {step} of {cfg.refine_steps} (time budget); run again to resume")
        sys.exit(0)


PALETTE = torch.tensor([world.PALETTE[c] for c in world.COLORS], dtype=torch.float32)  # (10, 3) sRGB
PALETTE_TEMPERATURE = 450.0  # in squared sRGB units: 15 units off its colour costs a pixel half a logit


def palette_error(recon: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each decoded pixel's palette class, scored by squared distance to the
    palette colours, against the true pixel's class. Only pixels that are a palette colour count
    (flat fills, unshaded backgrounds); the L1 losses keep shaded backgrounds. A pixel costs next
    to nothing while its own colour is clearly the nearest, leaving small colour errors to the L1
    losses, and most where it comes nearer another colour: where a blurred edge blends two fills,
    often into a third colour that the quality check counts as a stray region."""
    palette = PALETTE.to(recon.device)
    pixels = ((recon.clamp(-1.2, 1.2) + 1) * 127.5).movedim(-3, -1).reshape(-1, 3)
    truth = torch.cdist(((video + 1) * 127.5).movedim(-3, -1).reshape(-1, 3), palette)  # (N, 10)
    flat = (truth.min(dim=-1).values < 12).float()
    logits = -torch.cdist(pixels, palette) ** 2 / PALETTE_TEMPERATURE
    error = F.cross_entropy(logits, truth.argmin(dim=-1), reduction="none")
    return (error * flat).sum() / flat.sum().clamp_min(1)


def machine(device: torch.device) -> dict:
    """What the run trains on, for the model card."""
    cpu = "unknown"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    return {"device": str(device), "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
            "cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__}


def apply_override(cfg: TrainConfig, override: str) -> None:
    """`key=value` onto cfg, the value read as the field's type (a tuple as comma-separated numbers)."""
    key, sep, value = override.partition("=")
    if not sep or not hasattr(cfg, key):
        raise SystemExit(f"train: --set takes key=value with a key of the config (livegen/config.py), not {override!r}")
    kind = type(getattr(cfg, key))
    try:
        setattr(cfg, key, tuple(float(v) for v in value.split(",")) if kind is tuple else kind(value))
    except ValueError:
        raise SystemExit(f"train: --set {key}: {value!r} is not a valid {'list of numbers' if kind is tuple else kind.__name__}") from None


def critic_phase(cfg: TrainConfig, out: str, device: torch.device, deadline: float) -> None:
    """The first-frame critic of the trained denoiser (livegen/train_critic.py), with the EMA weights
    and the decoder as the exporter ships them."""
    from export_onnx import load_run
    from livegen.sampler import Generator
    from livegen.text import default_tokenizer
    from livegen.train_critic import train_critic
    from livegen.vae import StreamingDecoder

    info, text, dit, vae = load_run(out)
    gen = Generator(default_tokenizer(), text, dit, StreamingDecoder(vae), pyramid.SpatialPyramid(), pyramid.TemporalPyramid())
    if train_critic(gen, cfg, out, device, deadline, info["steps"]) is None:
        print("critic: stopped (time budget); run again to resume")
        sys.exit(0)


def saved_config(out: str, preset: TrainConfig) -> TrainConfig | None:
    """The config of the run in `out` from its config.json, so that a run continued without
    repeating its --set flags (or rebuilt by recover.py) keeps its settings; the preset fills the
    fields the file lacks. None for a new run."""
    path = os.path.join(out, "config.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        saved = json.load(f)
    known = {f.name: type(getattr(preset, f.name)) for f in fields(TrainConfig)}
    return replace(preset, **{k: tuple(v) if known[k] is tuple else v for k, v in saved.items() if k in known})


def main(args: argparse.Namespace) -> None:
    saved = saved_config(args.out, PRESETS[args.preset])
    cfg = saved or replace(PRESETS[args.preset])  # a copy: the overrides must not reach the preset itself
    for override in args.set or []:
        apply_override(cfg, override)
    device = pick_device()
    os.makedirs(os.path.join(args.out, "samples"), exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(asdict(cfg), f, indent=2)
    deadline = time.time() + args.minutes * 60 if args.minutes else math.inf
    print(f"training on {device}, " + (f"continuing the run in {args.out} with its config.json (--set changes it)" if saved
                                        else f"a new run with preset {args.preset!r}"), flush=True)
    with open(os.path.join(args.out, "machine.json"), "w") as f:
        json.dump(machine(device), f, indent=2)
    vae = train_vae(cfg, args.out, device, deadline)
    if not os.path.exists(os.path.join(args.out, "recovered.json")):
        # A recovered run keeps the normalisation its model shipped with (in vae.pt, read from the
        # decoder graph): its denoiser learned that latent space, and the new encoder's statistics
        # would shift it, and with it what the exported decoder makes of the same latent.
        fit_latent_stats(vae, cfg, device)
    if args.phase == "vae":
        return
    if args.phase == "decoder":
        finetune_decoder(vae, cfg, args.out, device, deadline)
        return
    if args.phase == "motion":
        finetune_decoder(vae, cfg, args.out, device, deadline)
        train_motion(vae, cfg, args.out, device, deadline)
        return
    if args.phase == "critic":
        critic_phase(cfg, args.out, torch.device("cpu"), deadline)
        return
    if args.phase == "refine":
        refine_decoder(cfg, args.out, device, deadline)
        return
    if not os.path.exists(os.path.join(args.out, "latents.pt")):
        encode_latents(vae, cfg, args.out, device, deadline)
    if cfg.edit_clips and not os.path.exists(os.path.join(args.out, "edits.pt")):
        encode_edits(vae, cfg, args.out, device)
    if cfg.twin_clips and not os.path.exists(os.path.join(args.out, "twins.pt")):
        encode_twins(vae, cfg, args.out, device)
    from livegen.train_denoiser import train_denoiser

    # The decoder phases read the frozen encoder alone, so they can come first; a bridge denoiser
    # needs them to, since it starts each continuation where the decoder's velocity moves the scene.
    train_motion(vae, cfg, args.out, device, deadline)
    finetune_decoder(vae, cfg, args.out, device, deadline)
    train_denoiser(cfg, args.out, device, deadline, vae)
    if cfg.refine_steps:
        refine_decoder(cfg, args.out, device, deadline)
    critic_phase(cfg, args.out, torch.device("cpu"), deadline)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu",
                        help="the settings of a new run (a run with a config.json keeps its own; --set changes them)")
    parser.add_argument("--out", default="runs/cpu", help="checkpoints, logs and samples go here")
    parser.add_argument("--phase", choices=["vae", "decoder", "motion", "critic", "refine", "all"], default="all",
                        help="vae: the autoencoder alone; decoder: the autoencoder, then the decoder phase (no denoiser); "
                             "motion: the decoder phase, then the velocity branch alone; critic: the first-frame critic of "
                             "the trained denoiser alone; refine: the decoder on the trained denoiser's latents alone; all: every phase")
    parser.add_argument("--minutes", type=float, default=0, help="stop (resumably) after this many minutes")
    parser.add_argument("--set", action="append", help="override a config field, e.g. --set steps=5000")
    main(parser.parse_args())
