"""One closed-loop episode of a planner in a scenario, with an optional video of what the cameras saw."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import imageio.v2 as imageio
import numpy as np

import occsim
from occsim.envs.occsim_env import OccSimEnv
from occsim.planners import make_planner
from occsim.scenario import Scenario


@dataclass(frozen=True)
class EpisodeResult:
    """The outcome of one run, JSON-ready."""

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
    version: str = occsim.__version__

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        return asdict(self)


def run_episode(
    scenario: Scenario,
    planner: str,
    weather: str | None = None,
    renderer: str = "raster",
    seed: int = 0,
    camera_hw: tuple[int, int] = (256, 448),
    video: str | Path | None = None,
    last_frame: str | Path | None = None,
) -> EpisodeResult:
    """Drive ``planner`` through ``scenario`` until collision, goal or time-out.

    Args:
        scenario: the scenario to run.
        planner: registered planner name.
        weather: weather override, None for the scenario's own.
        renderer: registered renderer name.
        seed: reset seed (jitter and weather effects).
        camera_hw: camera image size.
        video: write the mosaic + bird's-eye video here (mp4).
        last_frame: write the final mosaic + bird's-eye frame here (png), the moment of impact if any.
    """
    agent = make_planner(planner)
    want_pictures = video is not None or last_frame is not None
    env = OccSimEnv(
        scenario=scenario,
        weather=weather,
        camera_hw=camera_hw,
        renderer=renderer,
        privileged=agent.privileged,
        render_mode="rgb_array" if want_pictures else None,
    )
    start = time.perf_counter()
    obs, info = env.reset(seed=seed)
    agent.reset(info)
    frames = [env.render()] if want_pictures else []
    offroad, steps, terminated, truncated = bool(info["offroad"]), 0, False, False
    while not (terminated or truncated):
        obs, _, terminated, truncated, info = env.step(agent.plan(obs))
        steps += 1
        offroad = offroad or bool(info["offroad"])
        if want_pictures:
            frames.append(env.render())
    wall = time.perf_counter() - start
    if video is not None:
        Path(video).parent.mkdir(parents=True, exist_ok=True)
        imageio.mimwrite(str(video), [_even(f) for f in frames], fps=int(round(1 / scenario.dt)), macro_block_size=1)
    if last_frame is not None:
        Path(last_frame).parent.mkdir(parents=True, exist_ok=True)
        imageio.imwrite(str(last_frame), frames[-1])
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
    )


def _even(frame: np.ndarray) -> np.ndarray:
    """Crop to even height and width, as H.264 wants."""
    h, w = frame.shape[:2]
    return frame[: h - h % 2, : w - w % 2]
