"""Seconds per denoiser training step on the CPU, with OpenBLAS at one thread (what training sets)
and with OpenBLAS at its default of a thread per core (as Debian ships it), measured side by side.

    /usr/bin/python3 models/bench/train_step.py [--steps 20] [--repeats 2] [--json FILE]

Each measurement is a child process: OpenBLAS keeps its thread count for the life of a process.
The step is the training loop's own (models/livegen/train_denoiser.py: denoiser_losses, backward,
AdamW) at the CPU preset's batch, on random latents with a full history and no rollout. Each
child also times one of the denoiser's MLP layers (forward and backward, 2048 rows) as
layers.Linear (a 1x1 convolution) and as F.linear (the BLAS matmul).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

MODELS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = {"openblas 1 thread": "", "openblas default (a thread per core)": str(os.cpu_count() or 1)}


def child(steps: int) -> dict[str, float]:
    sys.path.insert(0, MODELS)
    import torch
    import torch.nn.functional as F

    from livegen import pyramid
    from livegen.config import PRESETS
    from livegen.layers import Linear, pick_device
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
             default_tokenizer().batch(["a small red circle moving left on a blue background"] * cfg.batch), past[-1], past[-2],
             ["a small red circle moving left on a blue background"] * cfg.batch)

    def step() -> None:
        losses, extra = denoiser_losses(text, dit, sp, cfg, None, *batch, device)
        loss = sum(losses) + sum(extra.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def timed(fn, n: int) -> float:
        for _ in range(3):
            fn()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - start) / n

    width = dit.cfg.width
    mlp = Linear(width, 4 * width)
    rows = torch.randn(2048, width, requires_grad=True)
    return {"step_s": timed(step, steps),
            "linear_as_conv_ms": 1e3 * timed(lambda: mlp(rows).sum().backward(), 50),
            "linear_as_matmul_ms": 1e3 * timed(lambda: F.linear(rows, mlp.weight, mlp.bias).sum().backward(), 50)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--repeats", type=int, default=2, help="measurements per setting, interleaved")
    parser.add_argument("--json", help="also write the result here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.steps)))
        return
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in SETTINGS}
    for _ in range(args.repeats):
        for name, threads in SETTINGS.items():
            env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
            if threads:
                env["OPENBLAS_NUM_THREADS"] = threads
            out = subprocess.run([sys.executable, __file__, "--child", "--steps", str(args.steps)], env=env,
                                 check=True, capture_output=True, text=True).stdout
            runs[name].append({k: round(v, 3) for k, v in json.loads(out.strip().splitlines()[-1]).items()})
            print(f"{name}: {runs[name][-1]}", file=sys.stderr, flush=True)
    best = {name: {k: min(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
    one, default = best["openblas 1 thread"], best["openblas default (a thread per core)"]
    result = {"benchmark": "denoiser training step", "cores": os.cpu_count(), "steps": args.steps, "runs": runs, "best": best,
              "step_ratio_default_to_one_thread": round(default["step_s"] / one["step_s"], 2),
              "matmul_to_conv_ratio": {name: round(b["linear_as_matmul_ms"] / b["linear_as_conv_ms"], 2) for name, b in best.items()}}
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
