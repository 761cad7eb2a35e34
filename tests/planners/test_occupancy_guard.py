import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from occsim.planners import make_planner
from occsim.planners.occupancy_guard import (
    GuardState,
    OccupancyGuard,
    clear_distance,
    extend_path,
    first_hit,
    guard_waypoints,
    shift_sideways,
    truncate_path,
)
from occsim.planners.vision import VisionConfig, VisionPlannerNet, bev_cell_centres, load_guard, save_vision
from occsim.types import EGO_FRONT, CameraRig, PlannerInput

CENTRES = bev_cell_centres(VisionConfig())  # 2 m cells, -39 ... 39
STRAIGHT = np.stack([np.arange(1, 7) * 5.0, np.zeros(6)], axis=1)  # 10 m/s ahead: 30 m in 3 s


def _map_with(*cells: tuple[float, float]) -> np.ndarray:
    objects = np.zeros((40, 40))
    for x, y in cells:
        objects[np.argmin(np.abs(CENTRES - x)), np.argmin(np.abs(CENTRES - y))] = 1.0
    return objects


def test_a_clear_path_is_left_alone():
    guard = OccupancyGuard()
    objects = _map_with((15.0, 5.0), (-9.0, 1.0))  # beside the lane and behind the car
    assert clear_distance(STRAIGHT, objects, CENTRES, guard) == np.inf
    assert np.array_equal(guard_waypoints(STRAIGHT, objects, CENTRES, guard), STRAIGHT)


def test_an_object_ahead_stops_the_plan_a_gap_before_it():
    guard = OccupancyGuard(threshold=0.5, gap=2.5, horizon=3.0)
    objects = _map_with((21.0, 1.0))  # a cell 20-22 m ahead, half in the corridor
    distance = clear_distance(STRAIGHT, objects, CENTRES, guard)
    # The bumper reads above 0.5 from 1 m before the cell's centre; then the gap.
    assert distance == pytest.approx(21.0 - 1.0 - EGO_FRONT - 2.5, abs=0.6)
    guarded = guard_waypoints(STRAIGHT, objects, CENTRES, guard)
    assert guarded[:, 0].max() == pytest.approx(distance)
    # Beyond the first second (10 m and the bumper's 3.3 m) the network's own plan is left alone.
    assert clear_distance(STRAIGHT, objects, CENTRES, replace(guard, horizon=1.0)) == np.inf
    assert np.all(np.diff(guarded[:, 0]) >= 0) and np.all(guarded[:, 1] == 0)
    assert guarded[0, 0] == 5.0  # the first 0.5 s is still driven as planned


def test_an_object_at_the_bumper_stops_the_car_where_it_is():
    objects = _map_with((3.0, -1.0), (3.0, 1.0), (5.0, -1.0), (5.0, 1.0))  # a car right at the bumper (3.3 m)
    assert np.array_equal(guard_waypoints(STRAIGHT, objects, CENTRES, OccupancyGuard()), np.zeros((6, 2)))


def test_the_bumper_follows_a_turning_path():
    # A quarter turn to the left of radius 10 m: the path ends 10 m ahead and 10 m left, heading left.
    angles = np.linspace(0, np.pi / 2, 7)[1:]
    left_turn = np.stack([10 * np.sin(angles), 10 - 10 * np.cos(angles)], axis=1)
    across = _map_with((11.0, 13.0))  # just past the turn's end, where the bumper then points
    straight_on = _map_with((17.0, 1.0))  # where a car that did not turn would go
    guard = OccupancyGuard(threshold=0.5, horizon=3.0)
    assert clear_distance(left_turn, across, CENTRES, guard) < np.inf
    assert clear_distance(left_turn, straight_on, CENTRES, guard) == np.inf


