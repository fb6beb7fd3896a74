"""diagnose.py's motion check: where a continuation puts an object, against where it should be."""
import unittest

import numpy as np

from diagnose import displacement, judge, shapes_by_kind
from livegen import world


class DisplacementTest(unittest.TestCase):
    def test_an_object_left_in_place_errs_by_its_step_one_moved_back_by_twice_and_the_true_frame_by_nothing(self):
        scenes = [world.Scene("blue", (world.ObjectSpec("square", "large", "red", motion),), 0.0, ((0.5, 0.5),), ((1, 1),))
                  for motion in ("left", "down", "still")]
        clips = np.stack([world.render(s, 5, 256).permute(0, 2, 3, 1).numpy() for s in scenes])  # (3, 5, H, W, 3)
        before, after = clips[:, 0], clips[:, 4]
        prompts = [world.caption(s) for s in scenes]
        still = displacement(before, after, before, prompts)
        self.assertEqual(still["objects"], 2)  # the still square does not count
        self.assertAlmostEqual(still["trueStepPx"], 4 * 0.19 * 256 / 16, delta=1.0)  # 4 video frames at the world's speed
        self.assertAlmostEqual(still["errorPx"], still["trueStepPx"], places=3)
        exact = displacement(before, after, after, prompts)
        self.assertEqual((exact["errorPx"], exact["rightDirection"]), (0.0, 1.0))
        opposite = [world.Scene("blue", (world.ObjectSpec("square", "large", "red", motion),), 0.0, ((0.5, 0.5),), ((1, 1),))
                    for motion in ("right", "up", "still")]
        wrong = np.stack([world.render(s, 5, 256).permute(0, 2, 3, 1).numpy()[4] for s in opposite])
        backwards = displacement(before, after, wrong, prompts)
        self.assertEqual(backwards["rightDirection"], 0.0)
        self.assertAlmostEqual(backwards["errorPx"], 2 * backwards["trueStepPx"], delta=1.0)


class ShapesByKindTest(unittest.TestCase):
    def test_each_kind_of_object_counts_apart_and_a_wrong_shape_counts_against_its_own_kind(self):
        scene = world.Scene("blue", (world.ObjectSpec("square", "small", "red", "still"),
                                     world.ObjectSpec("circle", "large", "yellow", "still")), 0.0,
                            ((0.25, 0.25), (0.7, 0.7)), ((1, 1), (1, 1)))
        frames = world.render(scene, 3, 256).permute(0, 2, 3, 1).numpy()[None]  # (1, 3, H, W, 3)
        prompt = world.caption(scene)
        self.assertEqual(shapes_by_kind(judge(frames, [prompt]), [prompt]), {"large circle": 1.0, "small square": 1.0})
        as_triangle = prompt.replace("square", "triangle")
        self.assertEqual(shapes_by_kind(judge(frames, [as_triangle]), [as_triangle]), {"large circle": 1.0, "small triangle": 0.0})


if __name__ == "__main__":
    unittest.main()
