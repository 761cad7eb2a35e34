"""``OccSimEnv``: a thin Gymnasium adapter over ``Simulation``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from occsim.classes import FREE
from occsim.envs.reward import RewardWeights, reward_terms
from occsim.envs.spaces import ActionBox, BoundedActionBox
from occsim.envs.visualize import frame_image
from occsim.geometry import along_route
from occsim.scenario import Scenario
from occsim.sensors.renderer import Renderer
from occsim.sim import Simulation, StepOutcome
from occsim.types import (
    ACTOR_COLUMNS,
    COMMANDS,
    DEFAULT_CAMERA_HW,
    EGO_COLUMNS,
    MAX_ACTORS,
    OCC3D_GRID,
    POSE_SIZE,
    ROUTE_ACTION,
    ROUTE_POINTS,
    ROUTE_SPACING,
    WAYPOINT_RANGE,
    WAYPOINTS,
    Trajectory,
    Weather,
)
from occsim.world.ego import control_from_normalised

ScenarioArg = str | Path | Scenario | list


ACTION_TYPES = ("waypoints", "control", "route")


class OccSimEnv(gym.Env):
    """Six rendered cameras in, a trajectory (or controls) out, in corner-case scenarios.

    Args:
        scenario: built-in name, YAML path, Scenario, or a list of them (one drawn per reset); default the suite.
        weather: overrides every scenario's weather (the weather ids set it); None keeps each scenario's own.
        camera_hw: image (height, width) [px].
        renderer: registered renderer name, or a built renderer (the batched vector env shares one).
        renderer_kwargs: the renderer's options, e.g. ``{"steps": 10, "device": "cuda"}`` for ``syntheocc``.
        action_type: ``waypoints`` (6 x 2 ego-frame metres), ``control`` (normalised acceleration, steering) or
            ``route`` (normalised speed and lateral offset along the route ahead: ``ROUTE_ACTION``; for RL).
        privileged: add the occupancy window, the actor table, the ego pose and the goal to observations.
        perception_meter: add ``info["perceived_occupancy_miou"]`` each step: the occupied-class mIoU between the
            world's occupancy window and what the occupancy perception model sees in the rendered views (``True``:
            the shipped model; a path: a ``train-perception`` folder), and ``info["sightings"]``: the actors within
            40 m the raster geometry shows, each a ``Sighting`` (class, distance, found by the model).
        render_mode: None or ``rgb_array``.
        reward: weights of the reward terms, a dict or ``RewardWeights`` (see ``occsim.envs.reward``; default:
            0.1 per metre of progress, -10 and -1 per m/s of impact speed on a collision, -1 per step off the
            road, -0.1 per m/s² beyond nuPlan's comfortable accelerations).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(
        self,
        scenario: ScenarioArg | None = None,
        weather: str | None = None,
        camera_hw: tuple[int, int] = DEFAULT_CAMERA_HW,
        renderer: str | Renderer = "raster",
        renderer_kwargs: dict | None = None,
        action_type: str = "waypoints",
        privileged: bool = False,
        render_mode: str | None = None,
        perception_meter: bool | str = False,
        reward: RewardWeights | dict | None = None,
    ):
        if action_type not in ACTION_TYPES:
            raise ValueError(f"action_type must be one of {', '.join(ACTION_TYPES)}, got {action_type!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.reward_weights = RewardWeights.from_kwargs(reward)
        self.scenarios = _resolve(scenario)
        self.weather = Weather(weather) if weather else None
        self.action_type = action_type
        self.privileged = privileged
        self.render_mode = render_mode
        self.sim = Simulation(
            renderer=renderer,
            camera_hw=tuple(camera_hw),
            renderer_kwargs=renderer_kwargs,
            perception_meter=perception_meter,
        )
        self._intrinsics = self.sim.rig.intrinsics.astype(np.float32)
        self._cam2ego = self.sim.rig.cam2ego.astype(np.float32)
        h, w = self.sim.rig.hw
        n = len(self.sim.rig.names)
        obs: dict[str, spaces.Space] = {
            "images": spaces.Box(0, 255, (n, h, w, 3), np.uint8),
            "ego": spaces.Box(-np.inf, np.inf, (len(EGO_COLUMNS),), np.float32),
            "command": spaces.Discrete(len(COMMANDS)),
            "intrinsics": spaces.Box(-np.inf, np.inf, (n, 3, 3), np.float32),
            "cam2ego": spaces.Box(-np.inf, np.inf, (n, 4, 4), np.float32),
            "ego_pose": spaces.Box(-np.inf, np.inf, (POSE_SIZE,), np.float32),
        }
        if privileged:
            obs["occupancy"] = spaces.Box(0, FREE, OCC3D_GRID.shape, np.uint8)
            obs["actors"] = spaces.Box(-np.inf, np.inf, (MAX_ACTORS, len(ACTOR_COLUMNS)), np.float32)
            obs["goal"] = spaces.Box(-np.inf, np.inf, (2,), np.float32)
            obs["route"] = spaces.Box(-np.inf, np.inf, (ROUTE_POINTS, 2), np.float32)
        self.observation_space = spaces.Dict(obs)
        if action_type == "waypoints":
            self.action_space = BoundedActionBox(-WAYPOINT_RANGE, WAYPOINT_RANGE, (WAYPOINTS, 2), np.float32)
        else:  # control, route: two normalised numbers
            self.action_space = ActionBox(-1.0, 1.0, (ROUTE_ACTION.size,), np.float32)
        self._scenario: Scenario | None = None
        self._last_plan: Trajectory | None = None
        self._progress = 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a scenario: ``options={"scenario": ...}`` switches to another one."""
        self.begin_reset(seed=seed, options=options)
        return self.end_reset(self.sim.observe())

    def step(self, action):
        """Apply a trajectory or a control for one env step (``dt`` of the scenario)."""
        self.begin_step(action)
        return self.end_step(self.sim.observe())

    # The batched vector env (``occsim.envs.vector``) runs each half for every world and renders in between, so
    # its worlds go through exactly this code.
    def begin_reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """``reset`` up to the frame: draw the scenario and build its world."""
        super().reset(seed=seed)
        if options and "scenario" in options:
            self.scenarios = _resolve(options["scenario"])
        self._scenario = self.scenarios[int(self.np_random.integers(len(self.scenarios)))]
        run_seed = int(self.np_random.integers(2**31 - 1))
        self.sim.start(self._scenario, seed=run_seed, weather=self.weather)

    def end_reset(self, outcome: StepOutcome) -> tuple[dict[str, Any], dict[str, Any]]:
        """``reset`` from the frame on: the observation and info of the observed start."""
        self._intrinsics = self.sim.rig.intrinsics.astype(np.float32)
        self._cam2ego = self.sim.rig.cam2ego.astype(np.float32)
        self._last_plan = None
        self._progress = outcome.progress
        info = self._info(outcome)
        if self.privileged:
            info["road"] = self.sim.world.layout()
        return self._observation(), info

    def begin_step(self, action) -> None:
        """``step`` up to the frame: check the action and move the world."""
        if self._scenario is None:
            raise RuntimeError("call reset() before step()")
        if self.action_type == "waypoints":
            points = action if isinstance(action, Trajectory) else self.action_space.check(action, "waypoints action")
            try:
                plan = points if isinstance(points, Trajectory) else Trajectory(points)
            except (ValueError, TypeError) as e:
                raise ValueError(f"invalid waypoints action: {e}") from None
            self._last_plan = plan
            self.sim.advance(plan)
            return
        meaning = "(acceleration, steering)" if self.action_type == "control" else "(speed, offset)"
        try:  # shape, dtype and finiteness, as the vector envs check a whole batch
            pair = self.action_space.check(action, f"{self.action_type} action")
        except ValueError as e:
            raise ValueError(f"{e}: 2 finite values {meaning}") from None
        if self.action_type == "control":
            self.sim.advance(control_from_normalised(pair))
            return
        self._last_plan = route_trajectory(self.sim.world, pair)
        self.sim.advance(self._last_plan)

    def end_step(self, outcome: StepOutcome) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """``step`` from the frame on: observation, reward, end flags and info of the observed step."""
        terms = reward_terms(outcome, self._progress, self.sim.history[-1].ego_trace, self.reward_weights)
        self._progress = outcome.progress
        terminated = outcome.collision is not None or outcome.goal_reached or outcome.stopped
        truncated = outcome.timed_out and not terminated
        info = self._info(outcome)
        info["reward_terms"] = terms
        return self._observation(), float(sum(terms.values())), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """The six views beside a bird's-eye view (``rgb_array``)."""
        if self.render_mode != "rgb_array" or self.sim.frames is None:
            return None
        caption = f"{self._scenario.name}  t={self.sim.world.t:4.1f}s  v={self.sim.world.ego.speed:4.1f}m/s"
        return frame_image(self.sim.frames.rgb, self.sim.world, self._last_plan, caption)

    def _observation(self) -> dict[str, Any]:
        sim, world = self.sim, self.sim.world
        ego = world.ego
        obs: dict[str, Any] = {
            "images": sim.frames.rgb,
            "ego": np.array([ego.speed, ego.acceleration, ego.yaw_rate, ego.steering], dtype=np.float32),
            "command": world.route.command_at(ego),
            "intrinsics": self._intrinsics.copy(),
            "cam2ego": self._cam2ego.copy(),
            "ego_pose": np.array([ego.pose.x, ego.pose.y, ego.pose.yaw], dtype=np.float32),
        }
        if self.privileged:
            obs["occupancy"] = sim.occupancy
            obs["actors"] = self._actor_table()
            obs["goal"] = ego.pose.to_local(np.asarray(world.route.goal)).astype(np.float32)
            obs["route"] = route_ahead(world)
        return obs

    def _actor_table(self) -> np.ndarray:
        """Actors nearest first, in the ego frame: see ACTOR_COLUMNS."""
        world = self.sim.world
        ego = world.ego.pose
        table = np.zeros((MAX_ACTORS, len(ACTOR_COLUMNS)), dtype=np.float32)
        states = world.actor_states()
        if not states:
            return table
        centres = ego.to_local(np.array([[a.pose.x, a.pose.y] for a in states]))
        order = np.argsort(np.hypot(centres[:, 0], centres[:, 1]))[:MAX_ACTORS]
        c, s = np.cos(ego.yaw), np.sin(ego.yaw)
        for row, k in enumerate(order):
            a = states[k]
            vx, vy = a.velocity
            table[row] = (
                1.0,
                a.cls,
                *centres[k],
                a.pose.yaw - ego.yaw,
                a.speed,
                c * vx + s * vy,
                -s * vx + c * vy,
                *a.size,
            )
        return table

    def _info(self, outcome: StepOutcome) -> dict[str, Any]:
        col = outcome.collision
        info = {
            "collision": col is not None,
            "collided_with": col.with_id if col else None,
            "impact_speed": col.impact_speed if col else 0.0,
            "offroad": outcome.offroad,
            "progress": outcome.progress,
            "route_completion": outcome.route_completion,
            "scenario": self._scenario.name if self._scenario else None,
            "t": self.sim.world.t,
            "stopped": outcome.stopped,
        }
        if self.sim.world.director is not None:
            info["openscenario"] = self.sim.world.director.report()
        if self.sim.meter is not None:
            info["perceived_occupancy_miou"] = outcome.perceived_occupancy_miou
            info["sightings"] = outcome.sightings
        return info


def route_ahead(world) -> np.ndarray:
    """The privileged ``route`` observation: (ROUTE_POINTS, 2) float32 points ahead, ego frame."""
    ego = world.ego
    return ego.pose.to_local(world.route.ahead(ego, ROUTE_POINTS, ROUTE_SPACING)).astype(np.float32)


def route_trajectory(world, action: np.ndarray) -> Trajectory:
    """A ``route`` action: (speed, offset) in [-1, 1] to waypoints along the route ahead (``ROUTE_ACTION``).

    It reads the same float32 route a privileged observation carries, so a planner that maps its action through
    ``occsim.geometry.along_route`` on that observation drives exactly as the env does.
    """
    speed, offset = np.clip(action, -1.0, 1.0)
    return along_route(route_ahead(world), ROUTE_ACTION.speed(speed), ROUTE_ACTION.offset(offset))


def _resolve(scenario: ScenarioArg | None) -> list[Scenario]:
    from occsim.scenarios import load_builtin_suite, load_scenarios

    if scenario is None:
        return load_builtin_suite()
    items = scenario if isinstance(scenario, list) else [scenario]
    if not items:
        raise ValueError("scenario list is empty")
    return [one for s in items for one in ([s] if isinstance(s, Scenario) else load_scenarios(s))]


__all__ = ["ACTOR_COLUMNS", "EGO_COLUMNS", "MAX_ACTORS", "OccSimEnv"]
