"""Vector envs: Gymnasium's sync and async modes, and the batched one that ray casts every world in one launch."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode

import occsim  # noqa: F401 - registers the ids
from occsim.envs import WEATHER_IDS, OccSimVectorEnv
from occsim.scenario import build_world
from occsim.scenarios import load_scenario
from occsim.sensors.raster import RasterRenderer
from occsim.types import CameraRig, Trajectory, Weather

HW = (24, 42)
SCENARIOS = ["bus_ahead", "cut_in", "pedestrian_crossing", "intersection_crossing"]


def _actions(rng: np.random.Generator, n: int) -> np.ndarray:
    """Straight plans at random speeds: some worlds crash early, so autoresets happen at different steps."""
    speeds = rng.uniform(1.0, 9.0, n)
    return np.stack([Trajectory.constant_velocity(float(v)).points for v in speeds]).astype(np.float32)


def test_render_batch_gives_each_world_the_bytes_it_renders_alone():
    rig = CameraRig.nuscenes(HW)
    renderer = RasterRenderer(rig)
    worlds = [build_world(load_scenario(name), seed) for seed, name in enumerate(SCENARIOS)]
    weathers = [Weather("clear"), Weather("rain", intensity=0.7), Weather("night"), Weather("fog", visibility=60)]
    batch = renderer.render_batch(worlds, weathers, [3, 4, 5, 6])
    for world, weather, seed, frames in zip(worlds, weathers, [3, 4, 5, 6], batch):
        alone = renderer.render(world, weather, seed)
        assert np.array_equal(frames.rgb, alone.rgb) and np.array_equal(frames.semantic, alone.semantic)
        assert np.array_equal(frames.depth, alone.depth)
    assert not np.array_equal(batch[0].rgb, batch[1].rgb)


def _same(a: tuple, b: tuple) -> bool:
    """Gymnasium's equivalence of two reset or step results; the privileged ``road`` layouts by their routes."""
    info_a, info_b = dict(a[-1]), dict(b[-1])
    roads_a, roads_b = info_a.pop("road", []), info_b.pop("road", [])
    same_roads = len(roads_a) == len(roads_b) and all(
        (x is None and y is None) or np.array_equal(x.route, y.route) for x, y in zip(roads_a, roads_b)
    )
    finals_a, finals_b = info_a.pop("final_obs", []), info_b.pop("final_obs", [])  # object arrays of dicts
    same_finals = len(finals_a) == len(finals_b) and all(data_equivalence(x, y) for x, y in zip(finals_a, finals_b))
    return same_roads and same_finals and data_equivalence(a[:-1], b[:-1]) and data_equivalence(info_a, info_b)


@pytest.mark.parametrize(
    "env_id, mode", [("OccSim-v0", AutoresetMode.NEXT_STEP), ("OccSim-rain-v0", AutoresetMode.SAME_STEP)]
)
def test_batched_env_matches_sync_env_byte_for_byte_through_autoresets(env_id, mode):
    kwargs = dict(scenario=SCENARIOS, camera_hw=HW, privileged=True)
    sync = gym.make_vec(env_id, num_envs=3, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}, **kwargs)
    batched = gym.make_vec(env_id, num_envs=3, autoreset_mode=mode, **kwargs)  # the ids' default: the entry point
    assert isinstance(batched.unwrapped, OccSimVectorEnv)
    assert _same(sync.reset(seed=7), batched.reset(seed=7))
    rng, ends = np.random.default_rng(0), 0
    for step in range(40):
        actions = _actions(rng, 3)
        a, b = sync.step(actions), batched.step(actions)
        assert _same(a, b), f"step {step} differs"
        ends += int(np.sum(a[2] | a[3]))
    assert ends >= 2  # the comparison went through autoresets


@pytest.mark.parametrize("mode", ["sync", "async", "vector_entry_point"])
def test_every_mode_steps_autoresets_next_step_and_merges_info(mode):
    vec = gym.make_vec("OccSim-v0", num_envs=2, vectorization_mode=mode, scenario="bus_ahead", camera_hw=HW)
    assert vec.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, info = vec.reset(seed=0)
    assert obs["images"].shape == (2, 6, *HW, 3) and info["scenario"].tolist() == ["bus_ahead"] * 2
    assert info["_scenario"].all()
    crash = np.stack([Trajectory.constant_velocity(12.0).points] * 2).astype(np.float32)
    for _ in range(20):
        obs, reward, terminated, truncated, info = vec.step(crash)
        if terminated.all():
            break
    assert terminated.all() and info["collision"].all() and (info["impact_speed"] > 5).all()
    assert list(info["collided_with"]) == ["bus", "bus"] and (reward < -10).all()
    obs, reward, terminated, truncated, info = vec.step(crash)  # NEXT_STEP: this step resets
    assert (reward == 0).all() and not terminated.any() and not info["collision"].any()
    assert (obs["ego"][:, 0] > 5).all()  # moving again at the start speed
    vec.close()


