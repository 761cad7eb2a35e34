"""OpenSCENARIO files in OccSim's closed loop: worlds, planners driving the ego, NCAP kinematics, YAML conversion."""

import math

import gymnasium as gym
import numpy as np
import pytest

from occsim.scenario import ScenarioError, build_world, load_scenario_file
from occsim.scenario.openscenario.convert import convert
from occsim.scenario.openscenario.load import load_openscenario, load_xosc
from occsim.suite.episode import run_episode
from occsim.suite.tasks import expand_tasks
from tests import ncap_files as N
from tests import openscenario_files as F


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda d: N.ccr(d, 50.0), 50 / 3.6),  # CCRs: the target stands
        (lambda d: N.ccr(d, 50.0, 20.0), 30 / 3.6),  # CCRm: closing at 50 - 20 km/h
        (lambda d: N.ccr(d, 50.0, 50.0, brake=4.0), 4.0 * math.sqrt(2 * 12.0 / 4.0)),  # CCRb: 12 m, 4 m/s^2
        (lambda d: N.cpna(d, 50.0), math.hypot(50 / 3.6, 5 / 3.6)),  # CPNA: the walker met at its steady speed
    ],
)
def test_without_intervention_the_impact_speed_is_the_tests_kinematics(tmp_path, small_hw, make, expected):
    result = run_episode(load_openscenario(make(tmp_path)), "constant_velocity", camera_hw=small_hw)
    assert result.collision and result.outcome == "collision"
    assert result.impact_speed == pytest.approx(expected, abs=0.5)


def test_the_expert_stops_behind_a_stationary_target_and_the_storyboard_ends_the_run(tmp_path, small_hw):
    result = run_episode(load_openscenario(N.ccr(tmp_path, 50.0)), "expert", camera_hw=small_hw)
    assert not result.collision and result.outcome == "stopped"
    assert result.initial_speed == pytest.approx(50 / 3.6)


@pytest.mark.parametrize("ego_kph", [30.0, 50.0])
def test_synchronize_meets_a_planner_driven_ego_at_the_conflict_point(tmp_path, small_hw, ego_kph):
    scenario = load_openscenario(N.cpna(tmp_path, ego_kph))
    result = run_episode(scenario, "constant_velocity", camera_hw=small_hw)
    conflict = N.EGO_S + 6.0 * ego_kph / 3.6
    front = [(s.t, s.ego.pose.x + 3.34) for s in result.history]  # OccSim's ego front: 3.34 m ahead of the axle
    walker = [(s.t, next(a for a in s.actors if a.id == "VRU").pose.y) for s in result.history]
    ego_there = next(t for t, x in front if x >= conflict - 0.3)
    walker_there = next(t for t, y in walker if y >= -1.75 - 0.3)
    assert ego_there == pytest.approx(walker_there, abs=0.6)  # within a planner step of each other
    assert result.collided_with == "VRU"


def test_the_ego_actions_the_planner_replaces_are_reported(tmp_path, small_hw):
    path = N.ccr(tmp_path, 50.0)
    scripted = path.read_text().replace(
        "<StopTrigger>",
        F.story(
            "Ego", F.event("ego_brake", F.speed(0.0, "linear", "time", 3.0), F.trigger(F.sim_time(1.0))), name="ego"
        )
        + "<StopTrigger>",
        1,
    )
    path.write_text(scripted)
    result = run_episode(load_openscenario(path), "constant_velocity", camera_hw=small_hw)
    assert any(line.startswith("SpeedAction on Ego") for line in result.storyboard["dropped"])
    assert result.collision  # the planner, not the file's braking, drove the ego


def test_scripted_mode_follows_the_files_own_ego_actions(tmp_path, small_hw):
    scenario = load_xosc(N.ccr(tmp_path, 50.0), mode="scripted")
    world = build_world(scenario)
    for _ in range(20):
        world.step(0.1, None)
    assert world.ego.pose.x == pytest.approx(N.EGO_S + 20 * 0.1 * 50 / 3.6)


def test_gym_make_runs_an_xosc_file_and_a_variation_file_gives_every_set(tmp_path, small_hw):
    env = gym.make("OccSim-v0", scenario=str(N.ccr(tmp_path, 40.0)), camera_hw=small_hw)
    obs, info = env.reset(seed=0)
    assert info["openscenario"]["ego"] == "Ego"
    obs, reward, terminated, truncated, info = env.step(np.array([[5.0 * (k + 1), 0.0] for k in range(6)]))
    assert not terminated and info["t"] == pytest.approx(0.5)
    sweep = _variation(tmp_path)
    env = gym.make("OccSim-v0", scenario=str(sweep), camera_hw=small_hw)
    assert len(env.unwrapped.scenarios) == 3


def _variation(folder):
    N.ccr(folder, 30.0)
    text = (
        '<?xml version="1.0"?><OpenSCENARIO><FileHeader revMajor="1" revMinor="2" date="2026-01-01T00:00:00" description="v" author="t"/>'
        '<ParameterValueDistribution><ScenarioFile filepath="base.xosc"/><Deterministic>'
        '<DeterministicSingleParameterDistribution parameterName="Ego_kph"><DistributionSet><Element value="20"/>'
        '<Element value="30"/><Element value="40"/></DistributionSet></DeterministicSingleParameterDistribution>'
        "</Deterministic></ParameterValueDistribution></OpenSCENARIO>"
    )
    base = (folder / "ccrs_30.xosc").read_text()
    base = base.replace(
        "<ParameterDeclarations></ParameterDeclarations>",
        '<ParameterDeclarations><ParameterDeclaration name="Ego_kph" parameterType="double" value="30"/></ParameterDeclarations>',
    )
    base = base.replace(
        f'<AbsoluteTargetSpeed value="{30 / 3.6}"/>', '<AbsoluteTargetSpeed value="${$Ego_kph / 3.6}"/>', 1
    )
    F.write(folder, "base.xosc", base)
    return F.write(folder, "sweep.xosc", text)


