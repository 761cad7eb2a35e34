"""The shipped ``rl`` policy (PPO on the bird's-eye observation, ``planners/weights/rl``)."""

from occsim.planners.rl import WEIGHTS_DIR, WEIGHTS_NAME
from occsim.scenarios import load_scenario
from occsim.suite.episode import run_episode


def test_the_shipped_policy_is_small_and_passes_the_stopped_bus():
    assert (WEIGHTS_DIR / WEIGHTS_NAME).stat().st_size < 20e6
    result = run_episode(load_scenario("bus_ahead"), "rl", seed=0, camera_hw=(16, 28))
    assert not result.collision and result.route_completion > 0.5


def test_the_shipped_policy_stops_for_the_crossing_pedestrian():
    result = run_episode(load_scenario("pedestrian_crossing"), "rl", seed=0, camera_hw=(16, 28))
    assert not result.collision
