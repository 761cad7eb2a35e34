"""Routes that turn: geometry through the junction, VAD's command as the turn approaches, the expert follows them."""

import numpy as np
import pytest
from shapely.geometry import LineString

from occsim.scenario import build_world, parse_scenario
from occsim.suite.episode import run_episode
from occsim.types import COMMAND_LEFT, COMMAND_RIGHT, COMMAND_STRAIGHT, EgoState, Pose2D
from occsim.world.ego import Control
from occsim.world.roadmap import build_intersection, build_t_junction
from occsim.world.routes import plan_route, route_command


def _scenario(turn: str, goal_s: float = 160.0, command: str = "route"):
    return parse_scenario(
        f"""name: turn_{turn}
map: {{type: intersection, lanes: 1, oncoming_lanes: 1, lane_width: 3.5, length: 200}}
ego: {{lane: 0, road: 0, s: 40, speed: 8, route: [{turn}], goal_s: {goal_s}, command: {command}}}
duration: 25
"""
    )


@pytest.mark.parametrize(("turn", "heading"), [("straight", 0.0), ("left", np.pi / 2), ("right", -np.pi / 2)])
def test_the_route_leaves_the_junction_the_way_it_turns_and_stays_on_the_road(turn, heading):
    road_map = build_intersection()
    points, taken = plan_route(road_map, road_map.lane(0, 0), 40.0, [turn])
    assert taken == [turn]
    end = points[-1] - points[-20]
    assert abs(np.arctan2(end[1], end[0]) - heading) < 0.05
    # the right-hand lane of the new direction, 1.75 m from the crossing road's centre line
    if turn != "straight":
        assert abs(points[-1][0] - (100.0 + np.sign(heading) * 1.75)) < 0.05
    inner = road_map.drivable.buffer(-0.9)  # half the ego's width inside the road all along the turn
    assert LineString(points[(np.abs(points[:, 1]) < 60) & (points[:, 0] < 160)]).within(inner)


def test_more_turns_than_junctions_is_an_error():
    road_map = build_intersection()
    with pytest.raises(ValueError, match="2 turns but the ego meets 1 junction"):
        plan_route(road_map, road_map.lane(0, 0), 40.0, ["left", "right"])
    with pytest.raises(ValueError, match=r"<string>:3: ego.route: an ego route that turns starts on a forward lane"):
        parse_scenario(
            """name: oncoming_turn
map: {type: intersection}
ego: {lane: -1, road: 0, s: 160, route: [left], goal_s: 40}
"""
        )


def test_the_command_turns_left_three_seconds_before_the_route_does():
    world = build_world(_scenario("left"), seed=None)
    lane, speed = world.route.lane, 10.0
    commands = []
    for s in np.arange(40.0, 100.0, 1.0):
        x, y, yaw = lane.pose_at(s)
        commands.append(route_command(lane, Pose2D(x, y, yaw), speed))
    first_left = 40.0 + commands.index(COMMAND_LEFT)
    # the Bézier leaves the lane 13 m before the lanes cross at x = 98.25; 3 s ahead at 10 m/s is 30 m
    assert commands[0] == COMMAND_STRAIGHT and 50.0 < first_left < 75.0
    assert world.route.command_at(EgoState(Pose2D(*lane.pose_at(40.0)), speed)) == COMMAND_STRAIGHT
    right = build_world(_scenario("right"), seed=None).route
    assert right.command_at(EgoState(Pose2D(*right.lane.pose_at(80.0)), speed)) == COMMAND_RIGHT
    fixed = build_world(_scenario("left", command="straight"), seed=None).route
    assert fixed.command_at(EgoState(Pose2D(*fixed.lane.pose_at(80.0)), speed)) == COMMAND_STRAIGHT


@pytest.mark.parametrize("turn", ["straight", "left", "right"])
def test_the_expert_drives_every_route_of_the_intersection(turn):
    result = run_episode(_scenario(turn), "expert", camera_hw=(32, 56))
    assert result.outcome == "goal" and not result.offroad


