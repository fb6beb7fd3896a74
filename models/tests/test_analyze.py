"""The analyzer passes the renderer's own frames and fails frames that break the prompt."""
import unittest

import numpy as np

from livegen import analyze, world


def frames_of(scene, n=24, size=128, t0=0.0):
    return world.render(scene, n, size, t0=t0).permute(0, 2, 3, 1).numpy()


class AnalyzerTest(unittest.TestCase):
    def test_renderer_frames_pass_for_every_motion_and_shape(self):
        rng = np.random.default_rng(4)
        for motion in world.MOTIONS:
            for shape in world.SHAPES:
                obj = world.ObjectSpec(shape, "large", "red", motion)
                scene = world.Scene("blue", (obj,), 0.0, ((0.5, 0.5),), ((1, 1),))
                report, _ = analyze.analyze_clip(frames_of(scene), world.caption(scene, rng))
                self.assertEqual(report.passed, 1.0, (shape, motion, report))

    def test_scattered_blobs_fail_even_in_the_right_colours(self):
        scene = world.Scene("blue", (world.ObjectSpec("circle", "large", "red", "still"),), 0.0, ((0.5, 0.5),), ((1, 1),))
        frames = frames_of(scene, n=2)
        frames[:, 5:15, 5:15] = world.PALETTE["red"]  # a second red region
        report, _ = analyze.analyze_clip(frames, world.caption(scene))
        self.assertEqual(report.objects_present, 0.0)
        self.assertEqual(report.coherent, 0.0)

    def test_wrong_shape_and_extra_colours_fail(self):
        scene = world.Scene("blue", (world.ObjectSpec("square", "large", "red", "still"),), 0.0, ((0.5, 0.5),), ((1, 1),))
        as_circle = world.Scene("blue", (world.ObjectSpec("circle", "large", "red", "still"),), 0.0, ((0.5, 0.5),), ((1, 1),))
        report, _ = analyze.analyze_clip(frames_of(as_circle, n=2), world.caption(scene))
        self.assertEqual(report.shape, 0.0)
        frames = frames_of(scene, n=2)
        frames[:, 0:20, 0:20] = world.PALETTE["yellow"]
        report, _ = analyze.analyze_clip(frames, world.caption(scene))
        self.assertEqual(report.no_extra, 0.0)

    def test_an_object_wrapping_around_the_edge_is_one_object(self):
        scene = world.Scene("black", (world.ObjectSpec("circle", "large", "white", "left"),), 0.0, ((0.0, 0.5),), ((1, 1),))
        report, _ = analyze.analyze_clip(frames_of(scene, n=12), world.caption(scene))
        self.assertEqual(report.objects_present, 1.0)
        self.assertEqual(report.motion, 1.0)

    def test_shaded_backgrounds_are_recognised(self):
        scene = world.Scene("green", (world.ObjectSpec("triangle", "small", "white", "up"),), 0.12, ((0.5, 0.5),), ((1, 1),))
        report, _ = analyze.analyze_clip(frames_of(scene), world.caption(scene))
        self.assertEqual(report.background, 1.0)
        self.assertEqual(report.passed, 1.0)


if __name__ == "__main__":
    unittest.main()
