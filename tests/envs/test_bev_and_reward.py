"""The bird's-eye observation wrappers and the documented reward terms."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.wrappers import FrameStackObservation

import occsim  # noqa: F401 - registers the ids
from occsim.envs import BEV_LAYERS, BevObservation, BevVectorObservation, OccSimEnv, RewardWeights
from occsim.geometry import BEV_CELLS, BEV_EXTENT
from occsim.types import Trajectory

HW = (16, 28)


def _cell(x: float, y: float) -> tuple[int, int]:
    """Image (row, column) of ego-frame point (x, y) in the default bird's-eye image."""
    scale = BEV_CELLS / (2 * BEV_EXTENT)
    return int((BEV_EXTENT - x) * scale), int((BEV_EXTENT - y) * scale)


def test_bev_wrappers_pass_check_env_alone_and_frame_stacked():
    env = BevObservation(gym.make("OccSim-v0", scenario="bus_ahead", camera_hw=HW, privileged=True))
    check_env(env, skip_render_check=True)
    check_env(FrameStackObservation(env, 3), skip_render_check=True)
    assert env.observation_space.shape == (BEV_CELLS, BEV_CELLS, len(BEV_LAYERS))


def test_bev_layers_put_the_scene_where_it_is():
    env = BevObservation(OccSimEnv("bus_ahead", camera_hw=HW, privileged=True))
    image, _ = env.reset(seed=0)
    layer = {name: image[..., k] > 0 for k, name in enumerate(BEV_LAYERS)}
    bus = env.unwrapped._actor_table()[0]  # the bus, ego frame
    row, col = _cell(bus[2], bus[3])
    assert layer["vehicles"][row - 2 : row + 3, col - 1 : col + 2].any()
    assert not layer["vehicles"][_cell(-20.0, 0.0)] and not layer["vulnerable"].any()
    assert layer["road"][_cell(5.0, 0.0)] and not layer["road"][_cell(5.0, 30.0)]
    centre_row, centre_col = _cell(0.0, 0.0)
    route_cols = np.nonzero(layer["route"][: centre_row - 2])[1]  # the route runs straight up from the ego
    assert len(route_cols) > 20 and np.abs(route_cols - centre_col).max() <= 2
    assert _comes_into_view("cones_closing_lane", "obstacles") and _comes_into_view("pedestrian_crossing", "vulnerable")


def _comes_into_view(scenario: str, layer: str) -> bool:
    """Whether ``layer`` fills while the ego drives slowly into ``scenario``."""
    env = BevObservation(OccSimEnv(scenario, camera_hw=HW, privileged=True))
    image, _ = env.reset(seed=0)
    for _ in range(12):
        if image[..., BEV_LAYERS.index(layer)].any():
            return True
        image, *_ = env.step(Trajectory.constant_velocity(6.0).points.astype(np.float32))
    return False


def test_bev_needs_the_privileged_window_and_a_sane_window():
    with pytest.raises(ValueError, match="privileged=True"):
        BevObservation(OccSimEnv("bus_ahead", camera_hw=HW))
    with pytest.raises(ValueError, match="extent"):
        BevObservation(OccSimEnv("bus_ahead", camera_hw=HW, privileged=True), extent=60.0)


def test_bev_vector_wrapper_matches_the_single_wrapper():
    vec = BevVectorObservation(gym.make_vec("OccSim-v0", num_envs=2, scenario="cut_in", camera_hw=HW, privileged=True))
    singles = [BevObservation(OccSimEnv("cut_in", camera_hw=HW, privileged=True)) for _ in range(2)]
    images, _ = vec.reset(seed=3)
    for k, env in enumerate(singles):
        assert np.array_equal(images[k], env.reset(seed=3 + k)[0])
    plan = Trajectory.constant_velocity(6.0).points.astype(np.float32)
    images, *_ = vec.step(np.stack([plan, plan]))
    for k, env in enumerate(singles):
        assert np.array_equal(images[k], env.step(plan)[0])


def _crash(speed: float, **reward) -> tuple[float, dict, dict]:
    env = OccSimEnv("bus_ahead", camera_hw=HW, reward=reward or None)
    env.reset(seed=0)
    for _ in range(40):
        _, total, terminated, _, info = env.step(Trajectory.constant_velocity(speed).points)
        if terminated:
            return total, info["reward_terms"], info
    raise AssertionError("no crash")


def test_collision_penalty_grows_with_impact_speed_and_terms_sum_to_the_reward():
    slow_total, slow, slow_info = _crash(6.0)
    fast_total, fast, fast_info = _crash(14.0)
    assert slow_info["collision"] and fast_info["impact_speed"] > slow_info["impact_speed"]
    assert fast["impact"] == pytest.approx(-fast_info["impact_speed"]) and fast["collision"] == -10.0
    assert fast_total < slow_total < -10.0
    assert fast_total == pytest.approx(sum(fast.values()))
    no_impact, terms, _ = _crash(14.0, impact=0.0, collision=3.0)
    assert terms["impact"] == 0.0 and terms["collision"] == -3.0


def test_progress_offroad_and_comfort_terms():
    env = OccSimEnv("bus_ahead", camera_hw=HW)
    env.reset(seed=0)
    _, total, *_, info = env.step(Trajectory.constant_velocity(10.0).points)
    terms = info["reward_terms"]
    assert terms["progress"] == pytest.approx(0.1 * info["progress"], abs=1e-6) and terms["progress"] > 0.3
    assert terms["offroad"] == 0.0 and terms["collision"] == 0.0
    braking = OccSimEnv("bus_ahead", camera_hw=HW, action_type="control")
    braking.reset(seed=0)
    _, _, *_, info = braking.step(np.array([-1.0, 0.0], np.float32))  # -8 m/s²: beyond -4.05
    assert info["reward_terms"]["comfort"] < -0.1
    swerve = OccSimEnv("bus_ahead", camera_hw=HW)
    swerve.reset(seed=0)
    off = np.stack([np.arange(1, 7) * 3.0, -np.arange(1, 7) * 4.0], 1)  # hard right, off the road
    offroad = [swerve.step(off)[4]["reward_terms"]["offroad"] for _ in range(6)]
    assert min(offroad) == -1.0


def test_reward_weights_are_checked():
    assert RewardWeights.from_kwargs({"offroad": 2}) == RewardWeights(offroad=2.0)
    with pytest.raises(ValueError, match="unknown reward terms"):
        OccSimEnv("bus_ahead", camera_hw=HW, reward={"speeding": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        RewardWeights.from_kwargs({"collision": -5})


def test_privileged_route_ahead_is_spaced_and_held_at_the_goal():
    env = OccSimEnv("bus_ahead", camera_hw=HW, privileged=True)
    obs, _ = env.reset(seed=0)
    steps = np.linalg.norm(np.diff(obs["route"], axis=0), axis=1)
    assert np.allclose(steps, 2.0, atol=0.05) and abs(obs["route"][0, 1]) < 0.5
    world = env.sim.world
    near_goal = world.route.ahead(world.ego, 32, 2.0)  # from the start
    assert np.allclose(near_goal[-1], world.route.ahead(world.ego, 40, 2.0)[31])
    far = world.route.ahead(world.ego, 200, 2.0)
    assert np.allclose(far[-1], world.route.goal) and np.allclose(far[-2], world.route.goal)
