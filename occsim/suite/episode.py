"""One closed-loop episode of a planner in a scenario, with its history, a video and a still of any collision."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import imageio.v2 as imageio
import numpy as np

import occsim
from occsim.envs.occsim_env import OccSimEnv
from occsim.planners import make_planner
from occsim.scenario import Scenario
from occsim.types import HistoryStep, Trajectory

VIDEO_SCALE = 0.5  # videos at half the frame size keep a suite's folder small


class PlannerError(RuntimeError):
    """The planner raised, timed out, or returned something that is not a trajectory."""


@dataclass(frozen=True)
class EpisodeResult:
    """The outcome of one run, JSON-ready (``history`` is kept out of ``to_dict``)."""

    scenario: str
    planner: str
    weather: str
    seed: int
    outcome: str  # collision | goal | timeout
    collision: bool
    collided_with: str | None
    impact_speed: float  # [m/s]
    offroad: bool  # off the drivable area at any step
    route_completion: float  # [0, 1]
    steps: int
    wall_time: float  # [s]
    renderer: str
    perceived_occupancy_miou: float | None = None  # mean over the frames, when the perception meter is on
    version: str = occsim.__version__
    history: list[HistoryStep] = field(default_factory=list, repr=False, compare=False)

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        out = asdict(self)
        out.pop("history")
        return out


def run_episode(
    scenario: Scenario,
    planner: str,
    weather: str | None = None,
    renderer: str = "raster",
    seed: int = 0,
    camera_hw: tuple[int, int] = (256, 448),
    video: str | Path | None = None,
    still: str | Path | None = None,
    planner_timeout: float | None = None,
    renderer_kwargs: dict | None = None,
    perception_meter: bool | str = False,
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
        planner_timeout: seconds one ``plan`` call may take (enforced in a process's main thread).
        renderer_kwargs: the renderer's options.
        perception_meter: score each frame with the occupancy perception model (see ``OccSimEnv``).

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
    obs, info = env.reset(seed=seed)
    agent.reset(info)
    frames = [env.render()] if pictures else []
    perceived = [info["perceived_occupancy_miou"]] if perception_meter else []
    offroad, steps, terminated, truncated = bool(info["offroad"]), 0, False, False
    while not (terminated or truncated):
        plan = _plan(agent, obs, planner_timeout, steps)
        obs, _, terminated, truncated, info = env.step(plan)
        steps += 1
        offroad = offroad or bool(info["offroad"])
        if perception_meter:
            perceived.append(info["perceived_occupancy_miou"])
        if pictures:
            frames.append(env.render())
    wall = time.perf_counter() - start
    if video is not None:
        _write_video(Path(video), frames, fps=1.0 / scenario.dt)
    if still is not None and info["collision"]:
        Path(still).parent.mkdir(parents=True, exist_ok=True)
        imageio.imwrite(str(still), frames[-1])
    outcome = "collision" if info["collision"] else "goal" if info["route_completion"] >= 1.0 else "timeout"
    return EpisodeResult(
        scenario=scenario.name,
        planner=planner,
        weather=env.sim.weather.kind,
        seed=seed,
        outcome=outcome,
        collision=bool(info["collision"]),
        collided_with=info["collided_with"],
        impact_speed=float(info["impact_speed"]),
        offroad=offroad,
        route_completion=float(info["route_completion"]),
        steps=steps,
        wall_time=round(wall, 3),
        renderer=renderer,
        perceived_occupancy_miou=round(float(np.nanmean(perceived)), 4) if perceived else None,
        history=list(env.sim.history),
    )


def _plan(agent, obs: dict, timeout: float | None, step: int) -> Trajectory:
    """Call the planner under a time limit and check what it returns."""
    try:
        with _time_limit(timeout):
            plan = agent.plan(obs)
    except _Timeout:
        raise PlannerError(f"planner '{agent.name}' took longer than {timeout:g} s at step {step}") from None
    except Exception as e:
        raise PlannerError(f"planner '{agent.name}' raised at step {step}: {e!r}") from e
    try:
        return plan if isinstance(plan, Trajectory) else Trajectory(np.asarray(plan, dtype=np.float64))
    except (ValueError, TypeError) as e:
        raise PlannerError(f"planner '{agent.name}' returned an invalid trajectory at step {step}: {e}") from None


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    """SIGALRM-based limit; a no-op without a limit or off the main thread (where signals cannot be used)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum, frame):
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    small = [cv2.resize(f, None, fx=VIDEO_SCALE, fy=VIDEO_SCALE, interpolation=cv2.INTER_AREA) for f in frames]
    # H.264 wants even sizes
    small = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in small]
    imageio.mimwrite(str(path), small, fps=fps, macro_block_size=1, codec="libx264", pixelformat="yuv420p")
