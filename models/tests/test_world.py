"""The procedural world: determinism, exact palette, captions that parse back."""
import unittest

import numpy as np
import torch

from livegen import world


class WorldTest(unittest.TestCase):
    def test_same_seed_gives_same_scene_caption_and_pixels(self):
        a = world.sample_scene(np.random.default_rng(5))
        b = world.sample_scene(np.random.default_rng(5))
        self.assertEqual(a, b)
        self.assertEqual(world.caption(a, np.random.default_rng(1)), world.caption(b, np.random.default_rng(1)))
        self.assertTrue(torch.equal(world.render(a, 6, 64), world.render(b, 6, 64)))

    def test_different_seeds_give_different_scenes(self):
        scenes = {world.sample_scene(np.random.default_rng(s)) for s in range(20)}
        self.assertGreater(len(scenes), 15)

    def test_objects_are_filled_with_exact_palette_colours(self):
        rng = np.random.default_rng(3)
        for _ in range(10):
            scene = world.sample_scene(rng)
            frames = world.render(scene, 3, 128, t0=float(rng.uniform(0, 20)))
            pixels = {tuple(p) for p in frames.permute(0, 2, 3, 1).reshape(-1, 3).tolist()}
            for o in scene.objects:
                self.assertIn(world.PALETTE[o.color], pixels)
            if scene.shading == 0:
                allowed = {world.PALETTE[o.color] for o in scene.objects} | {world.PALETTE[scene.background]}
                self.assertLessEqual(pixels, allowed)

    def test_each_pixel_is_its_topmost_object_colour_or_the_shaded_background(self):
        # Two overlapping objects, the second drawn over the first, on a shaded background.
        scene = world.Scene("blue", (world.ObjectSpec("square", "large", "red", "right"),
                                     world.ObjectSpec("circle", "small", "yellow", "down")),
                            shading=0.2, starts=((0.5, 0.5), (0.52, 0.48)), bounce_signs=((1, 1), (1, 1)))
        frames = world.render(scene, 4, 96, t0=0.5)
        masks = world.object_masks(scene, 0.5 + np.arange(4) / 16.0, 96)
        self.assertTrue((masks[:, 0] & masks[:, 1]).any())
        shade = 1 + 0.2 * ((np.arange(96) + 0.5) / 96 - 0.5) * 2
        background = np.clip(np.round(np.outer(world.PALETTE["blue"], shade)), 0, 255)[:, :, None]  # (3, H, 1)
        red, yellow = (np.array(world.PALETTE[c])[:, None, None] for c in ("red", "yellow"))
        for k in range(4):
            small, large = masks[k, 1].numpy(), masks[k, 0].numpy()
            want = np.where(small, yellow, np.where(large, red, background))
            np.testing.assert_array_equal(frames[k].numpy(), want, err_msg=f"frame {k}")

    def test_palette_is_the_design_palette(self):
        self.assertEqual(world.PALETTE["red"], (229, 57, 53))
        self.assertEqual(world.PALETTE["gray"], (128, 128, 128))
        self.assertEqual(len(world.PALETTE), 10)

    def test_an_object_never_has_its_background_colour(self):
        rng = np.random.default_rng(11)
        for _ in range(200):
            scene = world.sample_scene(rng)
            self.assertTrue(all(o.color != scene.background for o in scene.objects))

    def test_captions_parse_back_to_their_attributes(self):
        rng = np.random.default_rng(8)
        for _ in range(300):
            scene = world.sample_scene(rng)
            text = world.caption(scene, rng)
            self.assertEqual(world.parse_caption(text), (scene.background, scene.objects), text)

    def test_parse_caption_rejects_text_outside_the_grammar(self):
        with self.assertRaises(ValueError):
            world.parse_caption("a dog running in a park")

    def test_heldout_split_is_respected(self):
        heldout = world.load_heldout()
        rng = np.random.default_rng(2)
        for _ in range(100):
            self.assertFalse(world.is_heldout(world.sample_scene(rng, heldout, want_heldout=False), heldout))
            self.assertTrue(world.is_heldout(world.sample_scene(rng, heldout, want_heldout=True), heldout))

    def test_directional_objects_wrap_and_bouncing_objects_stay_inside(self):
        obj = world.ObjectSpec("circle", "small", "red", "left")
        scene = world.Scene("blue", (obj,), 0.0, ((0.1, 0.5),), ((1, 1),))
        xs = world.object_centres(scene, np.array([0.0, 1.0]))[:, 0, 0]
        self.assertAlmostEqual(xs[1], (0.1 - world.SPEED) % 1.0)
        bouncer = world.Scene("blue", (world.ObjectSpec("square", "large", "red", "bouncing"),), 0.0, ((0.5, 0.5),), ((1, -1),))
        c = world.object_centres(bouncer, np.linspace(0, 60, 500))[:, 0]
        half = world.SIZE_EXTENT["large"] / 2
        self.assertTrue(((c >= half - 1e-9) & (c <= 1 - half + 1e-9)).all())



