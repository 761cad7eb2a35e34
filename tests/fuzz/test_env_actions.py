"""Fuzz: actions through ``env.step`` and every vector mode. A step, or a ValueError naming the shapes; a refused
action moves no world, and every observation a step returns lies in the observation space."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import occsim  # noqa: F401 - registers the ids
from occsim.envs.occsim_env import OccSimEnv
from tests.fuzz.profiles import budget

pytestmark = pytest.mark.fuzz

HW = (8, 14)  # the smallest camera: examples step in milliseconds
NUM_ENVS = 2
DTYPES = st.sampled_from(["float16", "float32", "float64", "int8", "int64", "uint8", "bool", "complex64", "U3", "O"])


def arrays(shape: tuple[int, ...]) -> st.SearchStrategy:
    """Arrays near ``shape`` (the right one, a dimension off, a batch too big or small) of any dtype."""
    shapes = st.one_of(
        st.just(shape),
        hnp.array_shapes(min_dims=0, max_dims=len(shape) + 1, min_side=0, max_side=7),
        st.tuples(st.integers(0, 4)).map(lambda b: (b[0], *shape[1:])),
    )
    return st.tuples(DTYPES, shapes).flatmap(
        lambda t: (
            hnp.arrays(np.dtype(t[0]), t[1], elements=_elements(t[0]))
            if t[0] not in ("U3", "O")
            else hnp.arrays(np.dtype(t[0]), t[1], elements=st.sampled_from(["a", "1", ""]))
        )
    )


def _elements(dtype: str) -> st.SearchStrategy | None:
    if dtype.startswith("float"):
        return st.one_of(st.floats(-50, 50, width=16 if dtype == "float16" else 32), st.sampled_from([np.nan, np.inf]))
    return None


OTHERS = st.one_of(st.none(), st.text(max_size=5), st.just([[1.0, 2.0], [3.0]]), st.just({"x": 1}), st.integers())


def valid(action, shape) -> bool:
    try:
        array = np.asarray(action)
    except (ValueError, TypeError):
        return False
    return array.shape == shape and array.dtype.kind in "iuf" and np.all(np.isfinite(array.astype(np.float64)))


def check(step, action, shape, clocks) -> None:
    """``step(action)`` either works or raises a ValueError naming what was expected; a refusal moves nothing."""
    before = clocks()
    try:
        step(action)
    except ValueError as e:
        assert str(e).startswith("invalid"), str(e)
        if not valid(action, shape):
            assert "expected" in str(e) or "trajectory" in str(e), str(e)
        assert clocks() == before, "a refused action moved a world"
        return
    assert valid(action, shape), f"accepted {action!r}"


@pytest.fixture(scope="module")
def single():
    envs = {kind: OccSimEnv("bus_ahead", camera_hw=HW, action_type=kind) for kind in ("waypoints", "control", "route")}
    for env in envs.values():
        env.reset(seed=0)
    return envs


@given(st.sampled_from(["waypoints", "control", "route"]), st.data())
@example("waypoints", None)
@budget(1.0)
def test_single_env_actions(single, kind, data):
    env = single[kind]
    shape = env.action_space.shape
    action = np.zeros(shape, np.float32) if data is None else data.draw(st.one_of(arrays(shape), OTHERS))

    def step(a):
        obs, _, terminated, truncated, _ = env.step(a)
        assert env.observation_space.contains(obs)
        if terminated or truncated:
            env.reset(seed=0)

    check(step, action, shape, lambda: env.sim.world.t)


@pytest.fixture(scope="module")
def vectors():
    made = {
        mode: gym.make_vec("OccSim-v0", num_envs=NUM_ENVS, vectorization_mode=mode, scenario="bus_ahead", camera_hw=HW)
        for mode in ("sync", "vector_entry_point", "async")
    }
    for vec in made.values():
        vec.reset(seed=0)
    yield made
    for vec in made.values():
        vec.close()


def _clocks(vec, mode):
    if mode == "sync":
        return [env.unwrapped.sim.world.t for env in vec.envs]
    if mode == "vector_entry_point":
        return [env.sim.world.t for env in vec.unwrapped.envs]
    return None  # async: the worlds live in other processes (the regression test checks them by their infos)


BATCH = (NUM_ENVS, 6, 2)
BEYOND = np.full(BATCH, 1e30, np.float32)  # found: finite, the right shape, but beyond any plan


@given(st.sampled_from(["sync", "vector_entry_point", "async"]), st.one_of(arrays(BATCH), OTHERS))
@example("async", BEYOND)  # refused in a worker, it broke the async env for every later step
@example("async", np.zeros(BATCH, np.float32))  # so this good batch, next, failed
@example("sync", np.zeros(BATCH, np.float32))
@budget(1.0)
def test_vector_env_batches(vectors, mode, action):
    vec = vectors[mode]
    assert vec.action_space.shape == BATCH

    def step(a):
        obs, *_ = vec.step(a)
        assert vec.observation_space.contains(obs)

    check(step, action, BATCH, lambda: _clocks(vec, mode))
