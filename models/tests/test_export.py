"""The exporter writes four valid ONNX graphs whose names match the engine's, and a manifest."""
import dataclasses
import json
import os
import tempfile
import unittest

import onnx

import export_onnx
from livegen import pyramid
from tests.tiny_model import tiny_model

# The names server/ feeds and reads (docs/model-format.md).
GRAPH_IO = {
    "text_encoder.onnx": (["ids"], ["text", "text_mask"]),
    "denoiser_history.onnx": (["sigma_c"] + [f"history_{i}{s}" for i in range(3) for s in ("", "_age", "_mask")],
                              ["history_k", "history_v", "history_bias"]),
    "denoiser_step.onnx": (["latent", "sigma", "text", "text_mask", "history_k", "history_v", "history_bias"], ["velocity"]),
    "vae_decoder.onnx": (["latent", "cache"], ["frames", "next_cache"]),
}


class ExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tok, text, dit, vae = tiny_model()
        cls.dir = tempfile.TemporaryDirectory()
        cls.manifest = export_onnx.export_model(text, dit, vae, tok, cls.dir.name, 128, 16.0, {"steps": 0})

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_graphs_are_valid_onnx_with_the_engine_names(self):
        for file, (inputs, outputs) in GRAPH_IO.items():
            model = onnx.load(os.path.join(self.dir.name, file))
            onnx.checker.check_model(model)
            self.assertGreaterEqual(model.opset_import[0].version, 17)
            self.assertEqual([i.name for i in model.graph.input], inputs, file)
            self.assertEqual([o.name for o in model.graph.output], outputs, file)

    def test_manifest_describes_the_pyramids_and_names_the_graphs(self):
        with open(os.path.join(self.dir.name, "manifest.json")) as f:
            manifest = json.load(f)
        self.assertEqual(manifest, self.manifest)
        stages = manifest["spatialPyramid"]["stages"]
        for stage, start in zip(stages, (1.0, 0.8002, 0.5007)):  # Pyramid Flow's
            self.assertAlmostEqual(stage["sigmaStart"], start, places=4)
        self.assertNotIn("renoise", stages[0])
        self.assertAlmostEqual(stages[1]["renoise"]["alpha"], 0.5999, places=3)
        self.assertEqual(len(manifest["temporalPyramid"]["levels"]), 3)
        self.assertEqual(set(manifest["graphs"].values()), set(GRAPH_IO))
        self.assertGreater(manifest["gflop"]["perVideoFrame"], 0)
        self.assertEqual((manifest["denoiser"]["predicts"], manifest["denoiser"]["continuation"]), ("frame", "pyramid"))

    def test_a_bridge_model_counts_the_last_stages_steps_alone(self):
        _, _, dit, vae = tiny_model()
        _, _, bridge, _ = tiny_model(continuation="bridge")
        sp, tp = pyramid.SpatialPyramid(), pyramid.TemporalPyramid()
        full, last = export_onnx.gflop(dit, vae, sp, tp, 1.0), export_onnx.gflop(bridge, vae, sp, tp, 1.0)
        self.assertEqual((last["history"], last["decoder"], full["carry"]), (full["history"], full["decoder"], 0))
        self.assertGreater(last["carry"], 0)
        only_last = dataclasses.replace(sp, steps=(0,) * (sp.stages - 1) + (sp.steps[-1],))
        self.assertAlmostEqual(last["steps"], export_onnx.gflop(dit, vae, only_last, tp, 1.0)["steps"])
        self.assertLess(last["steps"], full["steps"])
        self.assertAlmostEqual(last["perLatentFrame"], last["history"] + last["steps"] + last["decoder"] + last["carry"])

    def test_a_bridge_model_exports_its_motion_carry_graph_with_a_parity_case(self):
        tok, text, dit, vae = tiny_model(continuation="bridge")
        with tempfile.TemporaryDirectory() as out:
            manifest = export_onnx.export_model(text, dit, vae, tok, out, 128, 16.0, {"steps": 0})
            self.assertEqual(manifest["graphs"]["carry"], "motion_carry.onnx")
            graph = onnx.load(os.path.join(out, "motion_carry.onnx"))
            self.assertEqual(([i.name for i in graph.graph.input], [o.name for o in graph.graph.output]), (["latent", "previous", "text", "text_mask"], ["moved"]))
            with open(os.path.join(out, "parity.json")) as f:
                cases = [c for c in json.load(f)["cases"] if c["graph"] == "carry"]
            self.assertEqual(len(cases), 2)  # with a frame before the newest and, as a stream's second frame has, without
        self.assertNotIn("carry", self.manifest["graphs"])

    def test_parity_fixtures_cover_every_graph_and_the_tokenizer(self):
        with open(os.path.join(self.dir.name, "parity.json")) as f:
            parity = json.load(f)
        self.assertEqual({c["graph"] for c in parity["cases"]}, {"textEncoder", "history", "step", "vaeDecoder"})
        self.assertEqual(sum(c["graph"] == "step" for c in parity["cases"]), 3)  # one per stage resolution
        self.assertGreaterEqual(len(parity["tokenizer"]), 5)


if __name__ == "__main__":
    unittest.main()
