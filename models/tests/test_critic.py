"""The first-frame critic: what it sees, what its loss teaches, and how the sampler uses it."""
import unittest

import numpy as np
import torch

from livegen import pyramid
from livegen.critic import THUMBNAIL, FrameCritic, critic_loss, thumbnail
from livegen.sampler import Generator, candidate_seed
from livegen.train_critic import augment
from livegen.vae import StreamingDecoder
from tests.tiny_model import tiny_model


class Brightest(FrameCritic):
    """A critic that prefers the brightest frames, and counts its calls."""

    def __init__(self):
        super().__init__(32)
        self.calls = 0

    def score(self, frames, text, text_mask):
        self.calls += 1
        return frames.float().mean(dim=(1, 2, 3, 4))


class CriticTest(unittest.TestCase):
    def test_the_critic_sees_the_last_video_frame_averaged_down_to_its_thumbnail(self):
        frames = torch.zeros(2, 4, 256, 256, 3, dtype=torch.uint8)
        frames[:, -1, :128] = 255  # the top half of the last frame white
        frames[:, 0] = 255  # an earlier frame is ignored
        picture = thumbnail(frames)
        self.assertEqual(tuple(picture.shape), (2, 3, THUMBNAIL, THUMBNAIL))
        torch.testing.assert_close(picture[:, :, : THUMBNAIL // 2], torch.ones(2, 3, THUMBNAIL // 2, THUMBNAIL))
        torch.testing.assert_close(picture[:, :, THUMBNAIL // 2:], -torch.ones(2, 3, THUMBNAIL // 2, THUMBNAIL))

    def test_its_loss_teaches_it_to_rank_one_prompts_candidates_by_the_analyzers_judgements(self):
        torch.manual_seed(0)
        rng = np.random.default_rng(0)
        group, prompts = 4, 8
        text, mask = torch.randn(1, 5, 32).expand(group * prompts, -1, -1), torch.ones(group * prompts, 5)

        def batch():
            """Candidates whose red square is larger where it is judged better (all four judgements)."""
            sides = torch.from_numpy(rng.integers(4, 40, size=group * prompts))
            picture = -torch.ones(group * prompts, 3, THUMBNAIL, THUMBNAIL)
            for i, s in enumerate(sides):
                picture[i, 0, :s, :s] = 1
            quality = (sides.float() / 40)[:, None].expand(-1, 4)
            return picture, quality

        def ranked_right() -> float:
            picture, quality = batch()
            with torch.no_grad():
                score = critic.rank(picture, text, mask).reshape(prompts, group)
            best = quality[:, 0].reshape(prompts, group).argmax(dim=1)
            return float((score.argmax(dim=1) == best).float().mean())

        critic = FrameCritic(32, width=8)
        opt = torch.optim.Adam(critic.parameters(), lr=3e-3)
        for _ in range(80):
            picture, quality = batch()
            loss = critic_loss(critic, augment(picture, rng), text, mask, quality, group)
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.assertGreaterEqual(np.mean([ranked_right() for _ in range(5)]), 0.75)

    def test_a_first_frame_is_the_candidate_the_critic_scores_highest_and_later_frames_are_sampled_once(self):
        tok, text, dit, vae = tiny_model()
        with torch.no_grad():
            for p in list(text.parameters()) + list(dit.parameters()):
                p.add_(0.05 * torch.randn_like(p))
        parts = (tok, text, dit, StreamingDecoder(vae), pyramid.SpatialPyramid(), pyramid.TemporalPyramid())
        plain, critic = Generator(*parts), Brightest()
        picking = Generator(*parts, critic=critic, candidates=3)
        prompt, seed = "a red circle on a blue background", 11
        latents, _ = picking.generate([(0, prompt)], 3, seed)
        self.assertEqual(critic.calls, 1)
        candidates = [plain.generate([(0, prompt)], 1, candidate_seed(seed, j)) for j in range(3)]
        brightest = max(range(3), key=lambda j: candidates[j][1].float().mean())
        self.assertNotEqual(brightest, 0, "the test's seed must make a candidate other than the first win")
        torch.testing.assert_close(latents[0], candidates[brightest][0][0], atol=1e-5, rtol=1e-5)
        self.assertEqual(candidate_seed(seed, 0), seed)  # one candidate is the plain sampler's first frame
        one = Generator(*parts, critic=Brightest(), candidates=1)
        torch.testing.assert_close(one.generate([(0, prompt)], 2, seed)[0], plain.generate([(0, prompt)], 2, seed)[0])


if __name__ == "__main__":
    unittest.main()
