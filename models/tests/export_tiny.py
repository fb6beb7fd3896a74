"""Exports the tiny test model as a bridge model, its motion branch awake, with a first-frame critic, for the engine's tests:

    /usr/bin/python3 -m tests.export_tiny OUT      (from models/)

A bridge model's sampler runs the motion-carry graph, which a model trained with the default
continuation never exports, and the critic graph that picks one of several first frames;
tests/engine/bridgeModel.test.ts checks the engine against this one's PyTorch fixtures."""
import sys

import torch

import export_onnx
from livegen.critic import FrameCritic
from tests.tiny_model import tiny_model


def main(out: str) -> None:
    tok, text, dit, vae = tiny_model(continuation="bridge")
    with torch.no_grad():  # the zero-initialised layers too: a still velocity branch or head would carry nothing
        for p in list(text.parameters()) + list(dit.parameters()):
            p.add_(0.05 * torch.randn_like(p))
        for p in vae.decoder.velocity.parameters():
            p.add_(0.1 * torch.randn_like(p))
    # Seeded and sharpened so that of the parity sampler's three first-frame candidates it keeps
    # the last, clearly: the engine must draw every candidate's noise as PyTorch does.
    torch.manual_seed(2)
    critic = FrameCritic(text.cfg.width).eval()
    with torch.no_grad():
        critic.stem[0].weight.mul_(20)
        critic.head[-1].weight.mul_(30)
    export_onnx.export_model(text, dit, vae, tok, out, 128, 16.0, {"steps": 0}, critic, candidates=3)


if __name__ == "__main__":
    main(sys.argv[1])