def test_every_weather_id_has_the_batched_entry_point():
    for env_id in WEATHER_IDS:
        assert gym.spec(env_id).vector_entry_point == "occsim.envs.vector:OccSimVectorEnv"
    vec = gym.make_vec("OccSim-night-v0", num_envs=2, scenario="bus_ahead", camera_hw=HW)
    vec.reset(seed=0)
    assert all(env.sim.weather.kind == "night" for env in vec.unwrapped.envs)


def test_same_step_and_disabled_autoreset_modes():
    kwargs = dict(scenario="bus_ahead", camera_hw=HW)
    crash = np.stack([Trajectory.constant_velocity(12.0).points] * 2).astype(np.float32)
    same = OccSimVectorEnv(num_envs=2, autoreset_mode="SameStep", **kwargs)
    same.reset(seed=0)
    for _ in range(20):
        obs, _, terminated, _, info = same.step(crash)
        if terminated.any():
            break
    assert terminated.all() and "final_obs" in info and info["final_info"]["collision"].all()
    assert (obs["ego"][:, 0] > 5).all()  # already reset in the same step
    obs, reward, terminated, _, _ = same.step(crash)  # and steps on from the new start
    assert not terminated.any() and (reward > 0).all()
    off = OccSimVectorEnv(num_envs=2, autoreset_mode=AutoresetMode.DISABLED, **kwargs)
    off.reset(seed=0)
    for _ in range(20):
        _, _, terminated, _, _ = off.step(crash)
        if terminated.any():
            break
    with pytest.raises(RuntimeError, match="reset it"):
        off.step(crash)
    off.reset(options={"reset_mask": terminated})
    off.step(crash)


def test_max_episode_steps_truncates_and_bad_arguments_are_refused():
    vec = OccSimVectorEnv(num_envs=2, scenario="bus_ahead", camera_hw=HW, max_episode_steps=2)
    vec.reset(seed=0)
    slow = np.stack([Trajectory.constant_velocity(1.0).points] * 2).astype(np.float32)
    assert not vec.step(slow)[3].any()
    assert vec.step(slow)[3].all()
    with pytest.raises(ValueError, match="raster"):
        OccSimVectorEnv(num_envs=2, renderer="syntheocc")
    with pytest.raises(ValueError, match="num_envs"):
        OccSimVectorEnv(num_envs=0)
    with pytest.raises(ValueError, match="2 worlds|seeds"):
        vec.reset(seed=[1, 2, 3])


@pytest.mark.parametrize("mode", ["sync", "async", "vector_entry_point"])
def test_a_wrong_batch_raises_naming_the_shapes_and_moves_no_world(mode):
    """Issue 34: a batch of 3 for 2 worlds (or a row of the wrong shape, dtype or NaN) is refused before any step."""
    vec = gym.make_vec("OccSim-v0", num_envs=2, vectorization_mode=mode, scenario="bus_ahead", camera_hw=HW)
    try:
        vec.reset(seed=0)
        good = np.stack([Trajectory.constant_velocity(8.0).points] * 2).astype(np.float32)
        bad_row = good.copy()
        bad_row[1, 3, 0] = np.nan
        cases = [
            (np.concatenate([good, good[:1]]), r"expected shape \(2, 6, 2\) float32 .*got shape \(3, 6, 2\) float32"),
            (good[:1], r"got shape \(1, 6, 2\)"),
            (np.zeros((2, 6, 3), np.float32), r"got shape \(2, 6, 3\)"),
            (good.astype(np.complex64), r"got shape \(2, 6, 2\) complex64 \(not real numbers\)"),
            (bad_row, r"NaN or inf in row\(s\) \[1\]"),
        ]
        for actions, words in cases:
            with pytest.raises(ValueError, match=words):
                vec.step(actions)
        _, _, _, _, info = vec.step(good)
        assert info["t"].tolist() == [0.5, 0.5]  # the first step any world took: the refused ones moved nothing
    finally:
        vec.close()
