import unittest

from model_card import check_log_start


def records(first: int, last: int, every: int = 20) -> list[dict]:
    return [{"step": s, "time": float(s)} for s in range(first, last + 1, every)]


class LogStartTest(unittest.TestCase):
    def test_a_log_from_the_first_step_or_from_where_a_recovered_denoiser_began_is_accepted(self):
        check_log_start(records(20, 400), 0, "denoiser.log")
        check_log_start(records(4940, 5400), 4936, "denoiser.log")
        check_log_start([], 0, "denoiser.log")

    def test_a_log_that_misses_its_earlier_sittings_is_refused_with_the_steps_it_lacks(self):
        with self.assertRaises(SystemExit) as caught:
            check_log_start(records(11620, 12600), 4936, "runs/x/denoiser.log")
        self.assertIn("runs/x/denoiser.log starts at step 11620", str(caught.exception))
        self.assertIn("from step 4936", str(caught.exception))
        with self.assertRaises(SystemExit):
            check_log_start(records(8020, 9000), 0, "denoiser.log")


if __name__ == "__main__":
    unittest.main()
