"""Choosing the occupancy guard on val: the grid, the refusal of the test split, the choice and its application."""

import json
from pathlib import Path

import pytest
import torch

from occsim.planners.occupancy_guard import OccupancyGuard
from occsim.planners.vision import VisionConfig, VisionPlannerNet, load_guard, save_vision
from occsim.scenarios import family_paths
from occsim.suite.splits import make_benchmark
from occsim.training.guard_choice import (
    NETWORK_ALONE,
    apply_choice,
    choose_guard,
    difference_text,
    grid_candidates,
    parse_grid,
    val_score,
)

TINY = VisionConfig(input_hw=(32, 56), image_channels=8, bev_channels=8, query_channels=16, attention_layers=1)


def test_the_grid_is_every_combination_beside_the_network_alone():
    base = OccupancyGuard(threshold=0.8, hold_time=3.0)
    candidates = grid_candidates(base, parse_grid(["threshold=0.6,0.8", "hold_time=0,3", "swerve_offsets=0"]))
    assert grid_candidates(base, {"swerve_offsets": [3.5]})[1].guard.swerve_offsets == (3.5,)
    assert candidates[0].name == NETWORK_ALONE and candidates[0].guard is None
    guards = [c.guard for c in candidates[1:]]
    assert len(guards) == 4 and len({c.name for c in candidates}) == 5
    assert {(g.threshold, g.hold_time) for g in guards} == {(0.6, 0.0), (0.6, 3.0), (0.8, 0.0), (0.8, 3.0)}
    assert all(g.swerve_offsets == () and g.gap == base.gap for g in guards)  # the rest stays the base's
    assert [c.name for c in grid_candidates(base, {})] == [NETWORK_ALONE, "base"]


@pytest.mark.parametrize(
    ("items", "message"),
    [(["threshold"], "expected SETTING=V1,V2"), (["threshold=high"], "must be numbers"), (["=1"], "expected")],
)
def test_a_bad_grid_item_is_refused_by_name(items, message):
    with pytest.raises(ValueError, match=message):
        parse_grid(items)


def test_an_unknown_setting_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="no setting 'treshold'.*threshold"):
        grid_candidates(OccupancyGuard(), {"treshold": [0.5]})


def test_the_test_split_is_never_used_to_choose(tmp_path):
    with pytest.raises(ValueError, match="not 'test'"):
        choose_guard(tmp_path, tmp_path / "out", grid_candidates(OccupancyGuard(), {}), split="test")


def test_val_score_weighs_safety_and_progress_equally():
    assert val_score({"ncap": 5.0, "route_completion": 0.0}) == val_score({"ncap": 0.0, "route_completion": 1.0})


def test_candidates_run_on_val_and_the_best_val_score_is_chosen_and_applied(tmp_path):
    torch.manual_seed(0)
    weights = save_vision(VisionPlannerNet(TINY).eval(), tmp_path / "weights")
    families = [p for p in family_paths() if p.stem == "stationary_vehicle"]
    bench = make_benchmark(
        families, tmp_path, "tiny", 1, test_instances=1, train_instances=1, val_instances=1, weathers=["clear"]
    )
    candidates = grid_candidates(OccupancyGuard(), {"threshold": [0.0, 0.8]})
    result = choose_guard(
        weights,
        tmp_path / "choice",
        candidates,
        benchmark=str(bench),
        instances=1,
        weathers=("clear",),
        workers=1,
        renderer="blank",
        camera_hw=(16, 28),
    )
    assert result["split"] == "tiny-v1/val" and json.loads((tmp_path / "choice" / "guard_choice.json").read_text())
    table = result["candidates"]
    assert [c["name"] for c in table] == [NETWORK_ALONE, "threshold=0", "threshold=0.8"]
    assert all(c["runs"] == 1 for c in table)
    # Each guard against the network alone on the same run; one instance gives no standard error.
    assert "vs_network_alone" not in table[0]
    for c in table[1:]:
        paired = c["vs_network_alone"]
        assert paired["runs"] == 1 and paired["standard_error"] is None
        assert paired["difference"] == pytest.approx(c["val_score"] - table[0]["val_score"], abs=2e-4)
    best = max(c["val_score"] for c in table)
    assert next(c for c in table if c["name"] == result["chosen"])["val_score"] == best
    # A threshold of 0 sees an object everywhere: the guard stops the car at once, so it cannot be chosen over
    # the network alone, which drives on.
    stopped = next(c for c in table if c["name"] == "threshold=0")
    assert stopped["route_completion"] < table[0]["route_completion"] and result["chosen"] != "threshold=0"
    assert load_guard(tmp_path / "choice" / "candidates" / "threshold=0").threshold == 0.0
    apply_choice(weights, result)
    chosen = next(c for c in table if c["name"] == result["chosen"])
    assert (load_guard(weights) is None) == (chosen["guard"] is None)


def test_the_card_and_the_terminal_give_each_guard_against_the_network_alone():
    from occsim.training.planner_card import CardInputs, _guard_choice

    alone = {"name": NETWORK_ALONE, "guard": None, "runs": 4, "ncap": 4.0, "collision_rate": 0.25}
    alone |= {"route_completion": 0.8, "val_score": 0.8}
    guard = alone | {"name": "threshold=0.8", "guard": {"threshold": 0.8}, "val_score": 0.81}
    guard["vs_network_alone"] = {"difference": 0.0104, "standard_error": 0.0213, "runs": 4, "instances": 2}
    assert difference_text(alone) == "" and difference_text(guard) == "+0.010 ± 0.021"
    choice = {"split": "tiny-v1/val", "instances_per_family": 2, "weathers": ["clear", "fog"], "objective": "o"}
    choice |= {"candidates": [alone, guard], "chosen": "threshold=0.8"}
    section = _guard_choice(choice, CardInputs(weights=Path("w"), training=Path("w")))
    assert "| `threshold=0.8` **(chosen)** | 4 | 4.00 | 0.250 | 0.80 | 0.810 | +0.010 ± 0.021 |" in section
    assert "| network alone (`vision-net`) | 4 | 4.00 | 0.250 | 0.80 | 0.800 |  |" in section
