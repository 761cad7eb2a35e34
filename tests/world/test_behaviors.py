import numpy as np
import pytest

from occsim.scenario import build_world, parse_scenario
from occsim.world.ego import Control

BASE = """
name: t
map: {type: straight, lanes: 2, oncoming_lanes: 1, length: 300}
ego: {lane: 0, s: 10, speed: 0, goal_s: 200}
duration: 20
"""


def world_with(actors: str):
    return build_world(parse_scenario(BASE + "actors:\n" + actors))


COAST = Control(0.0, 0.0)


def run(world, seconds, control=COAST):
    for _ in range(int(round(seconds / 0.1))):
        world.step(0.1, control)
    return world


def test_static_and_constant():
    w = run(
        world_with("  - {id: a, type: car, lane: 1, s: 40, speed: 10}\n  - {id: b, type: car, lane: 0, s: 40}\n"), 2.0
    )
    a, b = w.actors
    assert a.x == pytest.approx(60.0, abs=0.05) and a.y == pytest.approx(-1.75)
    assert b.x == pytest.approx(40.0) and b.speed == 0.0


def test_idm_stops_behind_a_stopped_car():
    w = world_with(
        "  - {id: lead, type: car, lane: 1, s: 80}\n"
        "  - {id: f, type: car, lane: 1, s: 20, speed: 12, behavior: {type: idm}}\n"
    )
    run(w, 15.0)
    lead, follower = w.actors
    gap = lead.x - follower.x - 4.6
    assert follower.speed < 0.3 and 1.0 < gap < 6.0


def test_idm_treats_the_ego_as_a_leader():
    w = world_with("  - {id: f, type: car, lane: 0, s: -30, speed: 12, behavior: {type: idm}}\n")
    run(w, 15.0)
    assert w.actors[0].x < 10.0 - 4.0


def test_cut_in_moves_to_the_target_lane_after_its_trigger():
    w = world_with(
        "  - id: c\n    type: car\n    lane: 1\n    s: 30\n    speed: 5\n"
        "    behavior: {type: cut_in, to_lane: 0, when: {time_after: 1.0}, duration: 2.0}\n"
    )
    run(w, 0.9)
    assert w.actors[0].y == pytest.approx(-1.75)
    run(w, 3.0)
    assert w.actors[0].y == pytest.approx(-5.25, abs=0.01)


def test_crossing_pedestrian_waits_for_the_ego_then_crosses_and_stops():
    w = world_with(
        "  - {id: p, type: pedestrian, lane: 0, s: 50, offset: -3.0, behavior: {type: crossing, speed: 1.5, "
        "when: {ego_distance_below: 20}}}\n"
    )
    run(w, 2.0)
    assert w.actors[0].y == pytest.approx(-8.25)
    w.ego = type(w.ego)(type(w.ego.pose)(45.0, -5.25, 0.0), 0.0)
    run(w, 20.0)
    p = w.actors[0]
    assert p.y > 3.5 + 1.5 and p.speed == 0.0


def test_waypoints_interpolate():
    w = world_with(
        "  - {id: w, type: car, lane: 1, s: 30, behavior: {type: waypoints, points: [[0, 30, 0], [2, 50, 1]]}}\n"
    )
    run(w, 1.0)
    a = w.actors[0]
    assert a.x == pytest.approx(40.0, abs=0.01) and a.y == pytest.approx(-1.25, abs=0.01)
    assert a.speed == pytest.approx(np.hypot(10.0, 0.5), abs=0.05)
