"""Imitation data from closed-loop rollouts labelled by the expert, with perturbations so it covers recoveries.

Each step records what the vision planner sees (``planner_views``: six views resized to ``image_hw``, and with
``zoom`` its zoom view; ego state, command, camera parameters), the expert's plan from that state (the label), the
BEV targets from the privileged occupancy, and the agents' boxes (for the open-loop collision metric). Now and then
the executed plan is perturbed for a few steps (steered sideways or slowed down or sped up); the expert keeps
labelling, so the data shows how to come back.

For DAgger a learned ``driver`` drives instead: each step the expert's plan is executed with probability
``expert_share`` (DAgger's β), the driver's otherwise, and the expert labels every step, so the data covers the
states the learner itself reaches. Jobs are scenarios × seeds, or a benchmark split's instances, each under its own
weather and (with ``background_seeds``) its own buildings and trees. One ``.npz`` per episode, written by the worker
that ran it; ``meta.json`` describes the set.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from occsim.envs.occsim_env import OccSimEnv
from occsim.planners import make_planner
from occsim.planners.vision import VisionConfig, bev_targets, planner_views
from occsim.rollout import rollout
from occsim.scenario import Scenario
from occsim.sensors.hiding import HidingRenderer
from occsim.suite.jobs import set_threads
from occsim.suite.splits import Split, load_split, split_families, split_slice
from occsim.suite.tasks import derive_seed
from occsim.training.configs import CollectConfig
from occsim.training.episodes import write_episode
from occsim.types import PlannerInput, Trajectory

MAX_AGENTS = 32  # agent boxes kept per step, nearest first
BACKGROUNDS = 997  # distinct background seeds an episode's own seed maps to
COLLECT_BASE_SEED = 1_000_003  # keeps collection seeds apart from the suite's (base seed 0)
HIDE_RANGE = 30.0  # [m] actors this close to the ego may be hidden from the cameras (``CollectConfig.hide``)


@dataclass(frozen=True)
class CollectJob:
    """One episode to collect: a scenario, its reset seed, and its weather (None: the config's)."""

    scenario: Scenario
    seed: int
    weather: str | None = None

    @property
    def file_name(self) -> str:
        """``<scenario>__<seed>[__<weather>].npz``."""
        return f"{self.scenario.name}__{self.seed}" + (f"__{self.weather}" if self.weather else "") + ".npz"


def scenario_jobs(scenarios: list[Scenario], episodes: int) -> list[CollectJob]:
    """``episodes`` jittered episodes of each scenario, seeded apart from the suite's."""
    return [CollectJob(s, derive_seed(COLLECT_BASE_SEED, s.name, i)) for s in scenarios for i in range(episodes)]


def split_jobs(split: Split, episodes: int | None = None, weathers: list[str] | None = None) -> list[CollectJob]:
    """The first ``episodes`` instances (all if None) of each family of a benchmark split, one episode each.

    Instance i runs in weather i mod len(weathers) (default the split's), so every weather gets its share.
    """
    weathers = list(weathers or split.weathers)
    return [
        CollectJob(instance.scenario, seed, weathers[index % len(weathers)])
        for index, seed, instance in split.instances(episodes)
    ]


def benchmark_jobs(
    benchmark: str,
    split: str,
    start: int,
    episodes: int | None,
    weathers: list[str],
    families: list[str] | None = None,
) -> list[CollectJob]:
    """Collection jobs on a benchmark split: each family's instances ``start`` to ``start + episodes`` (or all).

    ``families`` narrows the split to those families (a lesson aimed at a few of them).

    Raises:
        BenchmarkError: the benchmark or split does not load, or it has no such family.
        ValueError: ``start`` is past the instances a family has.
    """
    whole = split_families(load_split(benchmark, split), families)
    jobs = split_jobs(split_slice(whole, start, start + episodes if episodes else None), None, weathers or None)
    if not jobs:
        shortest = min(len(f.seeds) for f in whole.families.values())
        raise ValueError(f"--start {start}: {whole.label} has {shortest} instances per family")
    return jobs


def perturb(plan: np.ndarray, kind: str, amount: float) -> np.ndarray:
    """The plan rotated by ``amount`` radians (``yaw``) or stretched along x by ``amount`` (``speed``)."""
    if kind == "yaw":
        c, s = np.cos(amount), np.sin(amount)
        return plan @ np.array([[c, s], [-s, c]])
    if kind == "speed":
        return plan * np.array([amount, 1.0])
    raise ValueError(f"unknown perturbation {kind!r}; expected 'yaw' or 'speed'")


def collect_episode(job: CollectJob, config: CollectConfig, threads: int = 1) -> dict:
    """Roll one episode out and write ``job.file_name``; returns a summary (never raises)."""
    set_threads(threads)
    path = Path(config.out_dir) / job.file_name
    scenario = job.scenario
    if config.background_seeds:
        scenario = scenario.model_copy(update={"seed": job.seed % BACKGROUNDS})
    try:
        arrays = _collect_episode(scenario, job.seed, job.weather or config.weather, config)
    except Exception as e:  # a broken scenario should not stop a long collection
        return {"scenario": job.scenario.name, "seed": job.seed, "error": repr(e)}
    write_episode(path, **arrays)
    return {
        "scenario": job.scenario.name,
        "seed": job.seed,
        "weather": job.weather or config.weather,
        "file": path.name,
        "samples": len(arrays["plan"]),
        "perturbed": int(arrays["perturbed"].sum()),
        "driven": int(arrays["driven"].sum()),
        "collided": bool(arrays["collided"]),
    }


def _collect_episode(
    scenario: Scenario, seed: int, weather: str | None, config: CollectConfig
) -> dict[str, np.ndarray]:
    env = OccSimEnv(scenario=scenario, weather=weather, camera_hw=config.camera_hw, privileged=True)
    hiding: HidingRenderer | None = None  # wraps the env's renderer once the reset has chosen it
    rng = np.random.default_rng(seed)
    hide_rng = np.random.default_rng([seed, 1])  # its own stream: with hide 0 the episode is as it always was
    vision = VisionConfig(input_hw=tuple(config.image_hw), zoom=config.zoom)
    driver = make_planner(config.driver) if config.driver else None
    p = config.perturbation
    keys = ("images", "ego", "command", "ego_pose", "plan", "perturbed", "driven", "hidden", "bev")
    rows: dict[str, list] = {k: [] for k in keys}
    agents: list[np.ndarray] = []
    cameras: dict[str, np.ndarray] = {}  # the views' intrinsics and cam2ego: the same every step, kept once
    state = {"left": 0, "kind": "", "amount": 0.0, "t": 0.0, "hide_left": 0}

    def observe(step: int, obs: dict, info: dict) -> None:
        nonlocal hiding
        state["t"] = float(info["t"])
        if step == 0:
            # After the reset, which builds the renderer for the scene's own rig (a logged scene's cameras).
            hiding = env.sim.renderer = HidingRenderer(env.sim.renderer)
            if driver is not None:
                driver.reset(info)

    def act(step: int, obs: dict, label: Trajectory) -> Trajectory:
        """Record the sample (the expert's plan is the label) and return the plan to execute.

        That is the driver's (when one drives and the expert's turn was not drawn), else the expert's, perturbed
        or not.
        """
        plan = label.points
        driven = driver is not None and rng.random() >= config.expert_share
        if driven:
            executed = driver.plan(PlannerInput.from_observation(obs, state["t"])).points
        else:
            if state["left"] == 0 and rng.random() < p.probability:
                state["left"] = int(rng.integers(p.min_steps, p.max_steps + 1))
                state["kind"] = "yaw" if rng.random() < 0.5 else "speed"
                yaw = state["kind"] == "yaw"
                state["amount"] = rng.uniform(-p.max_yaw, p.max_yaw) if yaw else rng.uniform(*p.speed_range)
            executed = perturb(plan, state["kind"], state["amount"]) if state["left"] else plan
        rows["driven"].append(driven)
        views, intrinsics, cam2ego = planner_views(obs["images"], obs["intrinsics"], obs["cam2ego"], vision)
        rows["images"].append(views)
        if not cameras:
            cameras.update(intrinsics=intrinsics.astype(np.float32), cam2ego=cam2ego.astype(np.float32))
        rows["ego"].append(obs["ego"])
        rows["command"].append(obs["command"])
        rows["ego_pose"].append(obs["ego_pose"])
        rows["plan"].append(plan.astype(np.float32))
        rows["perturbed"].append(state["left"] > 0 and not driven)
        rows["bev"].append(bev_targets(obs["occupancy"], vision))
        agents.append(_agent_boxes(env))
        if not driven:
            state["left"] = max(0, state["left"] - 1)
        rows["hidden"].append(bool(hiding.hidden))  # this frame was drawn without an actor
        _choose_hidden(env, hiding, state, hide_rng, config)  # for the next frame
        return Trajectory(executed)

    end = rollout(env, make_planner("expert"), seed, act=act, observe=observe)
    agents.append(_agent_boxes(env))  # the state after the last step, for the last sample's first future step
    return {
        **{k: np.stack(v) for k, v in rows.items()},
        "agents": np.stack(agents),  # (T + 1, MAX_AGENTS, 6) world x, y, yaw, length, width, class (-1: none)
        **cameras,
        "zoom": np.array(vision.zoom),
        "collided": np.array(bool(end.info["collision"])),
        "weather": np.array(weather or scenario.weather.type),
    }


def _choose_hidden(
    env: OccSimEnv, hiding: HidingRenderer, state: dict, rng: np.random.Generator, config: CollectConfig
) -> None:
    """Count a hiding down, or start one: an actor within HIDE_RANGE, no faster than ``hide_max_speed``, left out.

    It stays out of the next ``hide_steps`` frames.
    """
    if state["hide_left"]:
        state["hide_left"] -= 1
    if state["hide_left"]:
        return
    hiding.hidden = set()
    if not config.hide or rng.random() >= config.hide:
        return
    ego = env.sim.world.ego.pose
    limit = np.inf if config.hide_max_speed is None else config.hide_max_speed
    near = [
        a.id
        for a in env.sim.world.actor_states()
        if np.hypot(a.pose.x - ego.x, a.pose.y - ego.y) < HIDE_RANGE
        and max(abs(a.speed), float(np.hypot(*a.velocity))) <= limit
    ]
    if near:
        hiding.hidden = {near[int(rng.integers(len(near)))]}
        state["hide_left"] = config.hide_steps


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


def collect(
    scenarios: list[Scenario],
    config: CollectConfig,
    console: Console | None = None,
    jobs: list[CollectJob] | None = None,
) -> dict:
    """Collect ``episodes_per_scenario`` rollouts of every scenario (or ``jobs``) into ``config.out_dir``.

    Episodes already there are kept, so an interrupted collection resumes. Returns the summary also written to
    ``meta.json``.
    """
    console = console or Console(stderr=True)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = jobs if jobs is not None else scenario_jobs(scenarios, config.episodes_per_scenario)
    todo = [job for job in jobs if not (out / job.file_name).exists()]
    threads = max(1, (multiprocessing.cpu_count() or 1) // max(1, config.workers))
    errors = []
    started = time.perf_counter()
    columns = (TextColumn("collect"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("collect", total=len(jobs), completed=len(jobs) - len(todo))
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(config.workers, mp_context=context) as pool:
            futures = [pool.submit(collect_episode, job, config, threads) for job in todo]
            for future in as_completed(futures):
                record = future.result()
                if "error" in record:
                    errors.append(record)
                    console.print(
                        f"{record['scenario']} seed {record['seed']}: {record['error']}", style="red", markup=False
                    )
                progress.advance(bar)
    files = sorted(out.glob("*__*.npz"))
    samples = driven = 0
    for f in files:
        with np.load(f) as data:
            samples += len(data["plan"])
            driven += int(data["driven"].sum()) if "driven" in data else 0  # older episodes: the expert drove
    meta = {
        "episodes": len(files),
        "samples": samples,
        "driven_steps": driven,
        # This call's wall time: a resumed collection counts only the episodes it added (``collected_now``).
        "seconds": round(time.perf_counter() - started, 1),
        "collected_now": len(todo),
        "errors": errors,
        "config": {**asdict(config), "out_dir": str(out)},
        "scenarios": sorted({job.scenario.name for job in jobs}),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    return meta
