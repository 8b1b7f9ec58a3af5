"""Offline tests of the failover automation's decision logic (deploy/terraform/modules/dr/scripts/failover.py).
Run: python3 -m unittest discover -s deploy/terraform/modules/dr/scripts (deploy/check.sh does)."""

import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from failover import decide, latest_value, writer_region  # noqa: E402

NOW = 1_000_000.0
OBSERVERS = ["eu-west-1", "ap-southeast-1"]
PRIORITY = ["eu-west-1", "ap-southeast-1", "us-east-1"]


def vote(observer, down=True, lag=300, age=10, suspect="us-east-1"):
    return {"observer": observer, "suspect": suspect, "down": down, "at": NOW - age, "rpo_lag_ms": lag}


def run(votes, objective=5000):
    return decide(votes, NOW, "us-east-1", OBSERVERS, objective, PRIORITY)


class Decide(unittest.TestCase):
    def test_one_vantage_point_is_not_enough(self):
        verdict = run([vote("eu-west-1")])
        self.assertEqual(verdict["decision"], "wait")
        self.assertIn("ap-southeast-1", verdict["reason"])

    def test_an_observer_that_sees_the_writer_up_blocks_the_failover(self):
        self.assertEqual(run([vote("eu-west-1"), vote("ap-southeast-1", down=False)])["decision"], "wait")

    def test_stale_votes_do_not_count(self):
        self.assertEqual(run([vote("eu-west-1"), vote("ap-southeast-1", age=301)])["decision"], "wait")

    def test_votes_about_another_region_do_not_count(self):
        self.assertEqual(run([vote("eu-west-1"), vote("ap-southeast-1", suspect="eu-west-1")])["decision"], "wait")

    def test_the_suspect_cannot_vote_for_itself(self):
        self.assertEqual(run([vote("eu-west-1"), vote("us-east-1")])["decision"], "wait")

    def test_two_regions_agree_and_lag_within_objective_fails_over_automatically(self):
        verdict = run([vote("eu-west-1", lag=800), vote("ap-southeast-1", lag=400)])
        self.assertEqual(verdict["decision"], "auto")
        self.assertEqual(verdict["target"], "ap-southeast-1")  # lowest lag wins
        self.assertEqual(verdict["lag_ms"], 400)

    def test_equal_lag_follows_priority(self):
        self.assertEqual(run([vote("eu-west-1", lag=400), vote("ap-southeast-1", lag=400)])["target"], "eu-west-1")

    def test_lag_above_objective_needs_a_human(self):
        verdict = run([vote("eu-west-1", lag=7000), vote("ap-southeast-1", lag=9000)])
        self.assertEqual(verdict["decision"], "approve")
        self.assertEqual(verdict["target"], "eu-west-1")
        self.assertIn("above", verdict["reason"])

    def test_lag_exactly_at_objective_is_within_it(self):
        self.assertEqual(run([vote("eu-west-1", lag=5000), vote("ap-southeast-1", lag=6000)])["decision"], "auto")

    def test_unknown_lag_needs_a_human_and_known_lag_is_preferred(self):
        verdict = run([vote("eu-west-1", lag=None), vote("ap-southeast-1", lag=None)])
        self.assertEqual(verdict["decision"], "approve")
        self.assertIsNone(verdict["lag_ms"])
        self.assertEqual(run([vote("eu-west-1", lag=None), vote("ap-southeast-1", lag=100)])["target"], "ap-southeast-1")

    def test_newest_vote_of_an_observer_wins(self):
        votes = [vote("eu-west-1"), vote("ap-southeast-1", down=True, age=50), vote("ap-southeast-1", down=False, age=5)]
        self.assertEqual(run(votes)["decision"], "wait")

    def test_every_region_computes_the_same_target(self):
        votes = [vote("eu-west-1", lag=900), vote("ap-southeast-1", lag=200)]
        self.assertEqual(run(votes)["target"], run(list(reversed(votes)))["target"])


class Helpers(unittest.TestCase):
    def test_writer_region_reads_the_writer_members_arn(self):
        gc = {"GlobalClusterMembers": [
            {"DBClusterArn": "arn:aws:rds:us-east-1:123456789012:cluster:meridian-us-east-1", "IsWriter": False},
            {"DBClusterArn": "arn:aws:rds:eu-west-1:123456789012:cluster:meridian-eu-west-1", "IsWriter": True},
        ]}
        self.assertEqual(writer_region(gc), "eu-west-1")
        self.assertIsNone(writer_region({"GlobalClusterMembers": []}))

    def test_latest_value_is_the_newest_point(self):
        self.assertEqual(latest_value({"Timestamps": [3, 1, 2], "Values": [30.0, 10.0, 20.0]}), 30.0)
        self.assertIsNone(latest_value({"Timestamps": [], "Values": []}))


if __name__ == "__main__":
    unittest.main()
