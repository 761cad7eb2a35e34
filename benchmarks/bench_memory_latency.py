"""How late a BEV memory network shows a car that comes into view, and the ghost it leaves behind a moving one.

On train-split instances of one family, the expert drives while the network watches. At every step, the network's
objects map is read twice: with the memory carried, and with the memory reset that frame (the cameras alone).

- Delay: the first step each shows the actor above 0.5 (its largest probability within 3 m of the actor's centre)
  is its detection; the delay is memory minus cameras alone, in steps of 0.5 s. A positive delay means an empty
  memory argued against what the cameras saw.
- Ghost: where the actor was 1 s earlier, once it has moved more than 6 m since, the map should be empty. The share
  of those frames with a probability above 0.5 within 2 m of that old place, with the memory and without it: a
  memory that keeps a moving car's features where it last saw them trails a ghost behind it.

    python benchmarks/bench_memory_latency.py --weights runs/hide_weights5 --family red_light_runner --actor runner \
        [--cases 4] [--weather clear] [--out benchmarks/results/memory_latency.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from occsim.envs.occsim_env import OccSimEnv
from occsim.planners import make_planner
from occsim.planners.vision import VisionNetPlanner, largest_near
from occsim.sensors import make_renderer
from occsim.suite.splits import load_split
from occsim.types import DEFAULT_CAMERA_HW, WAYPOINT_DT, CameraRig, PlannerInput, PrivilegedInput

SEEN = 0.5
NEAR = 3.0  # [m]: the map's cells are 2 m
GHOST_LAG = 2  # steps (1 s) back to the actor's old place
GHOST_MOVED = 6.0  # [m] the actor must have moved since, so its old place is clear of it
GHOST_NEAR = 2.0  # [m] around the old place


def first_seen(probabilities: list[float]) -> int | None:
    """The first index above SEEN, or None."""
    return next((i for i, p in enumerate(probabilities) if p > SEEN), None)


def one_case(scenario, weights: Path, actor: str, weather: str) -> dict:
    """Per-step probabilities at ``actor`` with and without the memory, and the first step each saw it."""
    env = OccSimEnv(
        scenario,
        weather=weather,
        renderer=make_renderer("raster", CameraRig.nuscenes(DEFAULT_CAMERA_HW)),
        privileged=True,
    )
    memory, cameras, expert = VisionNetPlanner(weights), VisionNetPlanner(weights), make_planner("expert")
    observation, info = env.reset(seed=0)
    road = info["road"]
    expert.reset(info)
    with_memory, alone, places = [], [], []
    ghosts: dict[str, list[float]] = {"memory": [], "cameras_alone": []}
    centres = memory.centres
    for _ in range(env.sim.max_steps):
        inputs = PlannerInput.from_observation(observation, info["t"])
        world = env.sim.world
        state = next((a for a in world.actor_states() if a.id == actor), None)
        if state is None:
            raise SystemExit(f"{scenario.name} has no actor {actor!r}")
        places.append((state.pose.x, state.pose.y))
        point, old = world.ego.pose.to_local(np.array([places[-1], places[max(0, len(places) - 1 - GHOST_LAG)]]))
        maps = {"memory": memory.objects_map(inputs)}
        cameras.reset({})
        maps["cameras_alone"] = cameras.objects_map(inputs)
        with_memory.append(largest_near(maps["memory"], centres, point, NEAR))
        alone.append(largest_near(maps["cameras_alone"], centres, point, NEAR))
        inside = np.abs(old).max() < memory.net.config.bev_range
        if len(places) > GHOST_LAG and inside and np.hypot(*(old - point)) > GHOST_MOVED:
            for key, grid in maps.items():
                ghosts[key].append(largest_near(grid, centres, old, GHOST_NEAR))
        plan = expert.plan(inputs, PrivilegedInput.from_observation(observation, road))
        observation, _, terminated, truncated, info = env.step(plan.points)
        if terminated or truncated:
            break
    return {
        "scenario": scenario.name,
        "memory": [round(p, 3) for p in with_memory],
        "cameras_alone": [round(p, 3) for p in alone],
        "first_seen_memory": first_seen(with_memory),
        "first_seen_cameras_alone": first_seen(alone),
        "ghost": {key: [round(p, 3) for p in values] for key, values in ghosts.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, required=True, help="temporal vision weights")
    parser.add_argument("--family", default="red_light_runner")
    parser.add_argument("--actor", default="runner")
    parser.add_argument("--cases", type=int, default=4)
    parser.add_argument("--weather", default="clear")
    parser.add_argument("--benchmark", default="longtail")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    split = load_split(args.benchmark, "train")  # a diagnostic: never on the test split
    cases = [i.scenario for _, _, i in split.instances() if i.family == args.family][: args.cases]
    if not cases:
        raise SystemExit(f"no train instance of family {args.family!r}")
    rows = [one_case(s, args.weights, args.actor, args.weather) for s in cases]
    delays = [
        r["first_seen_memory"] - r["first_seen_cameras_alone"]
        for r in rows
        if r["first_seen_memory"] is not None and r["first_seen_cameras_alone"] is not None
    ]
    print(f"{args.family} ({args.actor}), {args.weather}, {len(rows)} train cases, weights {args.weights}")
    for r in rows:
        print(f"  first seen: memory step {r['first_seen_memory']}, cameras alone step {r['first_seen_cameras_alone']}")
    if delays:
        print(f"mean delay of the memory: {np.mean(delays) * WAYPOINT_DT:+.2f} s over {len(delays)} cases")
    ghost_share = {}
    for key in ("memory", "cameras_alone"):
        values = [p for r in rows for p in r["ghost"][key]]
        ghost_share[key] = float(np.mean(np.array(values) > SEEN)) if values else None
    frames = sum(len(r["ghost"]["memory"]) for r in rows)
    if frames:
        print(
            f"ghost 1 s behind the actor, share of {frames} frames above {SEEN}: "
            f"memory {ghost_share['memory']:.2f}, cameras alone {ghost_share['cameras_alone']:.2f}"
        )
    if args.out:
        summary = {"weights": str(args.weights), "family": args.family, "actor": args.actor, "weather": args.weather}
        summary |= {"split": "train", "step_s": WAYPOINT_DT, "delays_steps": delays, "ghost_share": ghost_share}
        summary["cases"] = rows
        args.out.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
