"""Seconds per denoiser training step on the CPU, with OpenBLAS at one thread (what training sets)
and with OpenBLAS at as many threads as torch (Debian's default), measured side by side.

    /usr/bin/python3 models/bench/train_step.py [--steps 20] [--repeats 2] [--json FILE]

Each measurement is a child process: OpenBLAS keeps its thread count for the life of a process.
The step is the training loop's own (models/livegen/train_denoiser.py: denoiser_losses, backward,
AdamW) at the CPU preset's batch, on random latents with a full history and no rollout.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

MODELS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = {"openblas 1 thread": "", "openblas threads = torch threads": str(os.cpu_count() or 1)}


def child(steps: int) -> float:
    sys.path.insert(0, MODELS)
    import torch

    from livegen import pyramid
    from livegen.config import PRESETS
    from livegen.layers import pick_device
    from livegen.text import default_tokenizer
    from livegen.train_denoiser import build, denoiser_losses

    device = pick_device()
    torch.manual_seed(0)
    cfg = PRESETS["cpu"]
    text, dit = build(cfg)
    sp, tp = pyramid.SpatialPyramid(), pyramid.TemporalPyramid()
    params = list(text.parameters()) + list(dit.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr)
    c, h = dit.cfg.latent_channels, dit.cfg.latent_size
    past = [torch.randn(cfg.batch, c, h, h) for _ in range(tp.frames)]
    batch = (pyramid.history_levels(past, tp), torch.rand(cfg.batch) * cfg.history_noise_max, torch.randn(cfg.batch, c, h, h),
             default_tokenizer().batch(["a small red circle moving left on a blue background"] * cfg.batch), past[-1])

    def step() -> None:
        loss = sum(denoiser_losses(text, dit, sp, cfg, *batch, device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--repeats", type=int, default=2, help="measurements per setting, interleaved")
    parser.add_argument("--json", help="also write the result here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(child(args.steps))
        return
    seconds: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for _ in range(args.repeats):
        for name, threads in SETTINGS.items():
            env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
            if threads:
                env["OPENBLAS_NUM_THREADS"] = threads
            out = subprocess.run([sys.executable, __file__, "--child", "--steps", str(args.steps)], env=env,
                                 check=True, capture_output=True, text=True).stdout
            seconds[name].append(round(float(out.strip().splitlines()[-1]), 3))
            print(f"{name}: {seconds[name][-1]} s/step", file=sys.stderr, flush=True)
    result = {"benchmark": "denoiser training step", "cores": os.cpu_count(), "steps": args.steps,
              "seconds_per_step": seconds,
              "ratio_default_to_one_thread": round(min(seconds["openblas threads = torch threads"]) / min(seconds["openblas 1 thread"]), 2)}
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
