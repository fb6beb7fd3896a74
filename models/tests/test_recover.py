"""recover.py rebuilds the exported modules' weights from a model directory, exactly."""
import dataclasses
import tempfile
import unittest

import torch

import export_onnx
import recover
from livegen.config import PRESETS
from livegen.train_denoiser import build
from livegen.vae import VAEConfig, VideoVAE
from tests.tiny_model import tiny_model


class RecoverTest(unittest.TestCase):
    def test_a_model_directory_gives_back_every_weight_it_was_exported_with(self):
        tok, text, dit, vae = tiny_model(seed=0)
        # Fresh weights, so equal parameters (every LayerNorm at ones) share one initializer.
        vae.latent_mean.uniform_(-1, 1)
        vae.latent_std.uniform_(0.5, 2)
        _, text2, dit2, vae2 = tiny_model(seed=1)
        with tempfile.TemporaryDirectory() as d:
            export_onnx.export_model(text, dit, vae, tok, d, 128, 16.0, {"steps": 0})
            recover.restore_model(d, text2, dit2, vae2)
        for a, b in ((text, text2), (dit, dit2), (vae.decoder, vae2.decoder)):
            for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
                self.assertTrue(torch.equal(x, y), name)
        self.assertTrue(torch.allclose(vae.latent_mean, vae2.latent_mean))
        self.assertTrue(torch.allclose(vae.latent_std, vae2.latent_std))

    def test_a_recovered_run_loads_with_the_shipped_normalisation_before_it_has_latents(self):
        cfg = dataclasses.replace(PRESETS["smoke"])
        text, dit = build(cfg)
        vae = VideoVAE(VAEConfig())
        vae.latent_mean.uniform_(-1, 1)
        vae.latent_std.uniform_(0.5, 2)
        with tempfile.TemporaryDirectory() as d:
            recover.write_run(d, {"steps": 7, "decoderSteps": 3, "motionSteps": 2}, cfg, text, dit, vae, torch.device("cpu"), 0, None)
            info, _, _, loaded = export_onnx.load_run(d)
        self.assertEqual(info["steps"], 7)
        self.assertTrue(torch.equal(loaded.latent_mean, vae.latent_mean))
        self.assertTrue(torch.equal(loaded.latent_std, vae.latent_std))

    def test_node_scopes_name_their_modules(self):
        self.assertEqual(recover.module_path("/blocks.0/mlp/mlp.2/MatMul", ""), "blocks.0.mlp.2")
        self.assertEqual(recover.module_path("/dit/patch_embed_1/MatMul", "dit."), "patch_embed")
        self.assertEqual(recover.module_path("/text_kv.3/MatMul", "dit."), "text_kv.3")


if __name__ == "__main__":
    unittest.main()
