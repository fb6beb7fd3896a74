"""The motion carry: what the decoder sees move, corrected by what the prompt says."""
import unittest

import torch

from livegen.carry import MotionCarry, motion_loss, move
from tests.tiny_model import tiny_model


class MotionCarryTest(unittest.TestCase):
    def setUp(self):
        tok, self.text, dit, self.vae = tiny_model(continuation="bridge")
        self.head = dit.motion
        self.carry = MotionCarry(self.vae, self.head)
        with torch.no_grad():
            self.prompts = self.text(tok.batch(["a red circle moving left on a blue background",
                                                "a red circle moving up on a blue background"]))
        self.latent = torch.randn(2, dit.cfg.latent_channels, 8, 8)

    def wake(self, module: torch.nn.Module) -> None:
        with torch.no_grad():  # the zero-initialised output layers too
            for p in module.parameters():
                p.add_(0.1 * torch.randn_like(p))

    def test_a_whole_cell_move_shifts_the_latent_round_the_torus(self):
        d = torch.zeros(2, 2, 8, 8)
        d[:, 0] = 1.0  # one cell to the right
        d[:, 1] = -2.0  # two cells up
        torch.testing.assert_close(move(self.latent, d), torch.roll(self.latent, (-2, 1), dims=(2, 3)))

    def test_an_untrained_head_carries_the_observed_motion_and_nothing_without_a_frame_before(self):
        self.wake(self.vae.decoder.velocity)
        previous = torch.randn_like(self.latent)
        with torch.no_grad():
            observed = self.carry.observed(self.latent, previous)
            self.assertGreater(float(observed.abs().max()), 0)
            torch.testing.assert_close(self.carry.displacement(self.latent, previous, *self.prompts), observed)
            still = self.carry(self.latent, torch.zeros_like(previous), *self.prompts)
        torch.testing.assert_close(still, self.latent)

    def test_the_head_moves_each_clip_by_its_own_prompt_where_nothing_was_seen_moving(self):
        self.assertTrue(self.head.untrained())
        self.wake(self.head)
        self.assertFalse(self.head.untrained())
        same = self.latent[:1].expand(2, -1, -1, -1)
        with torch.no_grad():
            d = self.carry.displacement(same, torch.zeros_like(same), *self.prompts)
        self.assertGreater(float(d.abs().max()), 0)
        self.assertGreater(float((d[0] - d[1]).abs().max()), 1e-4)  # left and up differ

    def test_the_motion_loss_counts_clips_with_a_past_alone_and_teaches_the_head(self):
        self.wake(self.vae.decoder.velocity)
        newest, previous, target = self.latent.clone(), torch.zeros_like(self.latent), torch.randn_like(self.latent)
        newest[1] = 0  # a first frame: nothing to carry
        other = target.clone()
        other[1] = torch.randn_like(other[1])
        loss = motion_loss(self.carry, newest, previous, target, *self.prompts)
        torch.testing.assert_close(loss, motion_loss(self.carry, newest, previous, other, *self.prompts))
        opt = torch.optim.Adam(self.head.parameters(), lr=1e-2)
        for _ in range(30):
            opt.zero_grad()
            motion_loss(self.carry, newest, previous, target, *self.prompts).backward()
            opt.step()
        self.assertLess(motion_loss(self.carry, newest, previous, target, *self.prompts).item(), 0.5 * loss.item())


if __name__ == "__main__":
    unittest.main()
