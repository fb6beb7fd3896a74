"""Training logs (JSON lines) and crash-safe checkpoints."""
from __future__ import annotations

import inspect
from collections.abc import Callable
import json
import os
import time

import torch


class Log:
    """Appends JSON lines to a file and prints a short progress line."""

    def __init__(self, path: str, total: int):
        self.file = open(path, "a")
        self.total = total
        self.t0 = time.time()

    def write(self, step: int, **fields: float) -> None:
        record = {"step": step, "time": round(time.time() - self.t0, 1), **fields}
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        shown = " ".join(f"{k}={v:.4g}" for k, v in fields.items())
        print(f"[{step}/{self.total}] {shown} ({record['time']:.0f}s)", flush=True)


def save(path: str, **state) -> None:
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)  # a crash mid-write never leaves a broken checkpoint



def resume(path: str, device: torch.device | str, opt: torch.optim.Optimizer, adapt: Callable[[dict], dict] | None = None,
           **modules: torch.nn.Module) -> int:
    """Restores the modules (by their keys in the checkpoint) and the optimiser from a checkpoint
    written by `save(path, <key>=state_dict, ..., opt=..., step=...)`, first passed through `adapt`
    if given; returns its step, 0 when there is no checkpoint yet."""
    if not os.path.exists(path):
        return 0
    state = load(path, device)
    if adapt:
        state = adapt(state)
    for key, module in modules.items():
        module.load_state_dict(state[key])
    opt.load_state_dict(state["opt"])
    return state["step"]


def load(path: str, device: torch.device | str = "cpu"):
    """torch.load of our own files; PyTorch 2.6+ would otherwise refuse their plain Python objects."""
    return torch.load(path, map_location=device, weights_only=False) if _HAS_WEIGHTS_ONLY else torch.load(path, map_location=device)


_HAS_WEIGHTS_ONLY = "weights_only" in inspect.signature(torch.load).parameters


def load_decoder(run: str, vae: torch.nn.Module, denoiser_step: int | None = None) -> dict[str, int]:
    """Loads into `vae` the decoder a run ships: its velocity branch from the motion phase, then the
    decoder phase's whole decoder, then the refine phase's, each where the run has it (the last
    one wins). With `denoiser_step`, a refine phase that read another denoiser step's latents is
    passed over. Returns the steps of each phase (0 where it has not run or was passed over)."""
    steps = {"decoderSteps": 0, "motionSteps": 0, "refineSteps": 0}
    motion = os.path.join(run, "motion.pt")
    if os.path.exists(motion):
        state = load(motion)
        vae.decoder.velocity.load_state_dict(state["velocity"])
        steps["motionSteps"] = state["step"]
    for name, key in (("decoder.pt", "decoderSteps"), ("refine.pt", "refineSteps")):
        path = os.path.join(run, name)
        if os.path.exists(path):
            state = load(path)
            if key == "refineSteps" and denoiser_step is not None and state["denoiser_step"] != denoiser_step:
                print(f"{path}: learned from the denoiser at step {state['denoiser_step']}, not {denoiser_step}: not used "
                      "(models/train.py refines again)")
                continue
            vae.decoder.load_state_dict(state["decoder"])
            steps[key] = state["step"]
    return steps