def test_truncate_path_moves_points_back_along_the_path():
    corner = np.array([[2.0, 0.0], [4.0, 0.0], [4.0, 2.0], [4.0, 4.0], [4.0, 6.0], [4.0, 8.0]])
    out = truncate_path(corner, 5.0)
    assert out.tolist() == [[2, 0], [4, 0], [4, 1], [4, 1], [4, 1], [4, 1]]
    assert np.array_equal(truncate_path(corner, 100.0), corner)
    stopped = np.zeros((6, 2))
    assert np.array_equal(clear_distance(stopped, _map_with((30.0, 0.0)), CENTRES, OccupancyGuard()), np.inf)


def test_first_hit_says_where_and_on_which_side():
    guard = OccupancyGuard(threshold=0.5)
    station, point, side = first_hit(STRAIGHT, _map_with((21.0, 1.0)), CENTRES, guard, np.inf)
    assert point[0] == pytest.approx(station + EGO_FRONT) and side == 1.0  # the cell is left of the path's centre
    assert first_hit(STRAIGHT, _map_with((21.0, -1.0)), CENTRES, guard, np.inf)[2] == -1.0
    assert first_hit(STRAIGHT, _map_with((21.0, 1.0)), CENTRES, guard, 10.0)[0] == np.inf  # beyond the length
    assert first_hit(STRAIGHT, _map_with((21.0, 5.0)), CENTRES, guard, np.inf) == (np.inf, None, 0.0)


def test_extend_and_shift_keep_the_plans_shape():
    assert np.array_equal(extend_path(STRAIGHT, 20.0), STRAIGHT)
    longer = extend_path(STRAIGHT[:2], 30.0)  # 10 m planned, then straight on
    assert longer[-1, 0] == pytest.approx(30.0) and np.all(longer[:, 1] == 0)
    assert extend_path(np.zeros((6, 2)), 5.0)[-1].tolist() == [5.0, 0.0]  # a stopped plan looks straight ahead
    shifted = shift_sideways(STRAIGHT, -3.5, ramp=1.5)
    assert np.array_equal(shifted[:, 0], STRAIGHT[:, 0])  # only sideways
    assert shifted[2:, 1] == pytest.approx(np.full(4, -3.5)) and -3.5 < shifted[0, 1] < 0  # eased in, then held
    angles = np.linspace(0, np.pi / 2, 7)[1:]
    left_turn = np.stack([10 * np.sin(angles), 10 - 10 * np.cos(angles)], axis=1)
    outward = shift_sideways(left_turn, -2.0, ramp=0.5)  # to the right of a left turn: a wider radius
    assert np.linalg.norm(outward - [0, 10], axis=1) == pytest.approx(np.full(6, 12.0), abs=0.05)


def _drive(state: GuardState, objects_at, road: np.ndarray, times=(0.0, 0.5)) -> list[np.ndarray]:
    """Plan STRAIGHT at each time with the ego moving 5 m per plan; ``objects_at(t)`` gives the world cells."""
    plans = []
    for t in times:
        ego_x = 10.0 * t
        cells = [(x - ego_x, y) for x, y in objects_at(t)]
        plans.append(state.apply(STRAIGHT, _map_with(*cells), road, np.array([ego_x, 0.0, 0.0]), t))
    return plans


def _oncoming(t: float) -> list[tuple[float, float]]:
    return [(31.0 - 10.0 * t, -1.0), (31.0 - 10.0 * t, 1.0)]  # a car in our lane coming at 10 m/s


def _standing(t: float) -> list[tuple[float, float]]:
    return [(31.0, -1.0), (31.0, 1.0)]


ROAD = np.zeros((40, 40))
ROAD[:, (CENTRES > -6) & (CENTRES < 2)] = 1.0  # our lane and one to the right, none to the left


