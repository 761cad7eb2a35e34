"""Loading a nuScenes scene and stepping it: load time per scene, and env steps/s at 6 x 256 x 448 on the loaded scene
against a built-in scenario in the same run.

    python benchmarks/bench_nuscenes.py [--dataroot DIR --version v1.0-mini --scene scene-0061]

Without --dataroot it writes the synthetic set (`occsim make-nuscenes-mini`) to a temporary folder first.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

HW = (256, 448)
STEPS = 20


def steps_per_second(scenario) -> float:
    from occsim.envs.occsim_env import OccSimEnv
    from occsim.suite.throughput import timed_steps
    from occsim.types import Trajectory

    env = OccSimEnv(scenario, camera_hw=HW)
    obs, _ = env.reset(seed=0)
    plan = Trajectory.constant_velocity(max(float(obs["ego"][0]), 2.0))
    timed_steps(env, plan, 1)  # compile and warm the caches
    return STEPS / timed_steps(env, plan, STEPS)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataroot")
    parser.add_argument("--version", default="v1.0-mini")
    parser.add_argument("--scene", default="scene-0061")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    dataroot = args.dataroot
    if dataroot is None:
        dataroot = tempfile.mkdtemp() + "/mini"
        subprocess.run([sys.executable, "-m", "occsim.cli", "make-nuscenes-mini", dataroot], check=True)

    import occsim  # noqa: F401 - registers the nuscenes map type
    from occsim.data import nuscenes
    from occsim.data.scene_world import logged_world
    from occsim.scenario import parse_scenario
    from occsim.scenarios import load_scenario

    loads = []
    for _ in range(3):
        nuscenes._open.cache_clear()
        start = time.perf_counter()
        scene = nuscenes.load_scene(dataroot, args.version, args.scene)
        loads.append(time.perf_counter() - start)
    start = time.perf_counter()
    logged_world(scene, 0)
    build = time.perf_counter() - start
    logged = parse_scenario(
        f"name: logged\nmap: {{type: nuscenes, dataroot: {dataroot}, version: {args.version}, scene: {args.scene}}}\n"
        "ego: {from_log: true, command: follow}\n"
    )
    logged_rate = steps_per_second(logged)
    builtin_rate = steps_per_second(load_scenario("bus_ahead"))
    figures = {
        "scene": args.scene,
        "samples": len(scene.times),
        "agents": len(scene.agents),
        "occ3d_samples": len(scene.occ3d),
        "load_scene_s_first": round(loads[0], 3),  # includes importing the devkit and pyquaternion
        "load_scene_s_median": round(float(np.median(loads)), 3),
        "build_world_s": round(build, 3),
        "steps_per_s_logged_256x448": round(logged_rate, 1),
        "steps_per_s_bus_ahead_256x448": round(builtin_rate, 1),
        "ratio_logged_to_builtin": round(logged_rate / builtin_rate, 2),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
