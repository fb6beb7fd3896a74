"""Quality figures carry their uncertainty: intervals over clips, and paired comparisons of two runs."""
import contextlib
import io
import json
import os
import tempfile
import unittest
from argparse import Namespace

import numpy as np

import quality
from evaluate import mean_report
from livegen import analyze, pyramid, stats
from livegen.sampler import Generator
from livegen.vae import StreamingDecoder
from tests.tiny_model import tiny_model


def report(passed: float, coherent: float = 0.5) -> analyze.ClipReport:
    return analyze.ClipReport(frames=40, background=1.0, objects_present=0.8, shape=0.4, size=0.5, motion=0.3,
                              no_extra=0.9, coherent=coherent, passed=passed)


def run(passed: list[float], prompts: list[str]) -> dict:
    split = {**mean_report([report(p) for p in passed]), "prompts": prompts, "seeds": list(range(len(prompts)))}
    minute = mean_report([report(0.0)])
    return {"model": "m", "seen": split, "heldout": split, "longHorizon": {"firstMinute": minute, "lastMinute": minute}}


class IntervalTest(unittest.TestCase):
    def test_the_interval_holds_the_mean_and_narrows_with_more_clips(self):
        rng = np.random.default_rng(1)
        few = list(rng.uniform(0, 1, 8))
        many = list(rng.uniform(0, 1, 128))
        for values in (few, many):
            lo, hi = stats.interval(values)
            self.assertLess(lo, float(np.mean(values)))
            self.assertGreater(hi, float(np.mean(values)))
        self.assertLess(np.subtract(*stats.interval(many)[::-1]), np.subtract(*stats.interval(few)[::-1]))

    def test_clips_that_agree_leave_no_doubt(self):
        self.assertEqual(stats.interval([0.25] * 6), (0.25, 0.25))

    def test_a_paired_difference_counts_clips_and_excludes_zero_only_when_the_change_is_consistent(self):
        base = [0.1, 0.5, 0.0, 0.9, 0.3, 0.2, 0.7, 0.4]
        lifted = [b + 0.05 for b in base]
        d = stats.paired_difference(lifted, base)
        self.assertAlmostEqual(d["mean"], 0.05)
        self.assertGreater(d["interval"][0], 0)
        self.assertEqual((d["better"], d["same"], d["worse"]), (8, 0, 0))
        mixed = stats.paired_difference([b + (0.3 if i % 2 else -0.3) for i, b in enumerate(base)], base)
        self.assertLess(mixed["interval"][0], 0)
        self.assertGreater(mixed["interval"][1], 0)
        with self.assertRaises(ValueError):
            stats.paired_difference(base[:3], base)


class CompareTest(unittest.TestCase):
    def compare(self, base: dict, new: dict) -> str:
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for name, q in (("base", base), ("new", new)):
                paths.append(os.path.join(d, f"{name}.json"))
                with open(paths[-1], "w") as f:
                    json.dump(q, f)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                quality.compare(Namespace(base=paths[0], new=paths[1]))
            return out.getvalue()

    def test_mean_report_keeps_each_clips_figures(self):
        r = mean_report([report(0.0), report(0.5)])
        self.assertEqual(r["passed"], 0.25)
        self.assertEqual(r["byClip"]["passed"], [0.0, 0.5])

    def test_compare_sets_two_runs_side_by_side_clip_by_clip(self):
        prompts = [f"prompt {i}" for i in range(4)]
        table = self.compare(run([0.0, 0.1, 0.2, 0.3], prompts), run([0.1, 0.2, 0.3, 0.4], prompts))
        self.assertIn("| seen prompts | pass | 15.0% | 25.0% | +10.0 pp | +10.0 to +10.0 pp | 4 / 0 / 0 |", table)
        self.assertIn("| held-out prompts | coherent |", table)

    def test_compare_refuses_runs_of_other_prompts(self):
        with self.assertRaisesRegex(SystemExit, "other seen prompts"):
            self.compare(run([0.0, 0.1], ["a", "b"]), run([0.0, 0.1], ["a", "c"]))

    def test_the_quality_page_gives_the_intervals(self):
        text = quality.uncertainty(run([0.0, 0.2, 0.4, 0.6], ["a", "b", "c", "d"]))
        self.assertIn("95% intervals over the 4 clips", text)
        self.assertRegex(text, r"seen prompts: pass \d+\.\d-\d+\.\d%, coherent 50\.0-50\.0%")


class LongRunTest(unittest.TestCase):
    def test_failing_frames_become_spans_of_the_whole_runs_frame_numbers(self):
        failed = [False, True, True, False, True, False, False, True]
        self.assertEqual(quality.failing_spans(failed, 8000), [[8001, 8003], [8004, 8005], [8007, 8008]])
        self.assertEqual(quality.failing_spans([False] * 5, 0), [])

    def test_the_quality_page_says_when_the_long_runs_scene_breaks(self):
        line = quality.broken_scene_line({"sceneBroken": [[[16, 48], [9600, 9604]]]})
        self.assertEqual(line, "Frames of the long run with a wrong background or a stray region (36 in all), "
                               "by time in the run: 1.00-3.00 s, 600.00-600.25 s.")
        self.assertIn("No frame", quality.broken_scene_line({"sceneBroken": [[]]}))
        many = quality.broken_scene_line({"sceneBroken": [[[2 * i, 2 * i + 1] for i in range(15)]]})
        self.assertTrue(many.endswith("1.38-1.44 s and 3 more."), many)


class ReferenceFramesTest(unittest.TestCase):
    def test_each_clip_is_written_as_the_sampler_makes_it_alone_keeping_only_its_windows(self):
        tok, text, dit, vae = tiny_model(seed=3)
        gen = Generator(tok, text, dit, StreamingDecoder(vae), pyramid.SpatialPyramid(), pyramid.TemporalPyramid())
        steered = [{"text": "a red circle on a blue background", "effectiveFrom": 0},
                   {"text": "a green circle on a blue background", "effectiveFrom": 2}]
        clips = [{"name": "seen_0", "kind": "seen", "seed": 100, "latentFrames": 3, "keep": [[0, 12]],
                  "prompts": [{"text": "a big square moving up on a white background", "effectiveFrom": 0}]},
                 {"name": "edit_0", "kind": "edit", "seed": 200, "latentFrames": 3, "keep": [[0, 12]], "prompts": steered},
                 {"name": "edit_1", "kind": "edit", "seed": 201, "latentFrames": 3, "keep": [[1, 3], [9, 12]], "prompts": steered}]
        with tempfile.TemporaryDirectory() as d:
            with contextlib.redirect_stderr(io.StringIO()):
                quality.write_clips(gen, clips, d, batch_size=8)
            for clip in clips:
                _, alone = gen.generate([(q["effectiveFrom"], q["text"]) for q in clip["prompts"]], 3, clip["seed"])
                video = alone.permute(0, 2, 3, 1).numpy()
                want = np.concatenate([video[a:b] for a, b in clip["keep"]])
                got = np.fromfile(os.path.join(d, clip["name"] + ".rgb"), dtype=np.uint8).reshape(want.shape)
                self.assertLessEqual(int(np.abs(got.astype(int) - want).max()), 1, clip["name"])  # batched matmuls round apart

    def test_reference_figures_never_default_to_the_engines_quality_page(self):
        args = Namespace(plan="plan.json", frames="frames", json="out.json", doc=None, model="runs/x", engine="reference")
        with self.assertRaisesRegex(SystemExit, "give --doc; docs/QUALITY.md is the engine's page"):
            quality.score(args)


if __name__ == "__main__":
    unittest.main()
