"""The streaming VAE decodes frame by frame exactly as it decodes a whole clip; its velocity warp
moves a latent frame's video frames apart in time."""
import unittest

import torch

from livegen.vae import StreamingDecoder, VAEConfig, VideoVAE, warp


class StreamingDecodeTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.vae = VideoVAE(VAEConfig(latent_channels=4, enc_width=(16, 16), dec_width=(16, 16, 8))).eval()

    def test_streaming_decode_equals_whole_clip_decode(self):
        latents = torch.randn(2, 5, 4, 4, 4)  # (B, K, C, h, w): 64x64 video, 20 frames
        with torch.no_grad():
            whole = self.vae.decode_clip(latents)
            whole_rgb = ((whole.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 1, 3, 4, 2)
            step = StreamingDecoder(self.vae)
            cache = torch.zeros_like(latents[:, 0])
            frames = []
            for k in range(latents.shape[1]):
                rgb, cache = step(latents[:, k], cache)
                frames.append(rgb)
        streamed = torch.cat(frames, dim=1)
        self.assertEqual(streamed.shape, (2, 20, 64, 64, 3))
        self.assertLessEqual((streamed.int() - whole_rgb.int()).abs().max().item(), 1)  # float summation order only

    def test_a_latent_frame_decodes_to_frames_per_latent_video_frames(self):
        with torch.no_grad():
            rgb, cache = StreamingDecoder(self.vae)(torch.randn(1, 4, 4, 4), torch.zeros(1, 4, 4, 4))
        self.assertEqual(rgb.shape, (1, 4, 64, 64, 3))
        self.assertEqual(rgb.dtype, torch.uint8)
        self.assertEqual(cache.shape, (1, 4, 4, 4))

    def test_encoder_compresses_16x_in_space_and_4x_in_time(self):
        with torch.no_grad():
            mean, logvar = self.vae.encode_moments(torch.zeros(1, 8, 3, 64, 64))
        self.assertEqual(mean.shape, (1, 2, 4, 4, 4))


class VelocityWarpTest(unittest.TestCase):
    def test_zero_velocity_leaves_frames_unchanged(self):
        frames = torch.randn(8, 3, 16, 16)
        self.assertTrue(torch.equal(warp(frames, torch.zeros(2, 2, 16, 16), 4), frames))

    def test_each_frame_moves_by_velocity_times_its_distance_from_the_middle(self):
        frames = torch.zeros(3, 3, 16, 16)
        frames[:, :, 6:9, 6:9] = 1.0  # one square, the same in the 3 frames of one latent frame
        velocity = torch.zeros(1, 2, 16, 16)
        velocity[:, 0] = 2.0  # 2 px per frame to the right
        out = warp(frames, velocity, 3)
        for i, shift in enumerate((-2, 0, 2)):
            self.assertTrue(torch.allclose(out[i, :, 6:9, 6 + shift:9 + shift], torch.ones(3, 3, 3)))
            self.assertAlmostEqual(out[i].sum().item(), frames[i].sum().item(), places=4)


if __name__ == "__main__":
    unittest.main()
