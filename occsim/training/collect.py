"""Imitation data from closed-loop expert rollouts, with DAgger-style perturbations so it covers recoveries.

Each step records what the vision planner sees (six views resized to ``image_hw``, ego state, command, camera
parameters), the expert's plan from that state (the label), the BEV targets from the privileged occupancy, and the
agents' boxes (for the open-loop collision metric). Now and then the executed plan is perturbed for a few steps
(steered sideways or slowed down or sped up); the expert keeps labelling, so the data shows how to come back.
One ``.npz`` per episode, written by the worker that ran it; ``meta.json`` describes the set.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from occsim.envs.occsim_env import OccSimEnv
from occsim.planners import make_planner
from occsim.planners.vision import VisionConfig, bev_targets, resize_views
from occsim.rollout import rollout
from occsim.scenario import Scenario
from occsim.suite.jobs import set_threads
from occsim.suite.tasks import derive_seed
from occsim.training.episodes import write_episode
from occsim.types import Trajectory

MAX_AGENTS = 32  # agent boxes kept per step, nearest first
COLLECT_BASE_SEED = 1_000_003  # keeps collection seeds apart from the suite's (base seed 0)


@dataclass(frozen=True)
class Perturbation:
    """How often and how hard the executed plan departs from the expert's."""

    probability: float = 0.1  # chance per step of starting a perturbation
    min_steps: int = 2  # steps a perturbation lasts
    max_steps: int = 4
    max_yaw: float = 0.15  # [rad] the plan is rotated by up to this, drifting the ego sideways
    speed_range: tuple[float, float] = (0.5, 1.4)  # the plan is stretched along x by a factor in this range


@dataclass(frozen=True)
class CollectConfig:
    """A collection run."""

    out_dir: Path
    weather: str | None = "clear"
    episodes_per_scenario: int = 20
    camera_hw: tuple[int, int] = (128, 224)  # rendered size
    image_hw: tuple[int, int] = VisionConfig.input_hw  # stored size
    workers: int = 1
    perturbation: Perturbation = Perturbation()


def perturb(plan: np.ndarray, kind: str, amount: float) -> np.ndarray:
    """The plan rotated by ``amount`` radians (``yaw``) or stretched along x by ``amount`` (``speed``)."""
    if kind == "yaw":
        c, s = np.cos(amount), np.sin(amount)
        return plan @ np.array([[c, s], [-s, c]])
    if kind == "speed":
        return plan * np.array([amount, 1.0])
    raise ValueError(f"unknown perturbation {kind!r}; expected 'yaw' or 'speed'")


def collect_episode(scenario: Scenario, seed: int, config: CollectConfig, threads: int = 1) -> dict:
    """Roll the expert out once and write ``<scenario>__<seed>.npz``; returns a summary (never raises)."""
    set_threads(threads)
    path = Path(config.out_dir) / f"{scenario.name}__{seed}.npz"
    try:
        arrays = _rollout(scenario, seed, config)
    except Exception as e:  # a broken scenario should not stop a long collection
        return {"scenario": scenario.name, "seed": seed, "error": repr(e)}
    write_episode(path, **arrays)
    return {
        "scenario": scenario.name,
        "seed": seed,
        "file": path.name,
        "samples": len(arrays["plan"]),
        "perturbed": int(arrays["perturbed"].sum()),
        "collided": bool(arrays["collided"]),
    }


