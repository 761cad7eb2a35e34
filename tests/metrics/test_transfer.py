import pytest

from occsim.metrics.transfer import planner_transfer
from occsim.scenarios import load_scenario
from occsim.suite.runner import SuiteConfig, run_suite
from occsim.suite.tasks import expand_tasks


def _record(renderer, planner, scenario, ncap, collision, completion, pdms, outcome="goal", run=0):
    return {
        "renderer": renderer,
        "planner": planner,
        "weather": "clear",
        "scenario": scenario,
        "run": run,
        "seed": 1,
        "ncap": ncap,
        "collision": collision,
        "route_completion": completion,
        "pdms": pdms,
        "outcome": outcome,
    }


def test_gaps_compare_the_same_runs_only():
    records = [
        _record("raster", "p", "a", 5.0, False, 1.0, 0.9),
        _record("raster", "p", "b", 5.0, False, 1.0, 0.8),
        _record("syntheocc", "p", "a", 1.0, True, 0.5, 0.1, outcome="collision"),
        _record("syntheocc", "p", "b", 0.0, False, 0.0, 0.0, outcome="error"),  # unfinished: not compared
        _record("syntheocc", "p", "c", 5.0, False, 1.0, 1.0),  # no raster twin: not compared
    ]
    rows = {r["renderer"]: r for r in planner_transfer(records)}
    assert rows["syntheocc"]["runs"] == 1
    assert rows["syntheocc"]["ncap_gap"] == pytest.approx(-4.0)
    assert rows["syntheocc"]["collision_rate_gap"] == pytest.approx(1.0)
    assert rows["syntheocc"]["route_completion_gap"] == pytest.approx(-0.5)
    assert rows["raster"]["runs"] == 2 and rows["raster"]["pdms_gap"] == 0.0


def test_transfer_on_a_tiny_suite_between_two_renderers(tmp_path):
    tasks = expand_tasks([load_scenario("bus_ahead")], ["constant_velocity", "expert"], [None], 1, 0)
    records = []
    for renderer in ("raster", "blank"):
        config = SuiteConfig(out_dir=tmp_path / renderer, renderer=renderer, camera_hw=(16, 28), no_video=True)
        records += run_suite(tasks, config).records
    rows = {(r["renderer"], r["planner"]): r for r in planner_transfer([r.to_json() for r in records])}
    assert set(rows) == {(r, p) for r in ("raster", "blank") for p in ("constant_velocity", "expert")}
    # privileged and blind planners do not look at the images: the views cannot change what they do
    assert all(rows[("blank", p)][f"{k}_gap"] == 0.0 for p in ("constant_velocity", "expert") for k in ("ncap", "pdms"))
    assert rows[("raster", "constant_velocity")]["collision_rate"] == 1.0