def test_a_car_coming_at_us_is_swerved_round_onto_the_road():
    state = GuardState(OccupancyGuard(), CENTRES)
    first, second = _drive(state, _oncoming, ROAD)
    assert np.array_equal(first, STRAIGHT)  # one sight of it: not yet known to move
    assert second[-1, 1] == pytest.approx(-3.5) and second[-1, 0] == pytest.approx(30.0)  # right: no road left
    state.reset()
    assert np.array_equal(_drive(state, _oncoming, ROAD, times=(0.5,))[0], STRAIGHT)  # forgotten


def test_the_swerve_goes_away_from_the_side_the_car_comes_on():
    def from_the_right(t: float) -> list[tuple[float, float]]:
        return [(31.0 - 10.0 * t, -1.0), (31.0 - 10.0 * t, -3.0)]

    both_sides = np.zeros((40, 40))
    both_sides[:, np.abs(CENTRES) < 6] = 1.0
    assert _drive(GuardState(OccupancyGuard(), CENTRES), from_the_right, both_sides)[1][-1, 1] == pytest.approx(3.5)
    # With road on its side only, no shift is both clear and on the road: the plan is left to the stop guard.
    right_only = np.zeros((40, 40))
    right_only[:, CENTRES < 0.5] = 1.0
    plan = _drive(GuardState(OccupancyGuard(), CENTRES), from_the_right, right_only)[1]
    assert plan[-1, 1] == 0.0


def test_no_swerve_round_a_standing_car_off_the_road_or_at_a_junction():
    standing = _drive(GuardState(OccupancyGuard(), CENTRES), _standing, ROAD)
    assert all(np.array_equal(p, STRAIGHT) for p in standing)
    no_road = np.zeros((40, 40))
    assert np.array_equal(_drive(GuardState(OccupancyGuard(), CENTRES), _oncoming, no_road)[1], STRAIGHT)
    never = GuardState(OccupancyGuard(swerve_offsets=()), CENTRES)
    assert np.array_equal(_drive(never, _oncoming, ROAD)[1], STRAIGHT)
    junction = ROAD.copy()
    junction[(CENTRES > 20) & (CENTRES < 28)] = 1.0  # a crossing road ahead: the car may be turning across
    assert np.array_equal(_drive(GuardState(OccupancyGuard(), CENTRES), _oncoming, junction)[1], STRAIGHT)


HOLD = OccupancyGuard(hold_time=3.0)
SWERVED = shift_sideways(STRAIGHT, -3.0, ramp=1.5)  # the network's own move one lane to the right


def _hold_drive(state: GuardState, plans, seen_at_first: bool = True, road: np.ndarray = ROAD) -> list[np.ndarray]:
    """Feed ``plans`` at 0.5 s steps; the ego moves 5 m straight per step; an object ahead in the first frame."""
    out = []
    for k, plan in enumerate(plans):
        objects = _map_with((21.0, 0.0)) * 0.6 if k == 0 and seen_at_first else np.zeros((40, 40))
        out.append(state.apply(plan, objects, road, np.array([5.0 * k, 0.0, 0.0]), 0.5 * k))
    return out


def test_a_sideways_move_round_an_object_is_held_when_the_network_steers_back():
    plans = _hold_drive(GuardState(HOLD, CENTRES), [SWERVED, STRAIGHT, STRAIGHT])
    assert np.array_equal(plans[0], SWERVED)  # the network's own move goes through as it is
    for held in plans[1:]:  # then every waypoint stays on the line the move ended on, at the network's progress
        assert held[:, 1] == pytest.approx(np.full(6, -3.0)) and np.array_equal(held[:, 0], STRAIGHT[:, 0])


def test_a_move_is_not_held_without_an_object_ahead_after_its_time_or_off_the_road():
    plain = [SWERVED, STRAIGHT]
    assert np.array_equal(_hold_drive(GuardState(HOLD, CENTRES), plain, seen_at_first=False)[1], STRAIGHT)
    assert np.array_equal(_hold_drive(GuardState(OccupancyGuard(), CENTRES), plain)[1], STRAIGHT)  # hold_time 0
    late = _hold_drive(GuardState(replace(HOLD, hold_time=0.4), CENTRES), plain)
    assert np.array_equal(late[1], STRAIGHT)
    narrow = np.zeros((40, 40))
    narrow[:, np.abs(CENTRES) < 2] = 1.0  # road for our lane only: the held line would leave it
    assert np.array_equal(_hold_drive(GuardState(HOLD, CENTRES), plain, road=narrow)[1], STRAIGHT)


