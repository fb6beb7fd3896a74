"""Seconds per denoiser training step on the CPU, measured side by side: with OpenBLAS at one thread
(what training sets) and at its default of a thread per core (as Debian ships it); and with the
matmuls in float32 and in bfloat16 (layers.bfloat16_matmuls, what training uses where the CPU has it).

    /usr/bin/python3 models/bench/train_step.py [--steps 20] [--repeats 2] [--json FILE]

Each measurement is a child process: OpenBLAS keeps its thread count for the life of a process.
The step is the training loop's own (models/livegen/train_denoiser.py: denoiser_losses, backward,
AdamW) at the CPU preset's batch, on random latents with a full history and no rollout. Each
child also times one of the denoiser's MLP layers (forward and backward, 2048 rows) as
layers.Linear at the child's precision (a 1x1 convolution in float32, oneDNN's matmul in
bfloat16) and as F.linear in float32 (the BLAS matmul).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

MODELS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# name: (OPENBLAS_NUM_THREADS, or "" for one thread as pick_device sets it; matmul precision)
SETTINGS = {"openblas 1 thread": ("", "float32"),
            "openblas default (a thread per core)": (str(os.cpu_count() or 1), "float32"),
            "openblas 1 thread, bfloat16 matmuls": ("", "bfloat16")}


def child(steps: int, precision: str) -> dict[str, float]:
    sys.path.insert(0, MODELS)
    import torch
    import torch.nn.functional as F

    from livegen import pyramid
    from livegen.config import PRESETS
    from livegen.layers import Linear, bfloat16_matmuls, pick_device
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
             ["a small red circle moving left on a blue background"] * cfg.batch, 0)

    def step() -> None:
        with bfloat16_matmuls(precision == "bfloat16"):
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

    def layer() -> None:
        with bfloat16_matmuls(precision == "bfloat16"):
            y = mlp(rows)
        y.sum().backward()

    return {"step_s": timed(step, steps),
            "linear_ms": 1e3 * timed(layer, 50),
            "linear_as_matmul_ms": 1e3 * timed(lambda: F.linear(rows, mlp.weight, mlp.bias).sum().backward(), 50)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--repeats", type=int, default=2, help="measurements per setting, interleaved")
    parser.add_argument("--json", help="also write the result here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="float32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.steps, args.precision)))
        return
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in SETTINGS}
    for _ in range(args.repeats):
        for name, (threads, precision) in SETTINGS.items():
            env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
            if threads:
                env["OPENBLAS_NUM_THREADS"] = threads
            out = subprocess.run([sys.executable, __file__, "--child", "--steps", str(args.steps), "--precision", precision], env=env,
                                 check=True, capture_output=True, text=True).stdout
            runs[name].append({k: round(v, 3) for k, v in json.loads(out.strip().splitlines()[-1]).items()})
            print(f"{name}: {runs[name][-1]}", file=sys.stderr, flush=True)
    best = {name: {k: min(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
    one, default, low = (best[name] for name in SETTINGS)
    result = {"benchmark": "denoiser training step", "cores": os.cpu_count(), "steps": args.steps, "runs": runs, "best": best,
              "step_ratio_default_to_one_thread": round(default["step_s"] / one["step_s"], 2),
              "step_ratio_float32_to_bfloat16": round(one["step_s"] / low["step_s"], 2),
              "matmul_to_layer_ratio": {name: round(b["linear_as_matmul_ms"] / b["linear_ms"], 2) for name, b in best.items()}}
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
