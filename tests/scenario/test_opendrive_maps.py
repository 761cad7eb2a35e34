"""Scenarios on OpenDRIVE maps written in OccSim's YAML: places, routes through junctions, actors, errors."""

import numpy as np
import pytest

from occsim.scenario import ScenarioError, build_world, load_scenario_file
from occsim.sim import Simulation
from occsim.types import Trajectory
from occsim.world.ego import Control
from tests import openscenario_files as F

SCENARIO = """
name: od_left_turn
map: {{type: opendrive, file: {xodr}, scenery: none}}
ego: {{road: 0, lane: 1, s: 100, speed: 6, route: [left], goal_s: 200}}
duration: 20
actors:
  - {{id: parked, type: car, road: 3, lane: -1, s: 60}}
  - {{id: lead, type: car, road: 0, lane: 1, s: 80, speed: 6, behavior: {{type: idm}}}}
"""


def _scenario(tmp_path, text=SCENARIO, xodr="j.xodr"):
    F.write(tmp_path, "j.xodr", F.junction_xodr())
    return load_scenario_file(F.write(tmp_path, "s.yaml", text.format(xodr=xodr)))


def test_a_yaml_scenario_on_an_opendrive_junction_builds_and_turns_left(tmp_path):
    scenario = _scenario(tmp_path)  # the map's file is relative to the scenario
    world = build_world(scenario)
    assert world.ego.pose.x == pytest.approx(115.0) and world.ego.pose.y == pytest.approx(1.75)
    assert world.ego.pose.yaw == pytest.approx(np.pi)  # lane 1 drives towards the junction
    route = world.route.centreline()
    assert route[-1][1] < -50 and world.route.length == pytest.approx(200.0)  # south, after the left turn
    assert {a.id for a in world.actors} == {"parked", "lead"}
    assert world.road_map.is_drivable(np.array([[115.0, 1.75], [0.0, 0.0]])).all()


def test_the_world_renders_steps_and_knows_when_the_ego_leaves_the_road(tmp_path, small_hw):
    sim = Simulation(camera_hw=small_hw)
    outcome = sim.reset(_scenario(tmp_path), seed=0)
    assert outcome.frames.rgb.shape == (6, *small_hw, 3) and not outcome.offroad
    assert not sim.step(Trajectory(np.array([[3.0 * (k + 1), 0.0] for k in range(6)]))).offroad
    for _ in range(6):  # steer hard left, off the lane and the road
        outcome = sim.step(Control(0.0, 0.6))
    assert outcome.offroad


@pytest.mark.parametrize(
    "change,where",
    [
        ("lane: 1, s: 100", "lane: 5, s: 100"),
        ("lane: 1, s: 100", "lane: 0, s: 100"),
        ("route: [left]", "route: [left, left]"),
        ("goal_s: 200", "goal_s: 900"),
    ],
)
def test_places_that_do_not_fit_the_map_are_file_line_errors(tmp_path, change, where):
    text = SCENARIO.replace(change, where)
    with pytest.raises(ScenarioError) as e:
        _scenario(tmp_path, text)
    assert "s.yaml:" in str(e.value) and "ego" in str(e.value)


def test_a_missing_map_file_is_named(tmp_path):
    with pytest.raises(ScenarioError, match="map.file"):
        _scenario(tmp_path, xodr="nowhere.xodr")
