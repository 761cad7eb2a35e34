"""Aggregate env steps per second of OccSim's vector envs against N, with a single env and highway-fast-v0.

Every figure comes from the same run on this machine: Gymnasium's sync and async vector envs and the batched one
(``vectorization_mode="vector_entry_point"``) at N = 1, 2, 4, 8, 16, at two camera sizes, stepping the built-in
suite with a constant-velocity plan; episodes autoreset and their resets count, as in RL training.

Every point is the median of ``--repeats`` measurements (default 3): on a shared 2-core machine one short
measurement can be 10-15 % off, enough to move the ratios the issue asks for.

Run: python benchmarks/bench_vector.py [--quick] [--cuda] [--repeats N]   → benchmarks/results/vector.json and .png
(``--cuda`` adds the batched mode with the ray caster on the GPU, ``device="cuda"``, beside the CPU figures.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import gymnasium as gym
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import occsim  # noqa: E402,F401 - registers the ids
from occsim.scenario import build_world  # noqa: E402
from occsim.scenarios import load_builtin_suite  # noqa: E402
from occsim.suite.throughput import highway_steps_per_second  # noqa: E402
from occsim.types import Trajectory  # noqa: E402

RESULTS = Path(__file__).parent / "results"
MODES = ("sync", "async", "vector_entry_point")
PLAN = Trajectory.constant_velocity(8.0).points.astype(np.float32)


def warm_static_worlds() -> None:
    """Build every built-in map's static world once: the cache is per process, so whichever mode ran first would
    otherwise pay for it alone (async workers fork from here and inherit it)."""
    for scenario in load_builtin_suite():
        build_world(scenario, 0)


def single_steps_per_second(hw: tuple[int, int], steps: int, worlds: int = 1) -> float:
    """One ``gym.make`` env, resets included.

    With ``worlds`` > 1 it steps the worlds a vector env of that many would (seeds 0, 1, ..., each for its share
    of ``steps``, reset without a seed when an episode ends, as autoreset does) one after another: the same
    scenarios, weathers and steps as the vector envs at N = ``worlds``, so the ratio compares like with like.
    With 1 it steps whichever scenarios seed 0 draws, which on a short run can be lighter or heavier than the mix.
    """
    env = gym.make("OccSim-v0", camera_hw=hw)
    env.reset(seed=0)
    for _ in range(3):  # warm-up: numba compilation and caches
        env.step(PLAN)
    share = max(3, -(-steps // worlds))
    elapsed = 0.0
    for seed in range(worlds):
        if worlds > 1:
            env.reset(seed=seed)
        start = time.perf_counter()
        for _ in range(share if worlds > 1 else steps):
            _, _, terminated, truncated, _ = env.step(PLAN)
            if terminated or truncated:
                env.reset()
        elapsed += time.perf_counter() - start
    env.close()
    return (share * worlds if worlds > 1 else steps) / elapsed


def vector_steps_per_second(mode: str, n: int, hw: tuple[int, int], world_steps: int, device: str = "cpu") -> float:
    """World steps per second of ``make_vec`` in ``mode`` with ``n`` worlds (autoresets included)."""
    options = {"device": device} if device != "cpu" else {}  # the batched env takes it as a keyword
    vec = gym.make_vec("OccSim-v0", num_envs=n, vectorization_mode=mode, camera_hw=hw, **options)
    vec.reset(seed=0)
    actions = np.repeat(PLAN[None], n, axis=0)
    for _ in range(3):
        vec.step(actions)
    calls = max(3, -(-world_steps // n))
    start = time.perf_counter()
    for _ in range(calls):
        vec.step(actions)
    elapsed = time.perf_counter() - start
    vec.close()
    return calls * n / elapsed


def median_of(repeats: int, measure, *args) -> float:
    """The median of ``repeats`` calls of ``measure(*args)``."""
    return float(np.median([measure(*args) for _ in range(repeats)]))


def plot(results: dict, path: Path) -> None:
    """Steps/s against N per mode, one panel per camera size, with the single env and highway-fast-v0."""
    sizes = list(results["sizes"])
    fig, axes = plt.subplots(1, len(sizes), figsize=(6 * len(sizes), 4.2), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        entry = results["sizes"][size]
        for mode in (*MODES, "vector_entry_point_cuda"):
            if mode not in entry:
                continue
            ns = sorted(int(n) for n in entry[mode])
            ax.plot(ns, [entry[mode][str(n)] for n in ns], marker="o", label=mode.replace("_", " "))
        ax.axhline(entry["single"], color="grey", ls="--", label="single env")
        if "single_on_8_worlds" in entry:
            ax.axhline(entry["single_on_8_worlds"], color="grey", ls="-.", label="single env, N = 8's worlds")
        if results.get("highway_fast_steps_per_s"):
            ax.axhline(results["highway_fast_steps_per_s"], color="black", ls=":", label="highway-fast-v0")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("worlds N")
        ax.set_ylabel("world steps / s")
        ax.set_title(f"6 × {size} cameras")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"OccSim vector envs on {results['cpu_count']} CPU cores")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1, 2, 8 and fewer steps (a smoke run)")
    parser.add_argument("--cuda", action="store_true", help="also the batched mode with the ray caster on the GPU")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per point; the median is reported")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.cuda:
        from occsim.sensors.raster_cuda import cuda_problem

        if cuda_problem():
            parser.error(cuda_problem())
    counts = (1, 2, 8) if args.quick else (1, 2, 4, 8, 16)
    world_steps = 24 if args.quick else 240
    warm_static_worlds()
    repeats = 1 if args.quick else max(1, args.repeats)
    samples = [highway_steps_per_second(60 if args.quick else 300) for _ in range(repeats)]
    highway = None if None in samples else float(np.median(samples))  # None: highway-env is not installed
    results: dict = {
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
        "world_steps_per_point": world_steps,
        "repeats_per_point": repeats,
        "highway_fast_steps_per_s": None if highway is None else round(highway, 1),
        "sizes": {},
    }
    for hw in ((64, 112), (128, 224)):
        size = f"{hw[0]}x{hw[1]}"
        entry: dict = {"single": round(median_of(repeats, single_steps_per_second, hw, world_steps), 1)}
        entry["single_on_8_worlds"] = round(median_of(repeats, single_steps_per_second, hw, world_steps, 8), 1)
        for mode in MODES:
            entry[mode] = {}
            for n in counts:
                entry[mode][str(n)] = round(median_of(repeats, vector_steps_per_second, mode, n, hw, world_steps), 1)
                print(f"{size} {mode:18s} N={n:2d}: {entry[mode][str(n)]:7.1f} steps/s", flush=True)
        if args.cuda:
            entry["vector_entry_point_cuda"] = {
                str(n): round(vector_steps_per_second(MODES[-1], n, hw, world_steps, "cuda"), 1) for n in counts
            }
            print(f"{size} batched on cuda: {entry['vector_entry_point_cuda']} steps/s", flush=True)
        batched8 = entry["vector_entry_point"]["8"]
        entry["batched_8_vs_single"] = round(batched8 / entry["single"], 2)
        entry["batched_8_vs_single_on_8_worlds"] = round(batched8 / entry["single_on_8_worlds"], 2)
        entry["batched_8_vs_highway_fast"] = None if highway is None else round(batched8 / highway, 2)
        results["sizes"][size] = entry
        print(
            f"{size}: single {entry['single']} steps/s ({entry['single_on_8_worlds']} on N = 8's worlds); batched "
            f"N=8 is {entry['batched_8_vs_single']}x single ({entry['batched_8_vs_single_on_8_worlds']}x on its worlds)"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    name = "vector_quick" if args.quick else "vector"
    (args.out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.out / f"{name}.png")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
