"""Linear layers and attention multiply in bfloat16 inside bfloat16_matmuls, in float32 elsewhere."""
import unittest

import torch

from livegen.layers import Linear, attention, bfloat16_matmuls, wants_bfloat16


class PrecisionTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.layer = Linear(64, 96)
        self.x = torch.randn(3, 10, 64)
        self.q, self.k, self.v = torch.randn(3, 2, 10, 16), torch.randn(3, 2, 14, 16), torch.randn(3, 2, 14, 16)
        self.bias = torch.zeros(3, 1, 1, 14)
        self.bias[0, ..., -4:] = -1e4  # the first example's last four keys are masked out

    def test_bfloat16_results_stay_float32_and_near_the_float32_ones(self):
        exact_linear, exact_attention = self.layer(self.x), attention(self.q, self.k, self.v, self.bias)
        with bfloat16_matmuls():
            low_linear, low_attention = self.layer(self.x), attention(self.q, self.k, self.v, self.bias)
        for exact, low in ((exact_linear, low_linear), (exact_attention, low_attention)):
            self.assertEqual(low.dtype, torch.float32)
            self.assertGreater((exact - low).abs().max().item(), 0.0)  # it did multiply in bfloat16
            self.assertLess(((exact - low).norm() / exact.norm()).item(), 0.02)

    def test_attention_ignores_masked_keys_at_either_precision(self):
        moved = self.v.clone()
        moved[0, :, -4:] += 100.0
        for enabled in (False, True):
            with bfloat16_matmuls(enabled):
                before, after = attention(self.q, self.k, self.v, self.bias), attention(self.q, self.k, moved, self.bias)
            self.assertTrue(torch.equal(before[0], after[0]))

    def test_gradients_reach_the_float32_weights_through_bfloat16_products(self):
        with bfloat16_matmuls():
            out = attention(self.layer(self.x).reshape(3, 10, 6, 16).transpose(1, 2), self.k.repeat(1, 3, 1, 1),
                            self.v.repeat(1, 3, 1, 1), self.bias)
        out.square().mean().backward()
        self.assertEqual(self.layer.weight.grad.dtype, torch.float32)
        self.assertGreater(self.layer.weight.grad.abs().sum().item(), 0.0)

    def test_the_block_restores_the_precision_it_found_even_on_an_error(self):
        exact = self.layer(self.x)
        with self.assertRaises(RuntimeError):
            with bfloat16_matmuls():
                raise RuntimeError("inside")
        with bfloat16_matmuls(), bfloat16_matmuls(False):  # disabling inside an enabled block keeps bfloat16
            inner = self.layer(self.x)
        self.assertFalse(torch.equal(inner, exact))
        self.assertTrue(torch.equal(self.layer(self.x), exact))

    def test_the_precision_setting_is_checked_and_an_explicit_one_wins(self):
        cpu = torch.device("cpu")
        self.assertTrue(wants_bfloat16("bfloat16", cpu))
        self.assertFalse(wants_bfloat16("float32", cpu))
        self.assertIsInstance(wants_bfloat16("auto", cpu), bool)
        with self.assertRaisesRegex(SystemExit, "precision must be"):
            wants_bfloat16("fp8", cpu)


if __name__ == "__main__":
    unittest.main()