def test_a_goal_beyond_the_route_and_impossible_turns_are_file_line_errors():
    with pytest.raises(ValueError, match=r"<string>:3: ego.goal_s: goal_s 900.0 is off the route; allowed 0..21\d"):
        _scenario("left", goal_s=900.0)
    with pytest.raises(ValueError, match=r"ego.route: the route has 2 turns but the ego meets 1 junction"):
        parse_scenario(
            """name: two_turns
map: {type: intersection}
ego: {lane: 0, road: 0, s: 40, route: [left, left], goal_s: 160}
"""
        )


@pytest.mark.parametrize(
    ("road", "turn", "heading"), [(1, "left", 0.0), (1, "right", np.pi), (0, "left", np.pi / 2), (0, "straight", 0.0)]
)
def test_routes_through_a_t_junction(road, turn, heading):
    road_map = build_t_junction()
    points, _ = plan_route(road_map, road_map.lane(0, road), 20.0, [turn])
    end = points[-1] - points[-20]
    assert abs(np.angle(np.exp(1j * (np.arctan2(end[1], end[0]) - heading)))) < 0.05
    near = points[np.hypot(points[:, 0] - 100.0, points[:, 1]) < 40.0]
    assert LineString(near).within(road_map.drivable.buffer(-0.9))


def test_a_turn_onto_no_road_is_an_error():
    road_map = build_t_junction()
    with pytest.raises(ValueError, match="no road leaves junction 1 that way"):
        plan_route(road_map, road_map.lane(0, 0), 20.0, ["right"])


@pytest.mark.parametrize(("road", "turn"), [(1, "left"), (1, "right"), (0, "left"), (0, "straight")])
def test_the_expert_drives_every_route_of_a_t_junction(road, turn):
    scenario = parse_scenario(
        f"""name: t_{road}_{turn}
map: {{type: t_junction}}
ego: {{lane: 0, road: {road}, s: 20, speed: 8, route: [{turn}], goal_s: 150}}
duration: 25
"""
    )
    result = run_episode(scenario, "expert", camera_hw=(32, 56))
    assert result.outcome == "goal" and not result.offroad


@pytest.mark.parametrize(
    ("lane", "s", "turn", "end"),
    [(-1, 170.0, "left", (98.25, -np.pi / 2)), (0, 30.0, "right", (98.25, -np.pi / 2))],
)
def test_traffic_turns_at_the_junction_from_either_direction(lane, s, turn, end):
    scenario = parse_scenario(
        f"""name: turning_traffic
map: {{type: intersection}}
ego: {{lane: 0, road: 1, s: 20, speed: 0, goal_s: 150}}
actors:
  - {{id: car, type: car, road: 0, lane: {lane}, s: {s}, speed: 10, route: [{turn}]}}
"""
    )
    world = build_world(scenario, seed=3)
    car = world.actors[0]
    start = np.array([car.x, car.y])
    assert np.hypot(*(start - world.road_map.lane(lane, 0).pose_at(s)[:2])) < 0.5  # starts where the file says
    for _ in range(40):  # 10 s at 10 m/s: through the junction and 40 m down road 1
        world.step(0.25, Control(0.0, 0.0))
    assert abs(car.x - end[0]) < 0.3 and car.y < -15.0
    assert abs(np.angle(np.exp(1j * (car.yaw - end[1])))) < 0.05
    assert world.road_map.is_drivable(np.array([[car.x, car.y]]))[0]


def test_a_route_on_a_behaviour_that_does_not_follow_lanes_is_a_file_line_error():
    with pytest.raises(ValueError, match=r"<string>:5: actors\[0\].route: a route is followed by constant or idm"):
        parse_scenario(
            """name: crossing_route
map: {type: intersection}
ego: {lane: 0, road: 0, s: 40, goal_s: 160}
actors:
  - {id: p, type: pedestrian, road: 1, lane: 0, s: 60, route: [left], behavior: {type: crossing}}
"""
        )
    with pytest.raises(ValueError, match=r"actors\[0\].route: the route has 2 turns"):
        parse_scenario(
            """name: two_turns_actor
map: {type: intersection}
ego: {lane: 0, road: 0, s: 40, goal_s: 160}
actors:
  - {id: c, type: car, road: 1, lane: 0, s: 60, speed: 5, route: [left, right]}
"""
        )