class EditSceneTest(unittest.TestCase):
    def test_an_edit_changes_one_attribute_and_keeps_places_and_motions(self):
        rng = np.random.default_rng(3)
        heldout = world.load_heldout()
        for _ in range(200):
            a = world.sample_scene(rng, heldout)
            b = world.edit_scene(rng, a, heldout)
            self.assertEqual((a.starts, a.bounce_signs, a.shading), (b.starts, b.bounce_signs, b.shading))
            self.assertEqual([o.motion for o in a.objects], [o.motion for o in b.objects])
            changes = (a.background != b.background) + sum(
                (x.color != y.color) + (x.shape != y.shape) for x, y in zip(a.objects, b.objects))
            self.assertEqual(changes, 1)
            self.assertFalse(world.is_heldout(b, heldout))
            self.assertTrue(all(o.color != b.background for o in b.objects))
            self.assertEqual(len({o.color for o in b.objects}), len(b.objects))

    def test_swapping_changes_that_attribute_of_every_object_alone_and_the_caption_says_so(self):
        rng = np.random.default_rng(3)
        for scene in [world.sample_scene(rng) for _ in range(40)]:
            _, objects = world.parse_caption(world.caption(scene))
            for kind in world.EDIT_KINDS:
                edited = world.swapped(scene, kind)
                self.assertEqual((edited.starts, edited.bounce_signs, edited.shading), (scene.starts, scene.bounce_signs, scene.shading))
                background, changed = world.parse_caption(world.caption(edited))
                self.assertEqual(background != scene.background, kind == "background")
                self.assertNotIn(background, [o.color for o in changed])
                self.assertEqual(len({o.color for o in changed}), len(changed))
                for before, after in zip(objects, changed):
                    for field in ("color", "shape", "size", "motion"):
                        self.assertEqual(getattr(before, field) != getattr(after, field), field == kind, (kind, field))


class MotionFieldTest(unittest.TestCase):
    def test_pixels_an_object_sweeps_move_at_its_velocity_and_the_rest_is_still(self):
        mover = world.ObjectSpec("square", "small", "red", "right")
        sitter = world.ObjectSpec("circle", "small", "green", "still")
        scene = world.Scene("blue", (mover, sitter), 0.0, ((0.3, 0.3), (0.7, 0.7)), ((1, 1), (1, 1)))
        field = world.motion_field(scene, 2, 4, 64, 16.0)
        self.assertEqual(tuple(field.shape), (2, 2, 64, 64))
        speed = world.SPEED * 64 / 16.0  # pixels per video frame
        masks = world.object_masks(scene, np.arange(4) / 16.0, 64).any(dim=0)  # swept in latent frame 0
        first = field[0]
        self.assertTrue(torch.allclose(first[0][masks[0]], torch.full((int(masks[0].sum()),), speed)))
        self.assertTrue((first[1][masks[0]] == 0).all())
        self.assertTrue((first[:, ~masks[0]] == 0).all())  # the still object and the background

    def test_a_bouncing_object_reverses_its_velocity_at_the_wall(self):
        bouncer = world.ObjectSpec("circle", "small", "red", "bouncing")
        half = world.SIZE_EXTENT["small"] / 2
        scene = world.Scene("blue", (bouncer,), 0.0, ((1 - half - 0.01, 0.5),), ((1, 1),))
        v = world.object_velocities(scene, np.array([0.0, 0.5]), 64, 16.0)[:, 0, 0]
        self.assertGreater(v[0], 0)
        self.assertLess(v[1], 0)
        self.assertAlmostEqual(abs(v[1]), world.BOUNCE_SPEED[0] * 64 / 16.0, places=5)


if __name__ == "__main__":
    unittest.main()
