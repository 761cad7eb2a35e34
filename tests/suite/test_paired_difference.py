"""paired_difference: a planner against a baseline on the same runs, with a standard error over instances."""

import pytest

from occsim.suite.records import RunRecord
from occsim.suite.summary import paired_difference


def _run(planner: str, instance: int, weather: str, value: float, failed: bool = False) -> RunRecord:
    line = {"key": f"{planner}{instance}{weather}", "scenario": "s", "planner": planner, "weather": weather}
    line |= {"run": instance, "seed": 100 + instance}
    if failed:
        return RunRecord.from_json(line | {"outcome": "error", "error": "boom"})
    return RunRecord.from_json(line | {"outcome": "goal", "route_completion": value, "ncap": 5.0})


def _value(record: RunRecord) -> float:
    return record.scores.route_completion


def test_the_difference_pairs_runs_and_clusters_the_weathers_of_an_instance():
    # Instance 0 gains 0.2 in both weathers, instance 1 loses 0.1 in both, instance 2 is level.
    gains = {0: 0.2, 1: -0.1, 2: 0.0}
    records = [
        _run(p, i, w, 0.5 + (gains[i] if p == "new" else 0.0))
        for p in ("new", "old")
        for i in gains
        for w in ("clear", "fog")
    ]
    paired = paired_difference(records, "new", "old", _value)
    assert paired["runs"] == 6 and paired["instances"] == 3
    assert paired["difference"] == pytest.approx(0.1 / 3, abs=1e-4)
    # Three cluster means 0.2, -0.1, 0: their standard error, not that of six runs taken as independent.
    assert paired["standard_error"] == pytest.approx(0.0882, abs=1e-4)


def test_runs_without_a_partner_or_with_an_error_are_left_out():
    records = [_run("new", 0, "clear", 0.9), _run("old", 0, "clear", 0.4), _run("new", 1, "clear", 1.0)]
    records += [_run("new", 2, "clear", 0.0, failed=True), _run("old", 2, "clear", 0.5)]
    paired = paired_difference(records, "new", "old", _value)
    assert paired == {"difference": 0.5, "standard_error": None, "runs": 1, "instances": 1}


def test_nothing_paired_is_said_plainly():
    paired = paired_difference([_run("new", 0, "clear", 1.0)], "new", "old", _value)
    assert paired == {"difference": None, "standard_error": None, "runs": 0, "instances": 0}
