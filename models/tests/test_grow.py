import argparse
import dataclasses
import json
import os
import tempfile
import unittest

import torch

from grow import grow_state, main, placement
from livegen.config import PRESETS
from livegen.denoiser import DiTConfig, PyramidDiT
from livegen.runlog import load, save
from livegen.train_denoiser import build, optimizer


def history_levels(batch: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    return [(torch.randn(batch, 1, 16, 16, 16), torch.ones(batch, 1), torch.ones(batch, 1)),
            (torch.randn(batch, 2, 16, 8, 8), torch.full((batch, 2), 2.0), torch.tensor([[1.0, 0.0]] * batch))]


def velocity(dit: PyramidDiT, x, sigma, text, mask, levels) -> torch.Tensor:
    k, v, bias = dit.encode_history(levels, torch.full((x.shape[0],), 0.1))
    return dit(x, sigma, text, mask, k, v, bias)


class GrowTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.small = PyramidDiT(DiTConfig(width=64, depth=2, heads=2))
        with torch.no_grad():  # trained weights: nothing left at its zero initialisation
            for p in self.small.parameters():
                p.add_(0.05 * torch.randn_like(p))
        self.deep = PyramidDiT(DiTConfig(width=64, depth=5, heads=2))
        self.deep.load_state_dict(grow_state(self.small.state_dict(), 2, 5))
        self.inputs = (torch.randn(2, 16, 8, 8), torch.tensor([0.3, 0.8]), torch.randn(2, 5, 128),
                       torch.tensor([[1.0] * 5, [1.0] * 3 + [0.0] * 2]), history_levels(2))

    def test_inserted_blocks_copy_the_block_before_them_and_spread_through_the_depth(self):
        self.assertEqual(placement(2, 5), [0, 0, 0, 1, 1])
        self.assertEqual(placement(6, 10), [0, 0, 1, 1, 2, 3, 3, 4, 4, 5])

    def test_the_grown_denoiser_computes_what_the_trained_one_did(self):
        with torch.no_grad():
            before = velocity(self.small, *self.inputs)
            after = velocity(self.deep, *self.inputs)
        self.assertGreater(before.abs().mean().item(), 0.1)
        torch.testing.assert_close(after, before, rtol=0, atol=1e-5)

    def test_inserted_blocks_learn(self):
        velocity(self.deep, *self.inputs).square().mean().backward()
        for i in (1, 2, 4):  # the inserted ones: their residual outputs start at zero but take gradients
            block = self.deep.blocks[i]
            self.assertEqual(block.proj.weight.abs().max().item(), 0.0)
            self.assertGreater(block.proj.weight.grad.abs().max().item(), 0.0, f"block {i}")
            self.assertGreater(block.mlp[2].weight.grad.abs().max().item(), 0.0, f"block {i}")


class GrowRunTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.run = self.tmp.name
        cfg = dataclasses.replace(PRESETS["cpu"], model="PyramidDiT-XS")
        text, dit = build(cfg)
        save(os.path.join(self.run, "denoiser.pt"), text=text.state_dict(), dit=dit.state_dict(), ema_text=text.state_dict(),
             ema_dit=dit.state_dict(), opt=optimizer(text, dit, cfg.lr)[0].state_dict(), step=700, config=cfg.model)
        with open(os.path.join(self.run, "config.json"), "w") as f:
            json.dump(dataclasses.asdict(cfg), f)

    def tearDown(self):
        self.tmp.cleanup()

    def test_a_run_grows_in_place_and_train_py_builds_the_deeper_model(self):
        main(argparse.Namespace(run=self.run, model="PyramidDiT-XS10"))
        state = load(os.path.join(self.run, "denoiser.pt"))
        self.assertEqual((state["config"], state["step"]), ("PyramidDiT-XS10", 700))
        with open(os.path.join(self.run, "config.json")) as f:
            cfg = dataclasses.replace(PRESETS["cpu"], model=json.load(f)["model"])
        text, dit = build(cfg)
        dit.load_state_dict(state["ema_dit"])
        self.assertEqual(len(dit.blocks), 10)
        optimizer(text, dit, cfg.lr)[0].load_state_dict(state["opt"])  # the optimiser matches the new shapes

    def test_a_model_of_another_width_or_no_deeper_is_refused(self):
        for model, message in (("PyramidDiT-S", "width"), ("PyramidDiT-XS", "not deeper"), ("PyramidDiT-XL", "unknown model")):
            with self.assertRaisesRegex(SystemExit, message):
                main(argparse.Namespace(run=self.run, model=model))
        self.assertEqual(load(os.path.join(self.run, "denoiser.pt"))["config"], "PyramidDiT-XS")
