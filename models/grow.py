"""Deepens a run's denoiser in place: new transformer blocks go between the trained ones, each
starting as the identity, so the grown model computes what the trained one did and training goes
on from there with more capacity rather than from scratch.

    /usr/bin/python3 models/branch.py --from runs/cpu --out runs/cpu-deep
    /usr/bin/python3 models/grow.py --run runs/cpu-deep --model PyramidDiT-XS10
    /usr/bin/python3 models/train.py --out runs/cpu-deep --set steps=N --set schedule_start=S

A new block is a copy of the trained block before it (its attention and MLP read sensible
features from the start) whose two residual outputs, the attention's projection and the MLP's
last layer, are zero: it adds nothing until it learns to. Its prompt keys and values (`text_kv`)
are the same copy. The optimiser starts afresh (its moments belong to the old shapes); the live
and EMA weights grow alike. The width must stay; only the depth grows.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os

import torch

from livegen.config import PRESETS
from livegen.denoiser import PyramidDiT_models
from livegen.runlog import load, save
from livegen.train_denoiser import build, optimizer
from train import saved_config

# The layers whose outputs a block adds to the residual stream: zero, the block is the identity.
RESIDUAL_OUTPUTS = ("proj.weight", "proj.bias", "mlp.2.weight", "mlp.2.bias")


def placement(old: int, new: int) -> list[int]:
    """For each new block, the trained block it copies; a trained block's first copy is itself,
    later copies are the inserted ones, spread evenly through the depth."""
    return [i * old // new for i in range(new)]


def grow_state(state: dict[str, torch.Tensor], old: int, new: int) -> dict[str, torch.Tensor]:
    """A denoiser state dict of depth `old` grown to depth `new`."""
    sources = placement(old, new)
    grown = {k: v for k, v in state.items() if not k.startswith(("blocks.", "text_kv."))}
    for i, src in enumerate(sources):
        inserted = i > 0 and sources[i - 1] == src
        for prefix in ("blocks", "text_kv"):
            head = f"{prefix}.{src}."
            for key, value in state.items():
                if key.startswith(head):
                    rest = key[len(head):]
                    zero = inserted and prefix == "blocks" and rest in RESIDUAL_OUTPUTS
                    grown[f"{prefix}.{i}.{rest}"] = torch.zeros_like(value) if zero else value.clone()
    return grown


def main(args: argparse.Namespace) -> None:
    path = os.path.join(args.run, "denoiser.pt")
    config_path = os.path.join(args.run, "config.json")
    if not (os.path.exists(path) and os.path.exists(config_path)):
        raise SystemExit(f"grow: {args.run} is no trained run (no denoiser.pt or config.json)")
    if args.model not in PyramidDiT_models:
        raise SystemExit(f"grow: unknown model {args.model!r}; one of {', '.join(PyramidDiT_models)}")
    state = load(path)
    source, target = PyramidDiT_models[state["config"]], PyramidDiT_models[args.model]
    if (source.width, source.heads) != (target.width, target.heads):
        raise SystemExit(f"grow: {state['config']} and {args.model} differ in width or heads; only depth can grow")
    if target.depth <= source.depth:
        raise SystemExit(f"grow: {args.model} (depth {target.depth}) is not deeper than {state['config']} (depth {source.depth})")
    cfg = dataclasses.replace(saved_config(args.run, PRESETS["cpu"]), model=args.model)
    text, dit = build(cfg)
    for key in ("dit", "ema_dit"):
        state[key] = grow_state(state[key], source.depth, target.depth)
    dit.load_state_dict(state["dit"])  # the shapes must fit the target model exactly
    text.load_state_dict(state["text"])
    state["opt"] = optimizer(text, dit, cfg.lr)[0].state_dict()
    state["config"] = args.model
    save(path, **state)
    with open(config_path, "w") as f:
        json.dump(dataclasses.asdict(cfg), f, indent=2)
    print(f"grow: {args.run}'s denoiser {source.depth} -> {target.depth} blocks (copies of blocks "
          f"{placement(source.depth, target.depth)}), {sum(p.numel() for p in dit.parameters()) / 1e6:.2f}M parameters, "
          f"at step {state['step']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="the run whose denoiser.pt grows (branch it first to keep the original)")
    parser.add_argument("--model", required=True, help="the deeper model, a name in livegen/denoiser.py's PyramidDiT_models")
    main(parser.parse_args())
