"""Training examples (the piecewise flow targets, the foreground loss weights) and a smoke run of every phase, export and evaluation."""
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

import export_onnx
from livegen import pyramid, world
from livegen.config import PRESETS
from livegen.runlog import load
from livegen.frame_loss import pixel_foreground_weights
from train import apply_override, palette_error, saved_config
from livegen.carry import MotionCarry, motion_error
from livegen.train_denoiser import (Batcher, DecodedTerm, clean_estimate, fit_motion_head, foreground_weights, learning_rate,
                                    denoiser_losses, optimizer, stage_examples, twin_error, with_motion_head)
from livegen.caption_probe import IGNORE, CaptionProbe, caption_labels
from livegen.text import TextConfig, TextEncoder, default_tokenizer
from livegen.vae import VAEConfig, VideoVAE
from tests.tiny_model import tiny_model



def counting_latents() -> tuple[torch.Tensor, list[dict]]:
    """Six clips of ten latent frames where frame j holds the value j everywhere, and their scenes."""
    latents = torch.arange(10.0)[None, :, None, None, None].expand(6, 10, 4, 8, 8).clone()
    rng = np.random.default_rng(0)
    return latents, [dataclasses.asdict(world.sample_scene(rng)) for _ in range(6)]

class TrainingExamplesTest(unittest.TestCase):
    def test_foreground_weights_have_mean_one_and_favour_the_object(self):
        clean = torch.zeros(2, 4, 16, 16)
        clean[:, :, 5:8, 5:8] = 3.0  # an object on a flat background
        w = foreground_weights(clean, 4.0)
        self.assertEqual(w.shape, (2, 1, 16, 16))
        self.assertTrue(torch.allclose(w.mean(dim=(2, 3)), torch.ones(2, 1)))
        self.assertGreater(w[0, 0, 6, 6].item(), 5 * w[0, 0, 0, 0].item())
        self.assertTrue(torch.equal(foreground_weights(clean, 0.0), torch.ones(2, 1, 16, 16)))

    def test_a_continued_run_restarts_warmup_and_cosine_at_schedule_start(self):
        cfg = dataclasses.replace(PRESETS["cpu"], lr=1e-3, warmup=10, steps=1000)
        self.assertAlmostEqual(learning_rate(cfg, 0), 1e-4)
        self.assertAlmostEqual(learning_rate(cfg, 1000), 5e-5)
        restarted = dataclasses.replace(cfg, steps=2000, schedule_start=1000)
        self.assertAlmostEqual(learning_rate(restarted, 1000), 1e-4)  # warming up again
        self.assertAlmostEqual(learning_rate(restarted, 1009), 1e-3, places=5)
        self.assertAlmostEqual(learning_rate(restarted, 1500), learning_rate(cfg, 500))
        self.assertAlmostEqual(learning_rate(restarted, 2000), 5e-5)

    def test_set_reads_each_value_as_its_fields_type_and_names_a_bad_one(self):
        cfg = dataclasses.replace(PRESETS["cpu"])
        apply_override(cfg, "stage_weights=4,2,1")
        apply_override(cfg, "steps=5000")
        apply_override(cfg, "lr=0.0002")
        self.assertEqual((cfg.stage_weights, cfg.steps, cfg.lr), ((4.0, 2.0, 1.0), 5000, 2e-4))
        for bad, named in (("stage_weight=1", "stage_weight=1"), ("steps", "'steps'"), ("steps=many", "'many' is not a valid int"), ("stage_weights=4;2", "valid list of numbers")):
            with self.assertRaises(SystemExit) as err:
                apply_override(cfg, bad)
            self.assertIn(named, str(err.exception))

    def test_a_continued_run_keeps_the_settings_of_its_config_json_and_a_new_run_has_none(self):
        with tempfile.TemporaryDirectory() as out:
            self.assertIsNone(saved_config(out, PRESETS["cpu"]))
            with open(os.path.join(out, "config.json"), "w") as f:
                json.dump({"steps": 5000, "stage_weights": [4, 2, 1], "retired_field": 1}, f)
            cfg = saved_config(out, PRESETS["cpu"])
            self.assertEqual((cfg.steps, cfg.stage_weights, cfg.lr), (5000, (4, 2, 1), PRESETS["cpu"].lr))
            self.assertEqual(PRESETS["cpu"].steps, 12000)  # the preset itself is untouched

    def test_weights_from_the_history_ignore_the_target_and_are_uniform_without_a_past(self):
        torch.manual_seed(0)
        sp = pyramid.SpatialPyramid()
        reference = torch.zeros(2, 4, 16, 16)
        reference[0, :, 4:6, 4:6] = 3.0  # an object in the first example's newest history frame
        a, b = torch.randn(2, 4, 16, 16), torch.randn(2, 4, 16, 16)
        for (*_, wa), (*_, wb) in zip(stage_examples(a, sp, 4.0, reference), stage_examples(b, sp, 4.0, reference)):
            self.assertTrue(torch.equal(wa, wb))
            self.assertTrue(torch.equal(wa[1], torch.ones_like(wa[1])))
        full = stage_examples(a, sp, 4.0, reference)[-1][3][0, 0]
        self.assertGreater(full[3, 3].item(), full[12, 12].item())  # a cell beside the object counts too: it may move there
        self.assertAlmostEqual(full.mean().item(), 1.0, places=5)

    def test_weights_from_the_history_can_fall_back_on_the_target_where_there_is_no_past(self):
        sp = pyramid.SpatialPyramid()
        reference = torch.zeros(2, 4, 16, 16)
        reference[0, :, 4:6, 4:6] = 3.0  # the second example has no past
        x0 = torch.zeros(2, 4, 16, 16)
        x0[:, :, 10:12, 10:12] = 3.0
        for k, (*_, w) in enumerate(stage_examples(x0, sp, 4.0, reference, target_without_past=True)):
            clean = pyramid.down(x0, sp.factor(k))
            self.assertTrue(torch.equal(w[1], foreground_weights(clean, 4.0)[1]))
            self.assertTrue(torch.equal(w[0], foreground_weights(pyramid.down(reference, sp.factor(k)), 4.0, spread=1)[0]))

    def test_training_on_the_cpu_leaves_the_cores_to_torch_and_runs_openblas_on_one_thread(self):
        # In a child process: the setting lasts for the life of the process.
        probe = ("import ctypes, os\n"
                 "os.environ.pop('OPENBLAS_NUM_THREADS', None)\n"
                 "from livegen.layers import loaded_openblas, pick_device\n"
                 "pick_device()\n"
                 "print([ctypes.CDLL(p).openblas_get_num_threads() for p in loaded_openblas()])\n")
        env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "CUDA_VISIBLE_DEVICES")}
        out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, env=env,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))).stdout
        counts = json.loads(out)
        if not counts:
            self.skipTest("this torch does not use OpenBLAS")
        self.assertEqual(set(counts), {1})

    def test_stage_targets_run_from_the_coarse_start_to_the_noisy_end(self):
        torch.manual_seed(0)
        sp = pyramid.SpatialPyramid()
        x0 = torch.randn(3, 4, 16, 16)
        examples = stage_examples(x0, sp)
        self.assertEqual([e[0].shape[-1] for e in examples], [4, 8, 16])
        for k, (x, sigma, target, weight) in enumerate(examples):
            self.assertTrue(((sigma <= sp.starts[k] + 1e-6) & (sigma >= sp.ends[k] - 1e-6)).all())
            self.assertEqual(target.shape, x.shape)
            self.assertEqual(weight.shape, (3, 1) + x.shape[-2:])

    def test_the_clean_estimate_of_the_true_velocity_is_where_the_stage_ends(self):
        torch.manual_seed(0)
        sp = pyramid.SpatialPyramid()
        x0 = torch.randn(3, 4, 16, 16)
        last = sp.stages - 1
        x, sigma, target, _ = stage_examples(x0, sp)[last]
        torch.testing.assert_close(clean_estimate(x, sigma, target, sp.starts[last], sp.ends[last]), x0)

    def test_the_decoded_term_is_zero_at_the_truth_and_grows_with_the_estimates_error(self):
        torch.manual_seed(0)
        vae = VideoVAE(VAEConfig()).eval().requires_grad_(False)
        term = DecodedTerm(vae, 2, 4.0)
        x0, newest = torch.randn(3, 16, 4, 4), torch.randn(3, 16, 4, 4)
        newest[1] = 0  # a first frame: zeros for the cache
        self.assertEqual(term(x0, x0, newest).item(), 0.0)
        near, far = (x0 + s * torch.randn_like(x0) for s in (0.1, 1.0))
        self.assertLess(term(near, x0, newest).item(), term(far, x0, newest).item())
        estimate = far.clone().requires_grad_(True)
        term(estimate, x0, newest).backward()
        self.assertGreater(estimate.grad[:2].abs().sum().item(), 0)
        self.assertEqual(estimate.grad[2:].abs().sum().item(), 0)  # beyond the examples it decodes

    def test_caption_labels_name_each_objects_attributes_and_ignore_missing_objects_and_empty_prompts(self):
        labels = caption_labels(["a huge green box sitting still next to a tiny red disc rising on a blue background",
                                 "a little yellow wedge drifting left over a black backdrop", ""])
        self.assertEqual(labels["shape"].tolist(), [[world.SHAPES.index("square"), world.SHAPES.index("circle")],
                                                    [world.SHAPES.index("triangle"), IGNORE], [IGNORE, IGNORE]])
        self.assertEqual(labels["motion"][0].tolist(), [world.MOTIONS.index("still"), world.MOTIONS.index("up")])
        self.assertEqual(labels["color"][1, 0].item(), world.COLORS.index("yellow"))
        self.assertEqual(labels["size"][1].tolist(), [world.SIZES.index("small"), IGNORE])

    def test_the_caption_probe_learns_to_tell_shapes_apart_and_teaches_the_text_encoder(self):
        torch.manual_seed(0)
        tokenizer = default_tokenizer()
        text = TextEncoder(TextConfig(vocab_size=len(tokenizer.vocab), max_tokens=tokenizer.max_tokens, width=32, depth=1, heads=2))
        probe = CaptionProbe(32)
        captions = [f"a small red {s} moving left on a blue background" for s in ("circle", "square", "triangle")]
        ids = tokenizer.batch(captions)
        opt = torch.optim.Adam(list(text.parameters()) + list(probe.parameters()), lr=3e-3)
        before = probe.loss(*text(ids), captions).item()
        for _ in range(60):
            opt.zero_grad()
            probe.loss(*text(ids), captions).backward()
            opt.step()
        self.assertLess(probe.loss(*text(ids), captions).item(), 0.2 * before)
        self.assertIsNotNone(next(text.parameters()).grad)

    def test_a_residual_models_flow_ends_at_the_frame_minus_its_origin_weighted_by_the_frame(self):
        sp = pyramid.SpatialPyramid()
        x0, origin = torch.randn(3, 4, 16, 16), torch.randn(3, 4, 16, 16)
        torch.manual_seed(0)
        residual = stage_examples(x0, sp, strength=4.0, origin=origin)
        torch.manual_seed(0)
        plain = stage_examples(x0 - origin, sp, strength=4.0)
        torch.manual_seed(0)
        frame = stage_examples(x0, sp, strength=4.0)
        for (x, sigma, target, weight), (px, psigma, ptarget, _), (_, _, _, fweight) in zip(residual, plain, frame):
            torch.testing.assert_close((x, sigma, target), (px, psigma, ptarget))
            torch.testing.assert_close(weight, fweight)

    def test_a_bridge_starts_the_last_stage_of_an_example_with_a_past_from_its_newest_frame_and_drops_its_earlier_stages(self):
        sp = pyramid.SpatialPyramid()
        x0, bridge = torch.randn(2, 4, 16, 16), torch.randn(2, 4, 16, 16)
        bridge[1] = 0  # no past
        torch.manual_seed(0)
        bridged = stage_examples(x0, sp, strength=4.0, bridge=bridge)
        torch.manual_seed(0)
        plain = stage_examples(x0, sp, strength=4.0)
        for k, ((x, sigma, target, weight), (px, psigma, ptarget, pweight)) in enumerate(zip(bridged, plain)):
            u = ((sigma - sp.starts[k]) / (sp.ends[k] - sp.starts[k]))[:, None, None, None]
            start, plain_start = x - u * target, px - u * ptarget
            torch.testing.assert_close(x + (1 - u) * target, px + (1 - u) * ptarget)  # the same end
            if k == sp.stages - 1:
                coarse = pyramid.up(pyramid.down(x0, 2))
                torch.testing.assert_close(start[0] - plain_start[0], (1 - sp.starts[k]) * (bridge[0] - coarse[0]))
                torch.testing.assert_close(start[1], plain_start[1])
                torch.testing.assert_close(weight, pweight)
            else:
                torch.testing.assert_close((x, target), (px, ptarget))
                self.assertEqual(float(weight[0].abs().max()), 0.0)
                torch.testing.assert_close(weight[1], pweight[1])

    def test_rollout_examples_take_the_models_own_sample_of_the_frame_before_the_target_and_first_frames_any_frame(self):
        tp = pyramid.TemporalPyramid()
        latents, scenes = counting_latents()
        cfg = dataclasses.replace(PRESETS["smoke"], rollout_share=1.0, history_noise_max=0.0, history_drop=0.0, edit_share=0.0)
        calls = []

        def rollout(levels, captions, previous):
            calls.append((levels, captions, previous))
            return torch.full((len(captions), 4, 8, 8), -5.0)

        levels, _, targets, _, reference, previous, _, _ = Batcher(latents, scenes, cfg, tp, seed=1, rollout=rollout)(64)
        newest, _, mask = levels[0]
        has_past = mask[:, 0] == 1
        self.assertTrue(torch.equal(reference, newest[:, 0] * has_past[:, None, None, None]))
        target = targets[:, 0, 0, 0]
        self.assertTrue((target[has_past] >= 1).all())
        self.assertGreater(len(set(target[~has_past].tolist())), 2)  # first frames come from anywhere in a clip
        rolled = has_past & (target >= 2)
        self.assertTrue((newest[rolled] == -5.0).all())
        # frame 1's newest stays the true frame 0: a sample from no history would be another scene
        second = has_past & (target == 1)
        self.assertTrue(bool(second.any()))
        self.assertTrue((newest[second][:, 0] == 0.0).all())
        self.assertEqual(len(calls), 1)
        given, captions, given_previous = calls[0]
        # the frame before the newest is the true one, even where the newest is the model's own
        self.assertTrue(torch.equal(previous[:, 0, 0, 0], (target - 2).clamp_min(0) * has_past))
        self.assertTrue(torch.equal(given_previous[:, 0, 0, 0], (target[rolled] - 3).clamp_min(0)))
        self.assertEqual(len(captions), int(rolled.sum()))
        # the rollout sees the history of the frame before the target: its newest slot is frame k - 2
        seen_newest, _, seen_mask = given[0]
        self.assertTrue((seen_mask[:, 0] == 1).all())
        self.assertTrue(torch.equal(seen_newest[:, 0, 0, 0, 0], target[rolled] - 2))

    def test_motion_start_examples_continue_a_single_frame_from_anywhere_in_a_clip(self):
        tp = pyramid.TemporalPyramid()
        latents, scenes = counting_latents()
        cfg = dataclasses.replace(PRESETS["smoke"], first_frame_share=0.0, motion_start_share=1.0, history_noise_max=0.0,
                                  history_drop=0.0, edit_share=0.0)
        levels, _, targets, _, _, previous, _, _ = Batcher(latents, scenes, cfg, tp, seed=1)(64)
        target = targets[:, 0, 0, 0]
        self.assertTrue(torch.equal(levels[0][0][:, 0, 0, 0, 0], target - 1))  # the newest is the frame before the target
        self.assertTrue(all(float(m.sum()) == 0 for _, _, m in levels[1:]))  # and nothing older
        self.assertEqual(float(previous.abs().max()), 0.0)  # no frame before it to show the motion
        self.assertGreater(len(set(target.tolist())), 4)

    def test_pixel_weights_single_out_objects_on_a_shaded_background(self):
        scene = world.Scene("blue", (world.ObjectSpec("square", "small", "red", "still"),), shading=0.12,
                            starts=((0.5, 0.5),), bounce_signs=((1, 1),))
        video = world.render(scene, 2, 64).float() / 127.5 - 1  # (T, 3, H, W)
        w = pixel_foreground_weights(video, 4.0)
        self.assertEqual(w.shape, (2, 1, 64, 64))
        self.assertTrue(torch.allclose(w.mean(dim=(-2, -1)), torch.ones(2, 1)))
        self.assertGreater(w[0, 0, 32, 32].item(), 4 * w[0, 0, 2, 2].item())  # the object, not the shaded corner
        self.assertAlmostEqual(w[0, 0, 2, 2].item(), w[0, 0, 61, 61].item(), places=5)  # shading is not foreground

    def test_palette_error_is_nil_for_true_frames_and_ignores_shaded_backgrounds(self):
        scene = world.Scene("orange", (world.ObjectSpec("square", "large", "purple", "still"),), shading=0.12,
                            starts=((0.5, 0.5),), bounce_signs=((1, 1),))
        video = world.render(scene, 1, 64).float() / 127.5 - 1  # (1, 3, H, W)
        self.assertLess(palette_error(video, video).item(), 1e-3)
        brighter = video.clone()
        brighter[..., :4, :] += 0.1  # the shaded background's top rows: no palette colour, so not scored
        self.assertLess(palette_error(brighter, video).item(), 1e-3)

    def test_palette_error_spares_small_colour_errors_and_punishes_blended_edges(self):
        # Purple and orange fills: their blend lies nearest red, a colour neither fill has.
        purple, orange = (torch.tensor(world.PALETTE[c]).float() / 127.5 - 1 for c in ("purple", "orange"))
        video = torch.cat([purple[:, None, None].expand(3, 8, 4), orange[:, None, None].expand(3, 8, 4)], dim=-1)[None]
        off = video + 0.15  # every pixel 19 units off in each channel
        blended = video.clone()
        blended[..., 3:5] = ((purple + orange) / 2)[:, None, None]
        self.assertGreater((off - video).abs().mean(), (blended - video).abs().mean())  # L1 prefers the blend
        self.assertGreater(palette_error(blended, video).item(), 10 * palette_error(off, video).item())


