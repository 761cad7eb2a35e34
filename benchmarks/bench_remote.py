"""Per-step overhead of a planner served in another process (HTTP on 127.0.0.1) against the same planner in process.

Run: python benchmarks/bench_remote.py [--planner constant_velocity] [--camera-hw 256x448] [--steps 60]
"""

import argparse
import json
import re
import subprocess
import sys
import time

import numpy as np

from occsim.envs.occsim_env import OccSimEnv
from occsim.planners import make_planner
from occsim.rollout import rollout
from occsim.suite.throughput import bench_scenario


def seconds_per_step(planner_name: str, hw: tuple[int, int], steps: int) -> tuple[float, float]:
    """(whole step incl. planning, planning alone) seconds per env step, medians."""
    planner = make_planner(planner_name)
    env = OccSimEnv(scenario=bench_scenario(), camera_hw=hw, privileged=planner.privileged)
    whole, plan_only, clock = [], [], {}

    def act(step: int, observation: dict, plan):
        clock["planned"] = time.perf_counter()  # the planner answered; the env step starts
        plan_only.append(clock["planned"] - clock["observed"])
        return plan

    def observe(step: int, observation: dict, info: dict) -> None:
        now = time.perf_counter()
        if step:
            whole.append(now - clock["observed"])
        clock["observed"] = now

    while len(whole) < steps:
        rollout(env, planner, len(whole), act, observe, max_steps=steps - len(whole))
    return float(np.median(whole)), float(np.median(plan_only))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--planner", default="constant_velocity")
    parser.add_argument("--camera-hw", default="256x448")
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    hw = tuple(int(v) for v in args.camera_hw.split("x"))
    server = subprocess.Popen(
        [sys.executable, "-m", "occsim.cli", "serve-planner", args.planner, "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = "http://127.0.0.1:" + re.search(r":(\d+)", server.stderr.readline()).group(1)
        local_step, local_plan = seconds_per_step(args.planner, hw, args.steps)
        remote_step, remote_plan = seconds_per_step(f"remote:{url}", hw, args.steps)
    finally:
        server.terminate()
        server.wait()
    print(
        json.dumps(
            {
                "planner": args.planner,
                "camera_hw": list(hw),
                "in_process_ms_per_step": round(local_step * 1e3, 2),
                "remote_ms_per_step": round(remote_step * 1e3, 2),
                "in_process_plan_ms": round(local_plan * 1e3, 2),
                "remote_plan_ms": round(remote_plan * 1e3, 2),
                "overhead_ms_per_step": round((remote_plan - local_plan) * 1e3, 2),
                "step_time_ratio": round(remote_step / local_step, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
