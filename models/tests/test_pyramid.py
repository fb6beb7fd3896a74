"""Pyramid Flow's stage constants, block noise, the bounded history and the seeded generator."""
import unittest

import torch

from livegen import pyramid, rng


class SpatialPyramidTest(unittest.TestCase):
    def test_three_stages_reproduce_pyramid_flow_constants(self):
        sp = pyramid.SpatialPyramid(ends=(0.667, 0.334, 0.0))
        for got, want in zip(sp.starts, (1.0, 0.8002, 0.5007)):
            self.assertAlmostEqual(got, want, places=4)
        for k, (alpha, beta) in ((1, (0.5999, 0.6930)), (2, (0.7496, 0.4337))):
            a, b = sp.jump(k)
            self.assertAlmostEqual(a, alpha, places=3)
            self.assertAlmostEqual(b, beta, places=3)

    def test_block_noise_has_zero_mean_in_every_2x2_block_and_unit_variance(self):
        z = torch.randn(4, 16, 32, 32)
        n = pyramid.block_noise(z)
        self.assertLess(torch.nn.functional.avg_pool2d(n, 2).abs().max().item(), 1e-5)
        self.assertAlmostEqual(n.var().item(), 1.0, delta=0.03)

    def test_renoised_jump_has_the_next_stage_noise_level(self):
        # Noise part at the end of stage k-1 is e * n (n unit normal); after the jump it is
        # alpha * e * Up(n) + beta * n', which must look like s' * (unit normal) at the finer size.
        sp = pyramid.SpatialPyramid()
        for k in (1, 2):
            e, s = sp.ends[k - 1], sp.starts[k]
            alpha, beta = sp.jump(k)
            fine = alpha * e * pyramid.up(torch.randn(64, 4, 16, 16)) + beta * pyramid.block_noise(torch.randn(64, 4, 32, 32))
            self.assertAlmostEqual(fine.std().item(), s, delta=0.01)
            self.assertAlmostEqual(torch.nn.functional.avg_pool2d(fine, 2).std().item(), s / 2, delta=0.01)


class TemporalPyramidTest(unittest.TestCase):
    def test_history_token_count_is_fixed_however_long_the_past(self):
        tp = pyramid.TemporalPyramid()
        counts = set()
        for n in (7, 8, 50, 400):
            past = [torch.randn(1, 16, 16, 16) for _ in range(n)]
            levels = pyramid.history_levels(past[-tp.frames:], tp)
            counts.add(sum(lat.shape[1] * (lat.shape[-1] // 2) ** 2 for lat, _, _ in levels))
        self.assertEqual(counts, {tp.tokens(16, 2)})

    def test_newest_frame_is_kept_at_full_resolution_and_older_ones_coarser(self):
        tp = pyramid.TemporalPyramid()
        past = [torch.full((1, 2, 16, 16), float(i)) for i in range(10)]
        levels = pyramid.history_levels(past, tp)
        self.assertEqual(levels[0][0].shape[-1], 16)
        self.assertEqual(levels[0][0][0, 0].mean().item(), 9.0)
        self.assertEqual(levels[1][0].shape[-1], 8)
        self.assertEqual(levels[1][0][0, 0].mean().item(), 8.0)
        self.assertEqual(levels[2][0].shape[-1], 4)
        self.assertEqual(levels[2][1][0].tolist(), [4.0, 5.0, 6.0, 7.0])

    def test_slots_before_the_stream_start_are_masked(self):
        tp = pyramid.TemporalPyramid()
        levels = pyramid.history_levels([torch.randn(1, 2, 16, 16) for _ in range(2)], tp)
        self.assertEqual([m[0].tolist() for _, _, m in levels], [[1.0], [1.0, 0.0], [0.0] * 4])


class RngTest(unittest.TestCase):
    def test_known_values(self):
        # The same values are checked in tests/engine/rng.test.ts against the TypeScript generator.
        z = rng.gaussian(7, 3, (4,))
        self.assertTrue(torch.allclose(z, torch.tensor([-1.4822, 1.1659, 0.4385, -0.0320]), atol=1e-4))

    def test_standard_normal_and_stream_independent(self):
        a = rng.gaussian(1, 0, (200000,))
        self.assertAlmostEqual(a.mean().item(), 0.0, delta=0.01)
        self.assertAlmostEqual(a.std().item(), 1.0, delta=0.01)
        b = rng.gaussian(1, 1, (200000,))
        self.assertLess(abs(torch.corrcoef(torch.stack([a, b]))[0, 1].item()), 0.01)

    def test_vectorised_hash32_matches_its_scalar_definition(self):
        def scalar(x: int) -> int:
            x ^= x >> 16
            x = (x * 0x7FEB352D) & 0xFFFFFFFF
            x ^= x >> 15
            x = (x * 0x846CA68B) & 0xFFFFFFFF
            return x ^ (x >> 16)

        values = [0, 1, 2, 12345, 0x9E3779B9, 0xFFFFFFFF]
        self.assertEqual([int(v) for v in rng.hash32(values)], [scalar(v) for v in values])


if __name__ == "__main__":
    unittest.main()