def test_a_sweep_expands_to_one_run_per_parameter_set_with_its_record(tmp_path):
    sweep = load_openscenario(_variation(tmp_path))
    tasks = expand_tasks([sweep], ["constant_velocity"], [None], runs=1, base_seed=0)
    assert len(tasks) == 3
    assert [t.origin["openscenario"]["parameters"]["Ego_kph"] for t in tasks] == ["20", "30", "40"]
    assert all(t.origin["openscenario"]["base"].endswith("base.xosc") for t in tasks)
    assert tasks[2].scenario.openscenario.parameters == {"Ego_kph": "40"}
    assert build_world(tasks[2].scenario).ego.speed == pytest.approx(40 / 3.6)


def test_converted_yaml_runs_the_same_storyboard(tmp_path, small_hw):
    path = N.cpna(tmp_path, 40.0)
    out = tmp_path / "yaml" / "cpna.yaml"
    convert(path, out)
    from_yaml = load_scenario_file(out)
    assert from_yaml.openscenario.document is not None
    runs = [run_episode(s, "constant_velocity", camera_hw=small_hw) for s in (load_openscenario(path), from_yaml)]
    for a, b in zip(runs[0].history, runs[1].history):
        assert [x.pose for x in a.actors] == [x.pose for x in b.actors] and a.ego.pose == b.ego.pose
    edited = out.read_text().replace("y: -5.75", "y: -7.75")  # the walker's path starts 2 m further out
    assert edited != out.read_text()
    out.write_text(edited)
    assert build_world(load_scenario_file(out)).actors[0].y == pytest.approx(-1.75 - 6.0)


def test_a_converted_variation_file_is_a_sweep_of_the_same_runs(tmp_path):
    out = tmp_path / "sweep.yaml"
    convert(_variation(tmp_path), out)
    from occsim.scenario.family import load_scenario_or_family

    sweep = load_scenario_or_family(out)
    assert sweep.runs == 3 and sweep.scenario(2, 0)[0].openscenario.parameters == {"Ego_kph": "40"}


def test_an_unsupported_element_is_a_file_line_scenario_error(tmp_path):
    path = N.ccr(tmp_path, 50.0)
    path.write_text(
        path.read_text()
        .replace("<StandStillCondition", '<AngularVelocityCondition value="1"/><StandStillCondition', 1)
        .replace(
            '<AngularVelocityCondition value="1"/><StandStillCondition duration="0.5"/>',
            '<AngularVelocityCondition value="1"/>',
        )
    )
    with pytest.raises(
        ScenarioError,
        match=r"ccrs_50.xosc:1: <AngularVelocityCondition>: condition <AngularVelocityCondition> is not supported",
    ):
        load_openscenario(path)


def test_an_init_trajectory_places_the_ego_and_no_intervention_follows_its_turn(tmp_path, small_hw):
    """The ego of a turn-across-path test is placed by its Init FollowTrajectoryAction, which the planner replaces."""
    scenario = load_openscenario(N.ccftap(tmp_path))
    straight = run_episode(scenario, "constant_velocity", camera_hw=small_hw)
    start = straight.history[0].ego.pose
    assert (start.x, start.y) == pytest.approx((-60.0, -1.75), abs=1e-6)
    assert not straight.collision and max(abs(s.ego.pose.y + 1.75) for s in straight.history) < 0.01
    turning = run_episode(scenario, "no_intervention", camera_hw=small_hw)
    assert turning.collided_with == "Target"
    assert any("FollowTrajectoryAction on Ego" in d for d in turning.storyboard["dropped"])


def test_a_reversing_ego_is_refused_for_planners_and_runs_scripted(tmp_path, small_hw):
    text = F.xosc({"Ego": F.vehicle("ego")}, {"Ego": [F.teleport(F.lane_position("0", -1, 100.0)), F.speed(-1.0)]})
    F.write(tmp_path, "road.xodr", F.straight_xodr())
    path = F.write(tmp_path, "reverse.xosc", text)
    with pytest.raises(ScenarioError, match="starts reversing"):
        run_episode(load_openscenario(path), "expert", camera_hw=small_hw)
    scripted = run_episode(load_openscenario(path, mode="scripted"), "expert", camera_hw=small_hw)
    assert scripted.history[-1].ego.pose.x < 99.0


def test_the_expert_may_drive_the_tests_own_speed(tmp_path):
    world = build_world(load_openscenario(N.ccr(tmp_path, 90.0)))
    assert world.layout().speed_limit == pytest.approx(90 / 3.6)


@pytest.mark.parametrize("with_other,goal_at", [(False, 80.0), (True, None)])
def test_a_stop_trigger_distance_is_the_goal_only_when_it_ends_the_run_alone(tmp_path, with_other, goal_at):
    travelled = F.entity_condition("Ego", '<TraveledDistanceCondition value="30"/>')
    other = F.sim_time(100.0, name="late") if with_other else ""
    text = F.xosc(
        {"Ego": F.vehicle("ego")},
        {"Ego": [F.teleport(F.lane_position("0", -1, 50.0)), F.speed(10.0)]},
        stop=F.trigger(travelled + other, kind="StopTrigger"),
    )
    F.write(tmp_path, "road.xodr", F.straight_xodr())
    world = build_world(load_openscenario(F.write(tmp_path, "s.xosc", text)))
    end = world.route.goal[0]
    if goal_at is None:
        assert end > 400.0  # the lane's end
    else:
        assert end == pytest.approx(goal_at, abs=0.5)
