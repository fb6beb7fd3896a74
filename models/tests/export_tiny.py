"""Exports the tiny test model as a bridge model, its motion branch awake, for the engine's tests:

    /usr/bin/python3 -m tests.export_tiny OUT      (from models/)

A bridge model's sampler runs the motion-carry graph, which a model trained with the default
continuation never exports; tests/engine/bridgeModel.test.ts checks the engine against this one's
PyTorch fixtures."""
import sys

import torch

import export_onnx
from tests.tiny_model import tiny_model


def main(out: str) -> None:
    tok, text, dit, vae = tiny_model(continuation="bridge")
    with torch.no_grad():  # the zero-initialised layers too: a still velocity branch or head would carry nothing
        for p in list(text.parameters()) + list(dit.parameters()):
            p.add_(0.05 * torch.randn_like(p))
        for p in vae.decoder.velocity.parameters():
            p.add_(0.1 * torch.randn_like(p))
    export_onnx.export_model(text, dit, vae, tok, out, 128, 16.0, {"steps": 0})


if __name__ == "__main__":
    main(sys.argv[1])
