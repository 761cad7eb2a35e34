import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import occsim
from occsim.envs import WEATHER_IDS, MosaicObservation
from occsim.envs.occsim_env import ACTOR_COLUMNS, OccSimEnv
from occsim.types import Trajectory

HW = (32, 56)


@pytest.mark.parametrize("env_id", list(WEATHER_IDS))
def test_check_env_passes_for_every_id(env_id):
    env = gym.make(env_id, scenario="bus_ahead", camera_hw=HW, render_mode="rgb_array")
    check_env(env.unwrapped, skip_render_check=False)
    assert (
        env.unwrapped.weather is None
        if WEATHER_IDS[env_id] is None
        else env.unwrapped.weather.kind == WEATHER_IDS[env_id]
    )


def test_make_with_module_prefix_works_without_importing_occsim():
    code = "import gymnasium as gym; e = gym.make('occsim:OccSim-fog-v0', scenario='bus_ahead', camera_hw=(16, 28)); print(e.reset(seed=0)[1]['scenario'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "bus_ahead"


def test_same_seed_same_observations_and_weather_override():
    def rollout(seed):
        env = gym.make("OccSim-rain-v0", camera_hw=HW)  # default scenario: one of the built-in suite per reset
        obs, info = env.reset(seed=seed)
        frames, names = [obs["images"]], [info["scenario"]]
        for _ in range(4):
            obs, *_ = env.step(Trajectory.constant_velocity(8.0).points.astype(np.float32))
            frames.append(obs["images"])
        obs, info = env.reset()
        names.append(info["scenario"])
        return np.stack(frames), names

    a, b = rollout(11), rollout(11)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]
    c = rollout(12)
    assert not np.array_equal(a[0], c[0])


def test_privileged_observation_and_info():
    env = gym.make("OccSim-v0", scenario="bus_ahead", camera_hw=HW, privileged=True)
    obs, info = env.reset(seed=0)
    assert obs["occupancy"].shape == (200, 200, 16)
    table = obs["actors"]
    assert table.shape[1] == len(ACTOR_COLUMNS)
    bus = table[0]
    assert bus[0] == 1.0 and bus[1] == occsim.classes.BUS and 25.0 < bus[2] < 35.0
    assert info["road"].route_lane == "r0:l0"
    assert set(info) >= {
        "collision",
        "collided_with",
        "impact_speed",
        "offroad",
        "progress",
        "route_completion",
        "scenario",
    }


def test_collision_terminates_and_time_limit_truncates():
    env = gym.make("OccSim-v0", scenario="bus_ahead", camera_hw=HW)
    env.reset(seed=0)
    for _ in range(30):
        _, reward, terminated, truncated, info = env.step(Trajectory.constant_velocity(10.0).points)
        if terminated or truncated:
            break
    assert terminated and not truncated and info["collided_with"] == "bus" and reward < 0
    env.reset(seed=0)
    steps = 0
    truncated = terminated = False
    while not (terminated or truncated):
        _, _, terminated, truncated, _ = env.step(np.zeros((6, 2), np.float32))
        steps += 1
    assert truncated and not terminated and steps == 30


def test_control_actions_and_scenario_switch():
    env = gym.make("OccSim-v0", scenario="bus_ahead", camera_hw=HW, action_type="control")
    assert env.action_space.shape == (2,)
    _, info = env.reset(seed=0, options={"scenario": "cut_in"})
    assert info["scenario"] == "cut_in"
    obs, *_ = env.step(np.array([1.0, 0.0], np.float32))
    assert obs["ego"][0] > 11.0


def test_render_is_mosaic_beside_birds_eye():
    env = gym.make("OccSim-v0", scenario="bus_ahead", camera_hw=HW, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (2 * HW[0], 3 * HW[1] + 2 * HW[0], 3) and frame.dtype == np.uint8


def test_mosaic_wrapper():
    env = MosaicObservation(gym.make("OccSim-v0", scenario="bus_ahead", camera_hw=HW))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2 * HW[0], 3 * HW[1], 3) and env.observation_space.contains(obs)


def test_bad_arguments():
    with pytest.raises(ValueError, match="action_type"):
        OccSimEnv(scenario="bus_ahead", action_type="steer")
    with pytest.raises(ValueError, match="did you mean 'bus_ahead'"):
        OccSimEnv(scenario="bus_ahed")


@pytest.mark.slow
def test_ppo_smoke_run():
    sb3 = pytest.importorskip("stable_baselines3")
    env = MosaicObservation(gym.make("OccSim-v0", scenario="bus_ahead", camera_hw=(32, 56), action_type="control"))
    model = sb3.PPO("CnnPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, verbose=0, device="cpu")
    model.learn(total_timesteps=256)
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.action_space.contains(action.astype(np.float32))