class ShapeTwinsTest(unittest.TestCase):
    def test_a_pair_of_twins_shares_its_history_and_its_corruption_and_its_captions_differ_in_the_shape_words_alone(self):
        tp = pyramid.TemporalPyramid()
        latents, scenes = counting_latents()
        rng = np.random.default_rng(2)
        pairs = [world.sample_scene(rng) for _ in range(5)]
        twins = {"latents": torch.stack([latents[:5], latents[:5] + 100], dim=1),  # the twin's frame j holds j + 100
                 "scenes": [[dataclasses.asdict(a), dataclasses.asdict(world.swapped(a, "shape"))] for a in pairs]}
        cfg = dataclasses.replace(PRESETS["smoke"], twin_pairs=6, twin_first_share=0.5, text_dropout=1.0, edit_share=0.0)
        levels, sigma_c, targets, _, newest, previous, captions, twins_in_batch = Batcher(latents, scenes, cfg, tp, seed=4, twins=twins)(8)
        self.assertEqual((twins_in_batch, targets.shape[0], len(captions)), (6, 20, 20))
        first, twin = slice(8, 14), slice(14, 20)
        self.assertTrue(torch.equal(targets[twin] - targets[first], torch.full_like(targets[first], 100.0)))
        self.assertTrue(torch.equal(sigma_c[twin], sigma_c[first]))
        self.assertGreater(float(sigma_c[first].std()), 0)
        for lat, ages, mask in levels:
            for t in (lat, ages, mask):
                self.assertTrue(torch.equal(t[twin], t[first]))
        self.assertTrue(torch.equal(newest[twin], newest[first]))
        self.assertTrue(torch.equal(previous[twin], previous[first]))
        has_past = pyramid.present(newest[first])
        self.assertTrue(0 < int(has_past.sum()) < 6)  # first frames and continuations
        step = targets[first][:, 0, 0, 0] % 100 - newest[first][:, 0, 0, 0] % 100
        self.assertTrue(torch.equal(step[has_past], torch.ones(int(has_past.sum()))))  # the history is the frames just before
        self.assertEqual(captions[:8], [""] * 8)
        for a, b in zip(captions[first], captions[twin]):
            (bg_a, objects_a), (bg_b, objects_b) = world.parse_caption(a), world.parse_caption(b)
            self.assertEqual(bg_a, bg_b)
            self.assertEqual([dataclasses.replace(o, shape="") for o in objects_a], [dataclasses.replace(o, shape="") for o in objects_b])
            self.assertTrue(all(x.shape != y.shape for x, y in zip(objects_a, objects_b)))
            self.assertEqual(len(a.split()), len(b.split()))
            self.assertEqual(sum(u != v for u, v in zip(a.split(), b.split())), len(objects_a))  # the same synonyms elsewhere

    def test_twins_share_the_noise_and_the_point_on_every_stages_flow(self):
        sp = pyramid.SpatialPyramid()
        x0 = torch.randn(7, 4, 16, 16)
        x0[5:] = x0[3:5]
        for x, sigma, target, _ in stage_examples(x0, sp, twins=2):
            for t in (x, sigma, target):
                self.assertTrue(torch.equal(t[5:], t[3:5]))
            self.assertFalse(torch.equal(x[3:5], x[1:3]))

    def test_drawn_from_their_midpoint_twins_differ_only_as_their_captions_make_them(self):
        _, text, dit, _ = tiny_model()
        with torch.no_grad():  # the zero-initialised layers too, so that the text reaches the output
            for p in list(text.parameters()) + list(dit.parameters()):
                p.add_(0.2 * torch.randn_like(p))
        rng = np.random.default_rng(5)
        scenes = [world.sample_scene(rng) for _ in range(3)]
        latents = torch.randn(3, 6, 16, 8, 8)
        twins = {"latents": torch.stack([latents, latents + torch.randn_like(latents)], dim=1),
                 "scenes": [[dataclasses.asdict(a), dataclasses.asdict(world.swapped(a, "shape"))] for a in scenes]}
        cfg = dataclasses.replace(PRESETS["smoke"], twin_pairs=3, edit_share=0.0, rollout_share=0.0)
        batch = Batcher(latents, [dataclasses.asdict(a) for a in scenes], cfg, pyramid.TemporalPyramid(), seed=0, twins=twins)(2)

        def deaf(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # one reading for every caption
            return torch.ones(ids.shape[0], ids.shape[1], 32), torch.ones(ids.shape[0], ids.shape[1])

        sp, cpu = pyramid.SpatialPyramid(), torch.device("cpu")
        with torch.no_grad():
            _, ignoring = denoiser_losses(deaf, dit, sp, cfg, None, *batch, cpu)
            _, reading = denoiser_losses(text, dit, sp, cfg, None, *batch, cpu)
        self.assertAlmostEqual(float(ignoring["twins"]), 1.0, places=5)
        self.assertGreater(abs(float(reading["twins"]) - 1.0), 1e-2)

    def test_the_pair_term_is_nil_for_a_model_that_follows_the_shape_words_and_one_for_a_model_that_ignores_them(self):
        targets = [torch.randn(6, 4, s, s) for s in (4, 8, 16)]
        self.assertEqual(float(twin_error([(t, t) for t in targets], 2)), 0.0)
        ignoring = [(torch.cat([t[:4], t[2:4]]), t) for t in targets]  # each twin predicted as its first member
        self.assertAlmostEqual(float(twin_error(ignoring, 2)), 1.0, places=5)
        halfway = [(torch.cat([t[:4], (t[2:4] + t[4:]) / 2]), t) for t in targets]
        self.assertAlmostEqual(float(twin_error(halfway, 2)), 0.25, places=5)


class MotionHeadCheckpointTest(unittest.TestCase):
    def test_a_run_that_changes_continuation_resumes_with_a_fresh_head_added_or_the_old_one_dropped(self):
        _, text, pyramid_dit, _ = tiny_model()
        _, _, bridge_dit, _ = tiny_model(seed=1, continuation="bridge")
        for source, dit in ((pyramid_dit, bridge_dit), (bridge_dit, pyramid_dit)):
            source_opt, _ = optimizer(text, source, 1e-3)
            state = {"dit": source.state_dict(), "ema_dit": source.state_dict(), "opt": source_opt.state_dict()}
            opt, groups = optimizer(text, dit, 1e-3)
            fit = with_motion_head(state, dit, opt)
            for key in ("dit", "ema_dit"):
                dit.load_state_dict(fit[key])  # strict: every key the target has, no other
            opt.load_state_dict(fit["opt"])
            self.assertEqual(len(groups), 2 if dit.motion is not None else 1)
            shared = [k for k in pyramid_dit.state_dict()]
            self.assertTrue(all(torch.equal(fit["dit"][k], source.state_dict()[k]) for k in shared))


class MotionHeadFitTest(unittest.TestCase):
    def test_fitting_the_head_alone_brings_its_displacements_nearer_the_observed_next_motion(self):
        tok, text, dit, vae = tiny_model(continuation="bridge")
        with torch.no_grad():  # a velocity branch that sees motion
            for p in vae.decoder.velocity.parameters():
                p.add_(0.1 * torch.randn_like(p))
        carry = MotionCarry(vae, dit.motion)
        latents = torch.randn(6, 5, dit.cfg.latent_channels, 8, 8)
        rng = np.random.default_rng(0)
        scenes = [world.sample_scene(rng) for _ in range(6)]

        def error() -> float:
            with torch.no_grad():
                newest, target = latents[:, 0], latents[:, 1]
                emb, mask = text(tok.batch([world.caption(s, np.random.default_rng(0)) for s in scenes]))
                d = carry.displacement(newest, torch.zeros_like(newest), emb, mask)
                return float(motion_error(d, carry.observed(target, newest)).mean())
        before = error()
        fit_motion_head(carry, text, latents, scenes, 60, torch.device("cpu"), seed=0, batch=16)
        self.assertLess(error(), 0.7 * before)


class TrainingRunTest(unittest.TestCase):
    def test_every_phase_runs_checkpoints_exports_evaluates_diagnoses_and_recovers_from_the_run(self):
        models = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([sys.executable, os.path.join(models, "train.py"), "--preset", "smoke", "--out", out,
                            "--set", "continuation=bridge"], check=True, capture_output=True, cwd=models)
            for name in ("vae.pt", "latents.pt", "edits.pt", "denoiser.pt", "motion.pt", "decoder.pt", "refine.pt", "critic.pt", "config.json"):
                self.assertTrue(os.path.exists(os.path.join(out, name)), name)
            info, _, _, _ = export_onnx.load_run(out)
            self.assertEqual((info["steps"], info["decoderSteps"], info["motionSteps"], info["refineSteps"]), (2, 2, 2, 2))

            card = os.path.join(out, "card")
            subprocess.run([sys.executable, os.path.join(models, "evaluate.py"), "--run", out, "--out", card, "--seconds", "1",
                            "--prompts", "2", "--ablation-prompts", "1", "--edit-prompts", "2", "--long-prompts", "1",
                            "--long-seconds", "10", "--first-frame-prompts", "3"], check=True, capture_output=True, cwd=models)
            with open(os.path.join(card, "quality.json")) as f:
                quality = json.load(f)
            self.assertEqual(quality["seen"]["frames"], 2 * 16)
            self.assertEqual(quality["ablationOneFrameHistory"]["clips"], 1)
            self.assertEqual(set(quality["heldout"]["byGuidance"]), {f"{export_onnx.GUIDANCE:g}", "3"})
            self.assertEqual(len(quality["steering"]["edits"]), 2)
            self.assertEqual(quality["longHorizon"]["last10s"]["frames"], 160)
            self.assertEqual((quality["firstFrames"]["clips"], quality["firstFrames"]["frames"]), (3, 3 * 4))
            for sheet in ("seen.png", "heldout.png", "edit.png", "long.png", "first.png"):
                self.assertTrue(os.path.exists(os.path.join(card, sheet)), sheet)

            diagnosis = os.path.join(out, "diagnosis.json")
            subprocess.run([sys.executable, os.path.join(models, "diagnose.py"), "--run", out, "--clips", "2", "--frames", "0", "3",
                            "--start-frames", "5", "--window", "2", "--json", diagnosis], check=True, capture_output=True, cwd=models)
            with open(diagnosis) as f:
                diagnosis = json.load(f)
            self.assertEqual([row["frame"] for row in diagnosis["teacherForced"]], [0, 3])
            self.assertIsNone(diagnosis["teacherForced"][0]["latentMse"]["copyPrevious"])  # a first frame has nothing to copy
            self.assertGreater(diagnosis["teacherForced"][1]["latentMse"]["copyPrevious"], 0)
            self.assertIsNone(diagnosis["teacherForced"][0]["motion"])
            self.assertIn("motion", diagnosis["teacherForced"][1]["model"])
            self.assertEqual([row["latentFrames"] for row in diagnosis["fromTrueStart"]], [[0, 2], [2, 4], [4, 5]])

            def ship(run: str, model: str) -> str:
                """Exports a run with its model card; returns the card."""
                subprocess.run([sys.executable, os.path.join(models, "export_onnx.py"), "--run", run, "--out", model],
                               check=True, capture_output=True, cwd=models)
                shutil.copytree(card, os.path.join(model, "card"))
                subprocess.run([sys.executable, os.path.join(models, "model_card.py"), "--run", run, "--model", model],
                               check=True, capture_output=True, cwd=models)
                with open(os.path.join(model, "README.md")) as f:
                    return f.read()

            # A machine with only the exported model rebuilds the run from it and trains on; the
            # new model's card carries the training before from the old one's.
            model, recovered = os.path.join(out, "model"), os.path.join(out, "recovered")
            first_card = ship(out, model)
            self.assertIn("| first latent frame from text alone, seen prompts, best of 2 by the critic | 3 | 12 |", first_card)
            self.assertIn("| ablation: first latent frame, one candidate (no critic) | 3 | 12 |", first_card)
            self.assertIn("# livegen-default 1.0.0+2steps.decoder2.motion2.refine2.critic2:", first_card)  # the version names the refine phase's steps
            self.assertIn("| first-frame critic: 2 first frames of each of 2 training prompts, sampled by the denoiser and judged "
                          "by the quality analyzer, then the fit | 2 | 4 |", first_card)
            with open(os.path.join(model, "manifest.json")) as f:
                manifest = json.load(f)
            self.assertEqual((manifest["firstFrame"]["candidates"], manifest["graphs"]["critic"]), (2, "frame_critic.onnx"))
            self.assertIn("![first frames](card/first.png)", first_card)
            self.assertIn("(the caption probe, `livegen/caption_probe.py`, loss weight 1)", first_card)
            subprocess.run([sys.executable, os.path.join(models, "recover.py"), "--model", model, "--out", recovered,
                            "--encoder-steps", "2"], check=True, capture_output=True, cwd=models)
            subprocess.run([sys.executable, os.path.join(models, "train.py"), "--preset", "smoke", "--out", recovered,
                            "--set", "steps=4", "--set", "foreground_from=history", "--set", "stage_weights=4,2,1", "--set", "continuation=pyramid", "--set", "predicts=residual"], check=True, capture_output=True, cwd=models)
            info, _, _, _ = export_onnx.load_run(recovered)
            self.assertEqual((info["steps"], info["decoderSteps"], info["motionSteps"], info["refineSteps"]), (4, 2, 2, 2))
            self.assertEqual(load(os.path.join(recovered, "refine.pt"))["denoiser_step"], 4)  # refined again for the denoiser trained on
            shipped, rebuilt = export_onnx.load_run(out)[3], export_onnx.load_run(recovered)[3]
            torch.testing.assert_close(rebuilt.latent_mean, shipped.latent_mean)  # the latent space the denoiser learned
            torch.testing.assert_close(rebuilt.latent_std, shipped.latent_std)
            with open(os.path.join(out, "model", "manifest.json")) as f:
                self.assertEqual(json.load(f)["denoiser"]["continuation"], "bridge")
            second_card = ship(recovered, os.path.join(out, "model2"))
            self.assertIn("| denoiser + text encoder | 2 to 4 |", second_card)
            self.assertIn("--set stage_weights=4,2,1 ", second_card)
            with open(os.path.join(out, "model2", "manifest.json")) as f:
                self.assertEqual(json.load(f)["denoiser"]["predicts"], "residual")
            self.assertIn("tokens; generates each latent frame as its change from the newest history frame |", second_card)
            self.assertNotIn("newest history frame |", first_card)
            self.assertIn("tokens; continues a stream from its newest latent frame, noised, through the last stage alone |", first_card)
            self.assertIn("summed over the 3 stages, weighted 4,2,1, coarsest first)", second_card)
            self.assertNotIn("stage_weights", first_card)
            before = second_card.split("### Before: model ", 1)[1]
            first_training = first_card.split("## Training\n", 1)[1].split("\n## ", 1)[0].strip()
            self.assertIn(first_training.split("\n| phase |", 1)[1].split("\n\n", 1)[0], before)


if __name__ == "__main__":
    unittest.main()
