"""The critic phase: the model's own first frames, judged by the quality analyzer, teach the FrameCritic.

Runs after the denoiser (`models/train.py`), with the denoiser's EMA weights and the decoder as
the engine runs them. Its data are first frames of training-split prompts (never held-out
combinations), several seeds each, so the critic sees good and poor frames of the same prompt.
Resumable: the judged frames are kept in <out>/critic-data.pt as they come, the critic in
<out>/critic.pt, which names the denoiser step it learned from; a denoiser trained on since is
judged again from scratch.
"""
from __future__ import annotations

import os
import time

import numpy as np
import torch

from . import analyze, world
from .config import TrainConfig
from .critic import JUDGEMENTS, FrameCritic, critic_loss, thumbnail
from .runlog import Log, load, resume, save
from .sampler import Generator

DATA_SEED = 31_000  # the prompts' generator: apart from evaluate.py's seeds


@torch.no_grad()
def judged_first_frames(gen: Generator, prompts: list[str], seeds: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Each (prompt, seed)'s first latent frame as the critic sees it (N, 3, 64, 64) and the
    analyzer's JUDGEMENTS shares over its video frames (N, 4)."""
    _, frames = gen.generate_many([[(0, p)] for p in prompts], 1, seeds)  # (N, T, 3, H, W)
    judged = []
    for prompt, clip in zip(prompts, frames):
        report, _ = analyze.analyze_clip(clip.permute(0, 2, 3, 1).numpy(), prompt)
        judged.append([getattr(report, k) for k in JUDGEMENTS])
    return thumbnail(frames.permute(0, 1, 3, 4, 2)), torch.tensor(judged, dtype=torch.float32)


def critic_prompts(n: int) -> list[str]:
    rng = np.random.default_rng(DATA_SEED)
    heldout = world.load_heldout()
    return [world.caption(world.sample_scene(rng, heldout, want_heldout=False), rng) for _ in range(n)]


def collect(gen: Generator, cfg: TrainConfig, out: str, deadline: float) -> dict | None:
    """<out>/critic-data.pt: the judged first frames of `critic_prompts` prompts x `critic_seeds`
    seeds; None when the time budget ran out first (what was done is kept)."""
    path = os.path.join(out, "critic-data.pt")
    prompts = critic_prompts(cfg.critic_prompts)
    state = load(path) if os.path.exists(path) else {"pictures": [], "targets": [], "prompt_index": [], "done": 0}
    per = 4  # prompts per batch: with their seeds, one batch of the sampler
    while state["done"] < len(prompts):
        if time.time() > deadline:
            torch.save(state, path)
            return None
        chunk = range(state["done"], min(state["done"] + per, len(prompts)))
        rows = [(i, s) for i in chunk for s in range(cfg.critic_seeds)]
        pictures, targets = judged_first_frames(gen, [prompts[i] for i, _ in rows], [DATA_SEED + 97 * i + s for i, s in rows])
        state["pictures"].append(pictures.half())
        state["targets"].append(targets)
        state["prompt_index"].extend(i for i, _ in rows)
        state["done"] = chunk.stop
        if state["done"] % 100 == 0:
            print(f"critic: {state['done']}/{len(prompts)} prompts judged", flush=True)
            torch.save(state, path)
    torch.save(state, path)
    return {"pictures": torch.cat(state["pictures"]).float(), "targets": torch.cat(state["targets"]),
            "prompts": [prompts[i] for i in state["prompt_index"]], "prompt_index": torch.tensor(state["prompt_index"])}


def augment(picture: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """A random horizontal roll (the world wraps round) and mirror: the analyzer's judgements do not
    change under either, and backgrounds shade along y alone, which both leave as it is."""
    picture = torch.roll(picture, int(rng.integers(picture.shape[-1])), dims=-1)
    if rng.random() < 0.5:
        picture = picture.flip(-1)
    return picture


def train_critic(gen: Generator, cfg: TrainConfig, out: str, device: torch.device, deadline: float, denoiser_step: int) -> FrameCritic | None:
    """Fits the critic on the judged first frames; None when the time budget ran out (resumable)."""
    path = os.path.join(out, "critic.pt")
    if os.path.exists(path) and load(path)["denoiser_step"] != denoiser_step:
        for stale in (path, os.path.join(out, "critic-data.pt")):
            os.remove(stale)
        print(f"critic: the denoiser moved on to step {denoiser_step}; judging its first frames again", flush=True)
    data = collect(gen, cfg, out, deadline)
    if data is None:
        return None
    critic = FrameCritic(gen.text_encoder.cfg.width).to(device)
    opt = torch.optim.AdamW(critic.parameters(), lr=cfg.critic_lr, weight_decay=0.01)
    step = resume(path, device, opt, critic=critic)
    texts = {p: gen.text([p]) for p in set(data["prompts"])}
    group = cfg.critic_seeds  # rows come in runs of one prompt's candidates
    n_prompts = len(data["prompts"]) // group
    rng = np.random.default_rng(step)
    log = Log(os.path.join(out, "critic.log"), cfg.critic_steps)
    critic.train()
    while step < cfg.critic_steps and time.time() < deadline:
        idx = (rng.integers(n_prompts, size=max(1, cfg.critic_batch // group))[:, None] * group + np.arange(group)).reshape(-1)
        picture = augment(data["pictures"][idx], rng).to(device)
        emb = torch.cat([texts[data["prompts"][i]][0][:1] for i in idx]).to(device)
        mask = torch.cat([texts[data["prompts"][i]][1][:1] for i in idx]).to(device)
        loss = critic_loss(critic, picture, emb, mask, data["targets"][idx].to(device), group)
        for g in opt.param_groups:
            g["lr"] = cfg.critic_lr * 0.5 * (1 + np.cos(np.pi * step / cfg.critic_steps))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0 or step == cfg.critic_steps:
            log.write(step, loss=loss.item())
        if step % cfg.checkpoint_every == 0 or step == cfg.critic_steps:
            save(path, critic=critic.state_dict(), opt=opt.state_dict(), step=step, denoiser_step=denoiser_step)
    save(path, critic=critic.state_dict(), opt=opt.state_dict(), step=step, denoiser_step=denoiser_step)
    if step < cfg.critic_steps:
        print(f"critic: stopped at step {step} of {cfg.critic_steps} (time budget); run again to resume")
        return None
    return critic.eval()

