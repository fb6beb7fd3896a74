"""Rebuilds a resumable training run from a shipped model directory, for a machine that has the
model but not the checkpoints it was exported from (checkpoints are never committed).

    /usr/bin/python3 models/recover.py --model models/default --out runs/cpu
    /usr/bin/python3 models/train.py --preset cpu --out runs/cpu --set steps=6000 ...   # then train on

The ONNX graphs hold every weight of the text encoder, the denoiser and the VAE decoder: each
named initializer is a parameter under its own name, and each unnamed MatMul weight is a Linear
layer's weight, transposed, named by the scope of the node that reads it. The rebuilt modules must
reproduce the model's parity fixtures, or nothing is written. The denoiser's checkpoint holds the
shipped (EMA) weights as both the live and the EMA weights, at the shipped step, with a fresh
optimiser.

The VAE encoder is training-only and not shipped, so it is trained anew against the shipped
decoder, frozen (the autoencoder phase's loss; resumable: run again to continue). Its latent space
is then the one the decoder reads, close to but not exactly the one the denoiser learned on;
train.py re-encodes the latent dataset with it and the denoiser adapts as it trains on.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import shutil
import sys
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from export_onnx import STEP_INPUTS, HistoryGraph, history_names
from livegen.carry import MotionCarry
from livegen.config import PRESETS, TrainConfig
from livegen.layers import pick_device
from livegen.runlog import save
from livegen.train_denoiser import build, optimizer
from livegen.vae import StreamingDecoder, VAEConfig, VideoVAE
from train import fit_autoencoder, machine, refined_parameters


def graph_weights(path: str, prefix: str = "") -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """A graph's weights by parameter name (without `prefix`, the wrapper module's attribute), and
    the unnamed initializers that no module owns, by the type of the node that reads them.

    Named initializers keep their parameter's name; a MatMul's unnamed weight is its Linear
    layer's weight, transposed. The exporter keeps one initializer for parameters that are equal
    (LayerNorms left at ones) and names the others as Identity nodes of it."""
    model = onnx.load(path)
    arrays = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
    named = {name.removeprefix(prefix): a for name, a in arrays.items() if not name.startswith("onnx::")}
    others: dict[str, torch.Tensor] = {}
    for node in model.graph.node:
        for name in node.input:
            if name not in arrays:
                continue
            if node.op_type == "Identity":
                named[node.output[0].removeprefix(prefix)] = arrays[name]
            elif node.op_type == "MatMul" and name.startswith("onnx::"):
                named[module_path(node.name, prefix) + ".weight"] = arrays[name].t().contiguous()
            elif name.startswith("onnx::"):
                others[node.op_type] = arrays[name]
    return named, others


def module_path(node: str, prefix: str) -> str:
    """The module a node belongs to, from its scope: '/dit/blocks.0/mlp/mlp.0/MatMul' ->
    'blocks.0.mlp.0'. A scope names a child of a Sequential with its parent ('mlp', 'mlp.0'), and
    a module called again gets a suffix ('patch_embed_1')."""
    parts = [re.sub(r"_\d+$", "", p) for p in node.strip("/").split("/")[:-1]]
    if parts and parts[0] == prefix.rstrip("."):  # a wrapper's scope appears only when its forward calls the module
        parts = parts[1:]
    path: list[str] = []
    for p in parts:
        if path and p.startswith(path[-1] + "."):
            path[-1] = p.rsplit(".", 1)[0]
            p = p.rsplit(".", 1)[1]
        path.append(p)
    return ".".join(path)


def restore(module: torch.nn.Module, weights: list[dict[str, torch.Tensor]], what: str) -> None:
    """Loads every parameter and buffer of `module` from the graphs' weights; a parameter that
    several graphs hold (the denoiser's, in the history and the step graph) must agree."""
    state = {}
    for key in module.state_dict():
        found = [w[key] for w in weights if key in w]
        if not found:
            raise SystemExit(f"recover: the {what} graph(s) hold no weight for {key!r}")
        if any(not torch.equal(found[0], f) for f in found[1:]):
            raise SystemExit(f"recover: the {what} graphs disagree on {key!r}")
        state[key] = found[0]
    module.load_state_dict(state)


class Fixtures:
    """The inputs and PyTorch outputs of parity.json / parity.bin, as tensors."""

    def __init__(self, model_dir: str):
        with open(os.path.join(model_dir, "parity.json")) as f:
            self.index = json.load(f)
        with open(os.path.join(model_dir, self.index["file"]), "rb") as f:
            self.blob = f.read()

    def tensor(self, entry: dict) -> torch.Tensor:
        a = np.frombuffer(self.blob, dtype=entry["dtype"], count=math.prod(entry["dims"]), offset=entry["offset"])
        return torch.from_numpy(a.reshape(entry["dims"]).copy())

    def cases(self, graph: str):
        for case in self.index["cases"]:
            if case["graph"] == graph:
                yield ({k: self.tensor(v) for k, v in case["inputs"].items()},
                       {k: self.tensor(v) for k, v in case["outputs"].items()})


def check(fixtures: Fixtures, graph: str, run, tolerance: float) -> None:
    """Runs the rebuilt module on each fixture's inputs: its outputs must match the shipped ones."""
    n = 0
    for inputs, outputs in fixtures.cases(graph):
        with torch.no_grad():
            got = run(inputs)
        for name, want in outputs.items():
            diff = (got[name].double() - want.double()).abs().max().item()
            if diff > tolerance:
                raise SystemExit(f"recover: the rebuilt {graph} differs from the shipped one on {name!r} by {diff:.3g}")
        n += 1
    if not n:
        raise SystemExit(f"recover: parity.json has no {graph} case to check the rebuilt weights against")
    print(f"recover: {graph}: matches the shipped graph on {n} fixture(s)", flush=True)


def rebuild(model_dir: str) -> tuple[dict, TrainConfig, torch.nn.Module, torch.nn.Module, VideoVAE]:
    """The text encoder, denoiser and VAE (its decoder and latent normalisation) of a model
    directory, checked against its parity fixtures, with its version and the training record of
    its manifest."""
    with open(os.path.join(model_dir, "manifest.json")) as f:
        manifest = json.load(f)
    training = {"version": manifest["version"], **manifest["training"]}
    cfg = dataclasses.replace(PRESETS["cpu"], **training["config"])
    text, dit = build(cfg)
    vae = VideoVAE(VAEConfig())
    restore_model(model_dir, text, dit, vae)
    return training, cfg, text, dit, vae


def restore_model(model_dir: str, text: torch.nn.Module, dit: torch.nn.Module, vae: VideoVAE) -> None:
    """Loads a model directory's weights into modules of its shapes (all but the VAE encoder) and
    checks them against its parity fixtures."""
    with open(os.path.join(model_dir, "manifest.json")) as f:
        manifest = json.load(f)
    graphs = manifest["graphs"]
    text_w, _ = graph_weights(os.path.join(model_dir, graphs["textEncoder"]))
    restore(text, [text_w], "text encoder")
    step_w, _ = graph_weights(os.path.join(model_dir, graphs["step"]))
    history_w, _ = graph_weights(os.path.join(model_dir, graphs["history"]), prefix="dit.")
    carry_w = [graph_weights(os.path.join(model_dir, graphs["carry"]))[0]] if "carry" in graphs else []  # a bridge model's motion head
    restore(dit, [step_w, history_w] + carry_w, "denoiser")
    decoder_w, normalisation = graph_weights(os.path.join(model_dir, graphs["vaeDecoder"]), prefix="vae.decoder.")
    restore(vae.decoder, [decoder_w], "VAE decoder")
    # The decoder graph denormalises its input, z * std + mean, with the two folded into constants.
    vae.latent_std.copy_(normalisation["Mul"].flatten())
    vae.latent_mean.copy_(normalisation["Add"].flatten())
    for module in (text, dit, vae):
        module.eval()

    fixtures = Fixtures(model_dir)
    check(fixtures, "textEncoder", lambda i: dict(zip(("text", "text_mask"), text(i["ids"]))), 1e-4)
    n_levels = len(manifest["temporalPyramid"]["levels"])
    history = HistoryGraph(dit, n_levels)
    check(fixtures, "history", lambda i: dict(zip(("history_k", "history_v", "history_bias"),
                                                  history(i["sigma_c"], *(i[n] for n in history_names(n_levels))))), 1e-4)
    check(fixtures, "step", lambda i: {"velocity": dit(*(i[n] for n in STEP_INPUTS))}, 1e-4)
    decoder = StreamingDecoder(vae)
    check(fixtures, "vaeDecoder", lambda i: dict(zip(("frames", "next_cache"), decoder(i["latent"], i["cache"]))), 1.0)
    if "carry" in graphs:
        carry = MotionCarry(vae, dit.motion)
        check(fixtures, "carry", lambda i: {"moved": carry(i["latent"], i["previous"], i["text"], i["text_mask"])}, 1e-4)


def train_encoder(vae: VideoVAE, cfg: TrainConfig, out: str, steps: int, device: torch.device, deadline: float) -> int:
    """Trains a new encoder against the frozen decoder with the autoencoder phase's loss; returns
    the step it reached (resumable from <out>/encoder.pt)."""
    vae.decoder.requires_grad_(False).eval()
    vae.encoder.train()
    step = fit_autoencoder(vae, vae.encoder, "encoder", cfg, out, "encoder", steps, 5000, 50, device, deadline)
    vae.decoder.requires_grad_(True)
    return step


def write_run(out: str, training: dict, cfg: TrainConfig, text, dit, vae: VideoVAE, device: torch.device, encoder_steps: int,
              source_card: str | None) -> None:
    """The checkpoints train.py resumes from, each phase at the step the shipped model reached,
    and for the model card: recovered.json (where the run came from) and source-card.md (that
    model's card, whose training section the new card carries on)."""
    def fresh(params, **kw) -> dict:
        return torch.optim.AdamW(params, **kw).state_dict()

    save(os.path.join(out, "vae.pt"), model=vae.state_dict(), opt=fresh(vae.parameters()), step=cfg.vae_steps)
    save(os.path.join(out, "decoder.pt"), decoder=vae.decoder.state_dict(), opt=fresh(vae.decoder.parameters()),
         step=training["decoderSteps"])
    save(os.path.join(out, "motion.pt"), velocity=vae.decoder.velocity.state_dict(), opt=fresh(vae.decoder.velocity.parameters()),
         step=training["motionSteps"])
    if training.get("refineSteps"):
        save(os.path.join(out, "refine.pt"), decoder=vae.decoder.state_dict(), opt=fresh(refined_parameters(vae.decoder)),
             step=training["refineSteps"], denoiser_step=training["steps"])
    save(os.path.join(out, "denoiser.pt"), text=text.state_dict(), dit=dit.state_dict(), ema_text=text.state_dict(),
         ema_dit=dit.state_dict(), opt=optimizer(text, dit, cfg.lr)[0].state_dict(), step=training["steps"], config=cfg.model)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(dataclasses.asdict(cfg), f, indent=2)
    with open(os.path.join(out, "machine.json"), "w") as f:
        json.dump(machine(device), f, indent=2)
    with open(os.path.join(out, "recovered.json"), "w") as f:
        json.dump({"from": training, "encoderSteps": encoder_steps}, f, indent=2)
    if source_card is not None:
        shutil.copyfile(source_card, os.path.join(out, "source-card.md"))


def main(args: argparse.Namespace) -> None:
    if os.path.exists(os.path.join(args.out, "denoiser.pt")):
        raise SystemExit(f"recover: {args.out} already holds a run (denoiser.pt); recover into a new directory")
    os.makedirs(os.path.join(args.out, "samples"), exist_ok=True)  # the encoder's sheets, as train.py's phases write them
    device = pick_device()
    training, cfg, text, dit, vae = rebuild(args.model)
    vae = vae.to(device)
    deadline = time.time() + args.minutes * 60 if args.minutes else math.inf
    step = train_encoder(vae, cfg, args.out, args.encoder_steps, device, deadline)
    if step < args.encoder_steps:
        print(f"recover: encoder stopped at step {step} of {args.encoder_steps} (time budget); run again to resume")
        sys.exit(0)
    card = os.path.join(args.model, "README.md")
    write_run(args.out, training, cfg, text, dit, vae.cpu(), device, step, card if os.path.exists(card) else None)
    print(f"recover: {args.out} holds the run at denoiser step {training['steps']}; train.py continues it", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default", help="the model directory to rebuild the run from")
    parser.add_argument("--out", default="runs/cpu", help="the run directory to write")
    parser.add_argument("--encoder-steps", type=int, default=1000, help="steps of the new encoder against the frozen decoder")
    parser.add_argument("--minutes", type=float, default=0, help="stop (resumably) after this many minutes")
    main(parser.parse_args())
