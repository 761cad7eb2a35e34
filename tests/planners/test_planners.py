import gymnasium as gym
import pytest

from occsim.planners import PLANNERS, make_planner
from occsim.scenarios import list_builtin, load_scenario
from occsim.suite import run_episode


def test_registry():
    assert {"expert", "constant_velocity"} <= set(PLANNERS)
    with pytest.raises(ValueError, match="did you mean 'expert'"):
        make_planner("expret")


def test_expert_needs_privileged_information():
    env = gym.make("OccSim-v0", scenario="bus_ahead", camera_hw=(16, 28))
    _, info = env.reset(seed=0)
    with pytest.raises(ValueError, match="privileged=True"):
        make_planner("expert").reset(info)


def test_constant_velocity_crashes_into_the_stopped_bus():
    result = run_episode(load_scenario("bus_ahead"), "constant_velocity", camera_hw=(16, 28))
    assert result.collided_with == "bus" and result.impact_speed > 9.0


@pytest.mark.parametrize("name", list_builtin())
@pytest.mark.parametrize("seed", [0, 1])
def test_expert_finishes_every_builtin_scenario_without_collision_in_clear_weather(name, seed):
    result = run_episode(load_scenario(name), "expert", weather="clear", seed=seed, camera_hw=(16, 28))
    assert not result.collision, result
    assert not result.offroad, result
    assert result.route_completion > 0.5, result
