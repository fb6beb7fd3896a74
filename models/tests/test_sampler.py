"""The reference sampler: a clip depends on its prompts and seed alone, not on its batch."""
import copy
import dataclasses
import unittest

import torch

from livegen import pyramid
from livegen.sampler import Generator
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

    def test_a_residual_model_adds_its_flow_to_the_newest_frame_and_has_none_to_add_to_a_first_frame(self):
        dit = copy.deepcopy(self.gen.dit)
        dit.cfg = dataclasses.replace(dit.cfg, predicts="residual")
        residual = Generator(self.gen.tokenizer, self.gen.text_encoder, dit, self.gen.decoder, self.gen.spatial, self.gen.temporal)
        text = self.gen.text(["a red circle on a blue background"] * 2)
        torch.testing.assert_close(residual.latent_frame([], text, [3, 4], 0), self.gen.latent_frame([], text, [3, 4], 0))
        c = dit.cfg.latent_channels
        past = [torch.randn(2, c, 8, 8) for _ in range(3)]
        torch.testing.assert_close(residual.latent_frame(past, text, [3, 4], 3), self.gen.latent_frame(past, text, [3, 4], 3) + past[-1])


if __name__ == "__main__":
    unittest.main()