def test_shifted_plans_reaching_past_the_map_are_judged_on_the_part_within_it():
    fast = STRAIGHT * 1.5  # 15 m/s: the plan ends 45 m ahead, past the 40 m map
    plans = _hold_drive(GuardState(HOLD, CENTRES), [shift_sideways(fast, -3.0, ramp=1.5), fast])
    assert plans[1][-1, 1] == pytest.approx(-3.0)


def test_the_guard_is_saved_with_the_weights_and_older_weights_have_none(tmp_path):
    small = VisionConfig(input_hw=(32, 56), image_channels=8, bev_channels=8, query_channels=16, attention_layers=1)
    net = VisionPlannerNet(small).eval()
    save_vision(net, tmp_path / "guarded", guard=OccupancyGuard(gap=4.0, swerve_offsets=(2.0,)))
    assert load_guard(tmp_path / "guarded") == OccupancyGuard(gap=4.0, swerve_offsets=(2.0,))
    save_vision(net, tmp_path / "plain", guard=None)
    assert load_guard(tmp_path / "plain") is None
    config = json.loads((tmp_path / "plain" / "config.json").read_text())
    del config["guard"]  # as weights written before the guard existed
    (tmp_path / "plain" / "config.json").write_text(json.dumps(config))
    assert load_guard(tmp_path / "plain") is None
    (tmp_path / "guarded" / "config.json").write_text(json.dumps({"vision": {}, "guard": {"gapp": 1}}))
    with pytest.raises(ValueError, match="gapp"):
        load_guard(tmp_path / "guarded")


def test_the_planner_stops_where_its_own_objects_map_says(tmp_path):
    """With the objects head forced to see a car 9 m ahead, the guarded planner stops short; unguarded, it goes on."""
    small = VisionConfig(input_hw=(32, 56), image_channels=8, bev_channels=8, query_channels=16, attention_layers=1)
    torch.manual_seed(0)
    net = VisionPlannerNet(small).eval()
    with torch.no_grad():
        for p in net.plan_head.parameters():
            p.zero_()
        net.plan_head[-1].bias.view(3, 6, 2)[:, :, 0] = 4.0  # 8 m/s straight ahead for every command
        net.bev_head.weight.zero_()
        net.bev_head.bias.fill_(-10.0)
    objects = torch.full((40, 40), -10.0)
    objects[np.argmin(np.abs(CENTRES - 9.0)), 20] = 10.0
    net.bev_head.register_forward_hook(lambda m, i, out: out.index_put((torch.tensor(0), torch.tensor(0)), objects))
    rig = CameraRig.nuscenes((32, 56))
    inputs = PlannerInput(
        images=np.zeros((6, 32, 56, 3), np.uint8),
        intrinsics=rig.intrinsics,
        cam2ego=rig.cam2ego,
        ego=np.array([8.0, 0, 0, 0], np.float32),
        ego_pose=np.zeros(3, np.float32),
        command=2,
        timestamp=0.0,
    )
    save_vision(net, tmp_path / "guarded")
    save_vision(net, tmp_path / "plain", guard=None)
    guarded = make_planner(f"vision:{tmp_path / 'guarded'}")
    guarded.net = net  # the hooked network
    plain = make_planner(f"vision:{tmp_path / 'plain'}")
    plain.net = net
    assert plain.plan(inputs).points[-1, 0] == pytest.approx(24.0)
    stop = guarded.plan(inputs).points
    assert 0.0 < stop[-1, 0] < 9.0 - EGO_FRONT
