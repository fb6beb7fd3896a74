"""The reference sampler: a clip depends on its prompts and seed alone, not on its batch."""
import dataclasses
import unittest

import torch

from livegen import pyramid, rng
from livegen.carry import MotionCarry
from livegen.denoiser import PyramidDiT
from livegen.sampler import Generator, denoise, from_layout, seeded_noise
from livegen.vae import StreamingDecoder
from tests.tiny_model import tiny_model


class GeneratorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tok, text, dit, vae = tiny_model()
        with torch.no_grad():  # the zero-initialised layers too, so that the text reaches the output
            for p in list(text.parameters()) + list(dit.parameters()):
                p.add_(0.05 * torch.randn_like(p))
        cls.gen = Generator(tok, text, dit, StreamingDecoder(vae), pyramid.SpatialPyramid(), pyramid.TemporalPyramid())

    def test_a_clip_in_a_batch_equals_the_same_clip_alone(self):
        schedules = [[(0, "a red circle moving left on a blue background")],
                     [(0, "a big green square on a black background"), (3, "a big white square on a black background")]]
        latents, frames = self.gen.generate_many(schedules, 5, [7, 8])
        for i, (schedule, seed) in enumerate(zip(schedules, [7, 8])):
            alone, alone_frames = self.gen.generate(schedule, 5, seed)
            torch.testing.assert_close(latents[i], alone, atol=1e-4, rtol=1e-4)
            self.assertLessEqual(int((frames[i].int() - alone_frames.int()).abs().max()), 1)

    def test_the_seed_and_a_prompt_edit_change_the_clip(self):
        base, _ = self.gen.generate([(0, "a red circle on a blue background")], 4, 1)
        other_seed, _ = self.gen.generate([(0, "a red circle on a blue background")], 4, 2)
        edited, _ = self.gen.generate([(0, "a red circle on a blue background"), (2, "a red circle on a green background")], 4, 1)
        self.assertFalse(torch.allclose(base, other_seed))
        torch.testing.assert_close(edited[:2], base[:2])
        self.assertFalse(torch.allclose(edited[2:], base[2:]))

    def test_guidance_one_skips_the_unconditional_pass_with_the_same_result(self):
        prompt = [(0, "a big green square on a black background")]
        plain = Generator(self.gen.tokenizer, self.gen.text_encoder, self.gen.dit, self.gen.decoder,
                          self.gen.spatial, self.gen.temporal, guidance=1.0)
        barely = Generator(self.gen.tokenizer, self.gen.text_encoder, self.gen.dit, self.gen.decoder,
                           self.gen.spatial, self.gen.temporal, guidance=1.0 + 1e-9)
        torch.testing.assert_close(plain.generate(prompt, 3, 5)[0], barely.generate(prompt, 3, 5)[0], atol=1e-5, rtol=1e-5)

    def variant(self, **changes) -> Generator:
        """The same weights as a model of another kind (DiTConfig fields); a bridge model's motion head starts at zero."""
        dit = PyramidDiT(dataclasses.replace(self.gen.dit.cfg, **changes)).eval()
        missing, _ = dit.load_state_dict(self.gen.dit.state_dict(), strict=False)
        assert all(k.startswith("motion.") for k in missing)
        return Generator(self.gen.tokenizer, self.gen.text_encoder, dit, self.gen.decoder, self.gen.spatial, self.gen.temporal)

    def test_a_residual_model_adds_its_flow_to_the_newest_frame_and_has_none_to_add_to_a_first_frame(self):
        residual = self.variant(predicts="residual")
        dit = residual.dit
        text = self.gen.text(["a red circle on a blue background"] * 2)
        torch.testing.assert_close(residual.latent_frame([], text, [3, 4], 0), self.gen.latent_frame([], text, [3, 4], 0))
        c = dit.cfg.latent_channels
        past = [torch.randn(2, c, 8, 8) for _ in range(3)]
        torch.testing.assert_close(residual.latent_frame(past, text, [3, 4], 3), self.gen.latent_frame(past, text, [3, 4], 3) + past[-1])

    def test_a_bridge_model_continues_from_the_noised_carried_newest_frame_through_the_last_stage_alone(self):
        bridge = self.variant(continuation="bridge")
        dit = bridge.dit
        with torch.no_grad():  # a head that moves things: its output layer starts at zero
            for p in dit.motion.parameters():
                p.add_(0.05 * torch.randn_like(p))
        text = self.gen.text(["a red circle on a blue background"] * 2)
        torch.testing.assert_close(bridge.latent_frame([], text, [3, 4], 0), self.gen.latent_frame([], text, [3, 4], 0))
        c, sp = dit.cfg.latent_channels, self.gen.spatial
        carry = MotionCarry(bridge.decoder.vae, dit.motion)
        frames = [torch.randn(2, c, 8, 8) for _ in range(3)]
        for past in (frames[:1], frames):  # a stream's second frame has no frame before its newest
            levels = pyramid.corrupt_history(pyramid.history_levels(past, self.gen.temporal), self.gen.temporal.noise,
                                             lambda level, shape: rng.gaussian_rows([3, 4], pyramid.noise_stream(3, 8 + level), shape))
            hk, hv, hb = dit.encode_history(levels, torch.full((2,), self.gen.temporal.noise))
            before = past[-2] if len(past) > 1 else torch.zeros_like(past[-1])
            start = carry(past[-1], before, text[0][:2], text[1][:2])
            self.assertGreater(float((start - past[-1]).abs().max()), 1e-3)
            last = sp.stages - 1
            s = sp.starts[last]
            x = (1 - s) * start + s * rng.gaussian_rows([3, 4], pyramid.noise_stream(3, 0), (c, 8, 8))
            for i in range(sp.steps[last]):
                sigma = s + (sp.ends[last] - s) * i / sp.steps[last]
                x = x + dit(x, torch.full((2,), sigma), text[0][:2], text[1][:2], hk, hv, hb) / sp.steps[last]
            torch.testing.assert_close(bridge.latent_frame(past, text, [3, 4], 3), x)

    def test_a_frame_drawn_from_its_true_layout_enters_the_stage_at_the_target_pooled_to_the_stage_before(self):
        frame_model, residual = self.variant(), self.variant(predicts="residual")
        for gen in (frame_model, residual):
            with torch.no_grad():  # zero velocity: the frame is the stage's start, carried through what follows
                gen.dit.final.linear.weight.zero_()
                gen.dit.final.linear.bias.zero_()
        sp, tp, c = self.gen.spatial, self.gen.temporal, self.gen.dit.cfg.latent_channels
        past = [torch.randn(2, c, 8, 8) for _ in range(2)]
        target = torch.randn(2, c, 8, 8)
        text = self.gen.text(["a red circle on a blue background"] * 2)
        noise = seeded_noise([3, 4], 2)
        last = sp.stages - 1
        s = sp.starts[last]
        for gen, origin in ((frame_model, torch.zeros_like(target)), (residual, past[-1])):
            layout = pyramid.up(pyramid.down(target - origin, sp.factor(last - 1)))
            expected = origin + (1 - s) * layout + s * noise(last, (c, 8, 8))
            torch.testing.assert_close(from_layout(gen.dit, sp, tp, past, target, last, text, noise), expected)

    def test_a_bridge_batch_of_clips_with_and_without_a_past_gives_each_clip_what_it_gets_alone(self):
        dit = self.variant(continuation="bridge").dit
        c, tp = dit.cfg.latent_channels, self.gen.temporal
        newest = torch.randn(2, c, 8, 8)
        newest[1] = 0  # the second clip has no past
        levels = pyramid.history_levels([newest], tp)
        levels[0] = (levels[0][0], levels[0][1], torch.tensor([[1.0], [0.0]]))
        text = self.gen.text(["a red circle on a blue background", "a big green square on a black background"])
        noise = lambda seeds: lambda stage, shape: rng.gaussian_rows(seeds, pyramid.noise_stream(2, stage), shape)
        both = denoise(dit, self.gen.spatial, levels, tp.noise, text, 1.0, noise([5, 6]), newest)
        for row, seed in enumerate((5, 6)):
            one = [tuple(t[row:row + 1] for t in level) for level in levels]
            rows = torch.tensor([row, row + 2])
            alone = denoise(dit, self.gen.spatial, one, tp.noise, (text[0][rows], text[1][rows]), 1.0, noise([seed]), newest[row:row + 1])
            torch.testing.assert_close(both[row:row + 1], alone, atol=1e-5, rtol=1e-5)


if __name__ == "__main__":
    unittest.main()
