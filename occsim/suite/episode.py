"""One closed-loop episode of a planner in a scenario, with its history, a video and a still of any collision."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import imageio.v2 as imageio
import numpy as np
from tqdm.auto import tqdm

from occsim.envs.occsim_env import OccSimEnv
from occsim.metrics.recall import tally
from occsim.planners import make_planner
from occsim.rollout import rollout
from occsim.scenario import Scenario
from occsim.suite.records import EpisodeResult
from occsim.suite.watchdog import PlannerTimeout, planner_call, report_progress
from occsim.types import DEFAULT_CAMERA_HW, PlannerInput, PrivilegedInput, Trajectory

VIDEO_SCALE = 0.5  # videos at half the frame size keep a suite's folder small
SLOW_STEP = 1.0  # [s] a step slower than this brings up the episode's progress bar


class PlannerError(RuntimeError):
    """The planner raised, timed out, or returned something that is not a trajectory."""


def run_episode(
    scenario: Scenario,
    planner: str,
    weather: str | None = None,
    renderer: str = "raster",
    seed: int = 0,
    camera_hw: tuple[int, int] = DEFAULT_CAMERA_HW,
    video: str | Path | None = None,
    still: str | Path | None = None,
    planner_timeout: float | None = None,
    renderer_kwargs: dict | None = None,
    perception_meter: bool | str = False,
    progress: bool = False,
) -> EpisodeResult:
    """Drive ``planner`` through ``scenario`` until collision, goal or time-out.

    Args:
        scenario: the scenario to run.
        planner: registered planner name.
        weather: weather override, None for the scenario's own.
        renderer: registered renderer name.
        seed: reset seed (jitter and weather effects).
        camera_hw: camera image size.
        video: write the six views beside the bird's-eye view here (mp4, half size).
        still: write the frame of the collision here (png), if there is one.
        planner_timeout: seconds one ``reset`` or ``plan`` call may take (see ``occsim.suite.watchdog``).
        renderer_kwargs: the renderer's options.
        perception_meter: score each frame with the occupancy perception model (see ``OccSimEnv``).
        progress: a progress bar of the episode's steps on stderr, shown from the first step that takes more
            than SLOW_STEP seconds (a diffusion renderer's), never for fast episodes.

    Raises:
        PlannerError: the planner raised, timed out, or returned an invalid trajectory.
    """
    agent = make_planner(planner)
    pictures = video is not None or still is not None
    env = OccSimEnv(
        scenario=scenario,
        weather=weather,
        camera_hw=camera_hw,
        renderer=renderer,
        renderer_kwargs=renderer_kwargs,
        privileged=agent.privileged,
        render_mode="rgb_array" if pictures else None,
        perception_meter=perception_meter,
    )
    start = time.perf_counter()
    total = int(round(scenario.duration / scenario.dt))
    record = _Recorder(env, pictures, bool(perception_meter), video, fps=1.0 / scenario.dt, total=total)
    if progress:
        record.watch(f"{scenario.name} / {planner}")
    try:
        end = rollout(env, _GuardedAgent(agent, planner_timeout), seed, observe=record)
    finally:
        record.close()
        agent.close()
    wall = time.perf_counter() - start
    info = end.info
    if still is not None and info["collision"]:
        Path(still).parent.mkdir(parents=True, exist_ok=True)
        imageio.imwrite(str(still), record.frame)
    outcome = (
        "collision"
        if info["collision"]
        else "goal"
        if info["route_completion"] >= 1.0
        else "stopped"
        if info.get("stopped")
        else "timeout"
    )
    return EpisodeResult(
        scenario=scenario.name,
        planner=planner,
        weather=env.sim.weather.kind,
        seed=seed,
        outcome=outcome,
        collision=bool(info["collision"]),
        collided_with=info["collided_with"],
        impact_speed=float(info["impact_speed"]),
        initial_speed=float(env.sim.history[0].ego.speed),
        ego_impact_speed=float(env.sim.history[-1].ego.speed) if info["collision"] else None,
        offroad=record.offroad,
        route_completion=float(info["route_completion"]),
        steps=end.steps,
        wall_time=round(wall, 3),
        renderer=renderer,
        perceived_occupancy_miou=round(float(np.nanmean(record.perceived)), 4) if record.perceived else None,
        object_recall=tally(record.sightings) if record.perceived else None,
        storyboard=info.get("openscenario"),
        history=list(env.sim.history),
    )


class _GuardedAgent:
    """The planner under the time limit, its answers checked: every failure is a PlannerError."""

    def __init__(self, agent, timeout: float | None):
        self.agent, self.timeout, self.step = agent, timeout, 0
        self.privileged = agent.privileged

    def reset(self, info: dict) -> None:
        _call(self.agent, "reset", 0, self.timeout, lambda: self.agent.reset(info))

    def plan(self, inputs: PlannerInput, privileged: PrivilegedInput | None = None) -> Trajectory:
        answer = _call(self.agent, "plan", self.step, self.timeout, lambda: self.agent.plan(inputs, privileged))
        plan = _checked(self.agent, answer, self.step)
        self.step += 1
        return plan


class _Recorder:
    """What an episode keeps of each observation: off-road, the meter's scores, the frame for a video or still."""

    def __init__(self, env: OccSimEnv, pictures: bool, meter: bool, video: str | Path | None, fps: float, total: int):
        self.env, self.pictures, self.meter = env, pictures, meter
        self.total = total  # the episode's steps at most
        self.writer = _VideoWriter(Path(video), fps) if video is not None else None
        self.offroad, self.perceived, self.sightings, self.frame = False, [], [], None
        self.bar: tqdm | None = None
        self._label, self._last = "", None

    def watch(self, label: str) -> None:
        """Show a progress bar of the steps once a step is slow."""
        self._label, self._last = label, time.perf_counter()

    def __call__(self, step: int, observation: dict, info: dict) -> None:
        self.offroad = self.offroad or bool(info["offroad"])
        report_progress(step, self.total)  # the suite's per-run progress, when in a suite worker
        if self.meter:
            self.perceived.append(info["perceived_occupancy_miou"])
            self.sightings.extend(info["sightings"] or ())
        if self.pictures:
            self.frame = self.env.render()
        if self.writer is not None:
            self.writer.append(self.frame)
        if self._last is not None:  # watching: time each step, from the observation before it
            now = time.perf_counter()
            if step and self.bar is None and now - self._last > SLOW_STEP:
                self.bar = tqdm(total=self.total, initial=step - 1, desc=self._label, unit="step", leave=False)
            if step and self.bar is not None:
                self.bar.update(1)
            self._last = now

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.bar is not None:
            self.bar.close()


def _call(agent, phase: str, step: int, timeout: float | None, call):
    """A planner call under the time limit; whatever the planner raises (SystemExit too) becomes a PlannerError."""
    try:
        with planner_call(timeout, phase, step):
            return call()
    except PlannerTimeout:
        raise PlannerError(
            f"planner '{agent.name}' took longer than {timeout:g} s in {phase}() at step {step}"
        ) from None
    except (Exception, SystemExit) as e:
        raise PlannerError(f"planner '{agent.name}' raised in {phase}() at step {step}: {e!r}") from e


def _checked(agent, plan, step: int) -> Trajectory:
    """The planner's answer as a Trajectory, or a PlannerError saying what is wrong with it."""
    try:
        return plan if isinstance(plan, Trajectory) else Trajectory(np.asarray(plan, dtype=np.float64))
    except (ValueError, TypeError) as e:
        raise PlannerError(f"planner '{agent.name}' returned an invalid trajectory at step {step}: {e}") from None


class _VideoWriter:
    """Frames go to the encoder as they come (half size), so a long episode never holds its video in memory."""

    def __init__(self, path: Path, fps: float):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = imageio.get_writer(
            str(path), fps=fps, macro_block_size=1, codec="libx264", pixelformat="yuv420p"
        )

    def append(self, frame: np.ndarray) -> None:
        small = cv2.resize(frame, None, fx=VIDEO_SCALE, fy=VIDEO_SCALE, interpolation=cv2.INTER_AREA)
        self._writer.append_data(small[: small.shape[0] // 2 * 2, : small.shape[1] // 2 * 2])  # H.264: even sizes

    def close(self) -> None:
        self._writer.close()
