"""Absurd actions and sizes are errors, and forking after rendering is safe (async vector envs)."""

import subprocess
import sys

import numpy as np
import pytest

from occsim.envs.occsim_env import OccSimEnv


@pytest.fixture(scope="module")
def env():
    env = OccSimEnv("bus_ahead", camera_hw=(16, 28))
    env.reset(seed=0)
    return env


@pytest.mark.parametrize(
    "action",
    [np.full((6, 2), 1e308), np.full((6, 2), np.nan), np.full((6, 2), np.inf), np.zeros((3, 2))],
)
def test_absurd_waypoints_raise_naming_the_action(env, action):
    before = env.sim.world.ego
    with pytest.raises(ValueError, match="invalid waypoints action"):
        env.step(action)
    assert env.sim.world.ego == before  # nothing moved


@pytest.mark.parametrize("action", [[np.nan, 0.0], [0.0, np.inf], [np.nan, np.nan]])
def test_non_finite_controls_raise(action):
    env = OccSimEnv("bus_ahead", camera_hw=(16, 28), action_type="control")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid control action"):
        env.step(np.asarray(action, dtype=np.float32))
    assert env.sim.world.ego.speed > 9.0  # the car did not stop dead
    env.step(np.array([0.0, 0.0], np.float32))  # the env still works


def test_camera_size_is_bounded_before_anything_is_built():
    with pytest.raises(ValueError, match="outside 8x8 .. 1080x1920"):
        OccSimEnv("bus_ahead", camera_hw=(4000, 7000))


def test_async_vector_envs_work_after_an_env_has_rendered_in_the_process():
    code = """
import gymnasium as gym, occsim
env = gym.make("OccSim-v0", scenario="bus_ahead", camera_hw=(16, 28))
env.reset(seed=0); env.step(env.action_space.sample())
vec = gym.make_vec("OccSim-v0", num_envs=2, vectorization_mode="async", scenario="bus_ahead", camera_hw=(16, 28))
vec.reset(seed=0)
obs, reward, terminated, truncated, info = vec.step(vec.action_space.sample())
print(obs["images"].shape)
vec.close()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(2, 6, 16, 28, 3)" in out.stdout and "fork() called" not in out.stderr