def _rollout(scenario: Scenario, seed: int, config: CollectConfig) -> dict[str, np.ndarray]:
    env = OccSimEnv(scenario=scenario, weather=config.weather, camera_hw=config.camera_hw, privileged=True)
    rng = np.random.default_rng(seed)
    vision = VisionConfig(input_hw=tuple(config.image_hw))
    p = config.perturbation
    rows: dict[str, list] = {k: [] for k in ("images", "ego", "command", "ego_pose", "plan", "perturbed", "bev")}
    agents: list[np.ndarray] = []
    state = {"left": 0, "kind": "", "amount": 0.0}

    def act(step: int, obs: dict, label: Trajectory) -> Trajectory:
        """Record the sample (the expert's plan is the label) and return the plan to execute, perturbed or not."""
        plan = label.points
        if state["left"] == 0 and rng.random() < p.probability:
            state["left"] = int(rng.integers(p.min_steps, p.max_steps + 1))
            state["kind"] = "yaw" if rng.random() < 0.5 else "speed"
            yaw = state["kind"] == "yaw"
            state["amount"] = rng.uniform(-p.max_yaw, p.max_yaw) if yaw else rng.uniform(*p.speed_range)
        executed = perturb(plan, state["kind"], state["amount"]) if state["left"] else plan
        rows["images"].append(resize_views(obs["images"], vision.input_hw))
        rows["ego"].append(obs["ego"])
        rows["command"].append(obs["command"])
        rows["ego_pose"].append(obs["ego_pose"])
        rows["plan"].append(plan.astype(np.float32))
        rows["perturbed"].append(state["left"] > 0)
        rows["bev"].append(bev_targets(obs["occupancy"], vision))
        agents.append(_agent_boxes(env))
        state["left"] = max(0, state["left"] - 1)
        return Trajectory(executed)

    end = rollout(env, make_planner("expert"), seed, act=act)
    agents.append(_agent_boxes(env))  # the state after the last step, for the last sample's first future step
    return {
        **{k: np.stack(v) for k, v in rows.items()},
        "agents": np.stack(agents),  # (T + 1, MAX_AGENTS, 6) world x, y, yaw, length, width, class (-1: none)
        "intrinsics": env.sim.rig.resized(vision.input_hw).intrinsics.astype(np.float32),
        "cam2ego": env.sim.rig.cam2ego.astype(np.float32),
        "collided": np.array(bool(end.info["collision"])),
        "weather": np.array(config.weather or "scenario"),
    }


def _agent_boxes(env: OccSimEnv) -> np.ndarray:
    """(MAX_AGENTS, 6) world-frame boxes of the nearest agents: x, y, yaw, length, width, class; class -1 pads."""
    out = np.zeros((MAX_AGENTS, 6), dtype=np.float32)
    out[:, 5] = -1
    states = env.sim.world.actor_states()
    ego = env.sim.world.ego.pose
    states.sort(key=lambda a: np.hypot(a.pose.x - ego.x, a.pose.y - ego.y))
    for row, a in enumerate(states[:MAX_AGENTS]):
        out[row] = (a.pose.x, a.pose.y, a.pose.yaw, a.size[0], a.size[1], a.cls)
    return out


def collect(scenarios: list[Scenario], config: CollectConfig, console: Console | None = None) -> dict:
    """Collect ``episodes_per_scenario`` rollouts of every scenario into ``config.out_dir``.

    Episodes already there are kept, so an interrupted collection resumes. Returns the summary also written to
    ``meta.json``.
    """
    console = console or Console(stderr=True)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [
        (s, derive_seed(COLLECT_BASE_SEED, s.name, i)) for s in scenarios for i in range(config.episodes_per_scenario)
    ]
    todo = [(s, seed) for s, seed in jobs if not (out / f"{s.name}__{seed}.npz").exists()]
    threads = max(1, (multiprocessing.cpu_count() or 1) // max(1, config.workers))
    errors = []
    columns = (TextColumn("collect"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("collect", total=len(jobs), completed=len(jobs) - len(todo))
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(config.workers, mp_context=context) as pool:
            futures = [pool.submit(collect_episode, s, seed, config, threads) for s, seed in todo]
            for future in as_completed(futures):
                record = future.result()
                if "error" in record:
                    errors.append(record)
                    console.print(
                        f"{record['scenario']} seed {record['seed']}: {record['error']}", style="red", markup=False
                    )
                progress.advance(bar)
    files = sorted(out.glob("*__*.npz"))
    samples = 0
    for f in files:
        with np.load(f) as data:
            samples += len(data["plan"])
    meta = {
        "episodes": len(files),
        "samples": samples,
        "errors": errors,
        "config": {**asdict(config), "out_dir": str(out)},
        "scenarios": sorted({s.name for s in scenarios}),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    return meta
