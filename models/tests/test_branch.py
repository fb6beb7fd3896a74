import os
import tempfile
import unittest

from branch import branch


def write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


class BranchTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.run = os.path.join(self.tmp.name, "run")
        os.makedirs(os.path.join(self.run, "samples"))
        for name in ("config.json", "latents.pt", "edits.pt", "denoiser.pt", "refine.pt", "denoiser.log", "latents.pt.part"):
            write(os.path.join(self.run, name), name)
        write(os.path.join(self.run, "samples", "denoiser_001000.png"), "png")

    def tearDown(self):
        self.tmp.cleanup()

    def test_datasets_are_shared_and_checkpoints_and_logs_are_the_branchs_own(self):
        out = os.path.join(self.tmp.name, "branch")
        self.assertEqual(branch(self.run, out), ["edits.pt", "latents.pt"])
        self.assertTrue(os.path.samefile(os.path.join(out, "latents.pt"), os.path.join(self.run, "latents.pt")))
        for name in ("denoiser.pt", "refine.pt", "denoiser.log", "config.json"):
            self.assertFalse(os.path.samefile(os.path.join(out, name), os.path.join(self.run, name)), name)
        write(os.path.join(out, "denoiser.pt"), "trained on")  # as a phase that trains on rewrites its checkpoint
        with open(os.path.join(self.run, "denoiser.pt")) as f:
            self.assertEqual(f.read(), "denoiser.pt")
        with open(os.path.join(out, "denoiser.log")) as f:
            self.assertEqual(f.read(), "denoiser.log")
        self.assertFalse(os.path.exists(os.path.join(out, "samples")))
        self.assertFalse(os.path.exists(os.path.join(out, "latents.pt.part")))

    def test_a_folder_that_is_no_run_or_a_target_in_use_is_refused(self):
        with self.assertRaisesRegex(SystemExit, "is not a run"):
            branch(os.path.join(self.tmp.name, "nothing"), os.path.join(self.tmp.name, "b"))
        taken = os.path.join(self.tmp.name, "taken")
        os.makedirs(taken)
        write(os.path.join(taken, "denoiser.pt"), "other")
        with self.assertRaisesRegex(SystemExit, "not empty"):
            branch(self.run, taken)
        with open(os.path.join(taken, "denoiser.pt")) as f:
            self.assertEqual(f.read(), "other")


if __name__ == "__main__":
    unittest.main()
