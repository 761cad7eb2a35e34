"""Speed and memory of the closed loop on this machine: ``occsim bench`` and ``benchmarks/bench_env.py``.

Every ratio is measured in the same run; figures are medians over repeated timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

from occsim.envs.occsim_env import OccSimEnv
from occsim.rollout import rollout
from occsim.scenarios import load_scenario
from occsim.sensors.mpi import build_mpi
from occsim.types import CameraRig, Trajectory

TARGETS = {"steps_per_s_128x224": 40.0, "steps_per_s_256x448": 10.0, "mpi_ms": 20.0, "peak_memory_gb": 1.5}


def bench_scenario():
    """The stopped-bus scenario with the ego in the free lane: a full episode of driving without a collision."""
    scenario = load_scenario("bus_ahead")
    return scenario.model_copy(update={"ego": scenario.ego.model_copy(update={"lane": 1})})


class ConstantAgent:
    """Plans the same action every step: the loop's own cost, with no planner in it."""

    privileged = False

    def __init__(self, action):
        self.action = action

    def reset(self, info: dict) -> None:
        """Nothing to forget."""

    def plan(self, inputs, privileged=None):
        """The fixed action."""
        return self.action


def timed_steps(env, action, steps: int, seed: int = 0) -> float:
    """Seconds inside ``env.step`` over ``steps`` steps of a fixed action; episodes restart, resets not timed."""
    clock = {"elapsed": 0.0, "start": 0.0, "done": 0}

    def act(step: int, observation: dict, plan):
        clock["start"] = time.perf_counter()
        return plan

    def observe(step: int, observation: dict, info: dict) -> None:
        if step:
            clock["elapsed"] += time.perf_counter() - clock["start"]
            clock["done"] += 1

    while clock["done"] < steps:
        rollout(env, ConstantAgent(action), seed + clock["done"], act, observe, max_steps=steps - clock["done"])
    return clock["elapsed"]


def renderer_seconds_per_step(
    renderer: str, hw: tuple[int, int], steps: int, kwargs: dict | None = None, scenario: str = "fog_bus"
) -> float:
    """Mean seconds per env step with ``renderer`` and its ``kwargs``, after one untimed warm-up step.

    A constant-velocity plan in ``scenario``: what the diffusion renderers' benchmarks compare with raster.
    """
    env = OccSimEnv(scenario, camera_hw=hw, renderer=renderer, renderer_kwargs=kwargs or {})
    obs, _ = env.reset(seed=0)
    plan = Trajectory.constant_velocity(max(float(obs["ego"][0]), 2.0))
    timed_steps(env, plan, 1)  # warm caches and kernels
    return timed_steps(env, plan, steps) / steps


def env_steps_per_second(hw: tuple[int, int], steps: int = 60) -> float:
    """Whole env steps per second (world step, occupancy window, render, collision), resets excluded."""
    env = OccSimEnv(scenario=bench_scenario(), camera_hw=hw)
    action = Trajectory.constant_velocity(10.0).points.astype(np.float32)
    timed_steps(env, action, 3)  # warm-up: numba compilation and caches
    return steps / timed_steps(env, action, steps, seed=1)


def highway_steps_per_second(steps: int = 200) -> float | None:
    """HighwayEnv ``highway-fast-v0`` with a 128 x 64 grayscale observation, or None if highway-env is missing."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    try:
        import gymnasium as gym
        import highway_env  # noqa: F401 - registers the ids
    except ImportError:
        return None
    config = {
        "observation": {
            "type": "GrayscaleObservation",
            "observation_shape": (128, 64),
            "stack_size": 4,
            "weights": [0.2989, 0.5870, 0.1140],
        }
    }
    env = gym.make("highway-fast-v0", config=config)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    elapsed, done = 0.0, 0
    while done < steps:
        t = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        elapsed += time.perf_counter() - t
        done += 1
        if terminated or truncated:
            env.reset(seed=done)
    env.close()
    return done / elapsed


def mpi_milliseconds(repeats: int = 20) -> float:
    """Median time of ``build_mpi`` with D = 256 at latent resolution 6 x 32 x 56."""
    rig = CameraRig.nuscenes((32, 56))
    occupancy = torch.from_numpy(np.random.default_rng(0).integers(0, 18, (200, 200, 16), dtype=np.uint8))
    build_mpi(occupancy, rig.intrinsics, rig.cam2ego, rig.hw)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        build_mpi(occupancy, rig.intrinsics, rig.cam2ego, rig.hw)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def peak_memory_gb() -> float:
    """Peak resident memory [GB] of a fresh process that makes one env at 256 x 448 and runs it for 40 steps."""
    code = (
        "import resource, numpy as np\n"
        "from occsim.suite.throughput import bench_scenario\n"
        "from occsim.envs.occsim_env import OccSimEnv\n"
        "from occsim.types import Trajectory\n"
        "env = OccSimEnv(scenario=bench_scenario(), privileged=True)\n"
        "env.reset(seed=0)\n"
        "a = Trajectory.constant_velocity(10.0).points.astype(np.float32)\n"
        "for _ in range(40):\n"
        "    *_, term, trunc, _ = env.step(a)\n"
        "    if term or trunc: env.reset()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024**2  # ru_maxrss is in KiB on Linux


def run_all() -> dict:
    """Every figure, plus the ratio to HighwayEnv and whether each target is met."""
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    small = env_steps_per_second((128, 224))
    highway = highway_steps_per_second()
    large = env_steps_per_second((256, 448), steps=30)
    figures = {
        "steps_per_s_128x224": round(small, 1),
        "highway_fast_steps_per_s": None if highway is None else round(highway, 1),
        "ratio_vs_highway": None if highway is None else round(small / highway, 2),
        "steps_per_s_256x448": round(large, 1),
        "mpi_ms": round(mpi_milliseconds(), 2),
        "peak_memory_gb": round(peak_memory_gb(), 3),
        "cpu_count": os.cpu_count(),
    }
    figures["targets_met"] = {
        "steps_per_s_128x224": figures["steps_per_s_128x224"] >= TARGETS["steps_per_s_128x224"]
        and (highway is None or small >= highway),
        "steps_per_s_256x448": figures["steps_per_s_256x448"] >= TARGETS["steps_per_s_256x448"],
        "mpi_ms": figures["mpi_ms"] < TARGETS["mpi_ms"],
        "peak_memory_gb": figures["peak_memory_gb"] < TARGETS["peak_memory_gb"],
    }
    return figures


if __name__ == "__main__":
    print(json.dumps(run_all(), indent=2))
