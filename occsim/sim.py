"""The closed loop: a world, a renderer and a history; ``reset(scenario, seed)`` and ``step(action)``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from occsim.metrics.collision import Collision, check_collision
from occsim.metrics.occupancy import occupancy_iou
from occsim.metrics.recall import Sighting, sightings
from occsim.scenario import Scenario, build_world, weather_of
from occsim.sensors import make_renderer
from occsim.sensors.renderer import Renderer
from occsim.types import (
    DEFAULT_CAMERA_HW,
    SUBSTEP,
    CameraFrames,
    CameraRig,
    HistoryStep,
    Trajectory,
    Weather,
    check_camera_hw,
)
from occsim.world.ego import Control, TrajectoryTracker, footprint_corners
from occsim.world.world import World


@dataclass(frozen=True)
class StepOutcome:
    """What one env step produced."""

    frames: CameraFrames | None
    collision: Collision | None
    offroad: bool
    goal_reached: bool
    timed_out: bool
    progress: float  # [m]
    route_completion: float  # [0, 1]
    perceived_occupancy_miou: float | None = None  # the perception meter's score of the views, when it is on
    sightings: tuple[Sighting, ...] | None = None  # actors visible within 40 m and whether the meter found them
    stopped: bool = False  # the scenario ended itself (an OpenSCENARIO storyboard's stop trigger)


class Simulation:
    """Runs one scenario at a time in closed loop.

    Args:
        renderer: a registered renderer name, or a built renderer.
        camera_hw: image size of a named renderer's cameras [px].
        render: render frames at all (off: geometry and scores only).
        renderer_kwargs: options for a named renderer.
        perception_meter: score every frame with the occupancy perception model (``True``: the shipped one; a
            path: a ``train-perception`` folder): ``StepOutcome.perceived_occupancy_miou`` and ``sightings``.
    """

    def __init__(
        self,
        renderer: str | Renderer = "raster",
        camera_hw: tuple[int, int] = DEFAULT_CAMERA_HW,
        render: bool = True,
        renderer_kwargs: dict | None = None,
        perception_meter: bool | str | Path = False,
    ):
        self.camera_hw = check_camera_hw(camera_hw)
        self.renderer_name = renderer if isinstance(renderer, str) else None
        self.renderer_kwargs = dict(renderer_kwargs or {})
        self.rig = CameraRig.nuscenes(camera_hw) if isinstance(renderer, str) else renderer.rig
        self.renderer = (
            make_renderer(renderer, self.rig, **self.renderer_kwargs) if isinstance(renderer, str) else renderer
        )
        self.render_enabled = render
        self.meter = _load_meter(perception_meter)
        self.tracker = TrajectoryTracker()
        self.world: World | None = None
        self.scenario: Scenario | None = None
        self.weather = Weather()
        self.seed = 0
        self.steps = 0
        self.history: list[HistoryStep] = []
        self.frames: CameraFrames | None = None
        self._occupancy: np.ndarray | None = None  # cut when first asked for after the world changed
        self.collision: Collision | None = None
        self.offroad = False

    def reset(self, scenario: Scenario, seed: int | None = None, weather: Weather | None = None) -> StepOutcome:
        """Build the scenario's world (jittered by ``seed``) and render the first frame."""
        self.start(scenario, seed, weather)
        return self.observe()

    def start(self, scenario: Scenario, seed: int | None = None, weather: Weather | None = None) -> None:
        """``reset`` without the frame: build the world; ``observe`` renders it (the batched env renders many)."""
        self.scenario = scenario
        self.seed = 0 if seed is None else int(seed)
        self.world = build_world(scenario, seed)
        self._occupancy = None
        self._use_rig(self.world.rig.resized(self.camera_hw) if self.world.rig else CameraRig.nuscenes(self.camera_hw))
        self.weather = weather or weather_of(scenario)
        self.renderer.reset(self.world)
        self.tracker.reset()
        self.steps = 0
        self.collision = None
        self.offroad = self._offroad()
        self.history = [self._record(None, (self.world.ego,), None, self.offroad)]

    def _use_rig(self, rig: CameraRig) -> None:
        """Render with ``rig`` (a logged scene's real cameras, or the default); a named renderer is rebuilt."""
        if self.renderer_name is None or (
            np.array_equal(rig.intrinsics, self.rig.intrinsics) and np.array_equal(rig.cam2ego, self.rig.cam2ego)
        ):
            return
        self.rig = rig
        self.renderer = make_renderer(self.renderer_name, rig, **self.renderer_kwargs)

    @property
    def max_steps(self) -> int:
        """Env steps in the scenario's duration."""
        assert self.scenario is not None
        return int(round(self.scenario.duration / self.scenario.dt))

    def step(self, action: Trajectory | Control) -> StepOutcome:
        """Track ``action`` for one env step at 10 Hz substeps, stopping at the first collision; then render."""
        self.advance(action)
        return self.observe()

    def advance(self, action: Trajectory | Control) -> None:
        """``step`` without the frame: move the world one env step; ``observe`` renders it."""
        world, scenario = self.world, self.scenario
        if world is None or scenario is None:
            raise RuntimeError("call reset() before step()")
        if isinstance(action, Control) and not np.isfinite([action.acceleration, action.steering]).all():
            raise ValueError(f"invalid control: acceleration and steering must be finite, got {action}")
        if isinstance(action, Trajectory):
            self.tracker.set_trajectory(action, world.ego)
        substeps = max(1, int(round(scenario.dt / SUBSTEP)))
        dt = scenario.dt / substeps
        collision, offroad, trace = None, False, []
        for k in range(substeps):
            control = self.tracker.control(world.ego, k * dt) if isinstance(action, Trajectory) else action
            world.step(dt, control)
            trace.append(world.ego)
            offroad = offroad or self._offroad()
            collision = check_collision(world.ego, world.actor_states(), world.static)
            if collision is not None or world.finished:
                break
        self.steps += 1
        self.collision, self.offroad = collision, offroad
        self._occupancy = None
        self.history.append(
            self._record(action if isinstance(action, Trajectory) else None, tuple(trace), collision, offroad)
        )

    def _record(self, plan: Trajectory | None, trace: tuple, collision: Collision | None, offroad: bool) -> HistoryStep:
        world = self.world
        assert world is not None
        return HistoryStep(
            t=world.t,
            ego=world.ego,
            actors=tuple(world.actor_states()),
            plan=plan,
            ego_trace=trace,
            collided_with=collision.with_id if collision else None,
            collided_class=collision.with_class if collision else None,
            impact_speed=collision.impact_speed if collision else 0.0,
            offroad=offroad,
            progress=world.route.progress(world.ego),
            route_length=world.route.length,
        )

    def _offroad(self) -> bool:
        assert self.world is not None
        return not bool(np.all(self.world.road_map.is_drivable(footprint_corners(self.world.ego.pose))))

    @property
    def frame_seed(self) -> int:
        """The seed of the current frame's weather noise: the run's seed and the step, so frames repeat exactly."""
        return int(np.random.SeedSequence([self.seed, self.steps]).generate_state(1)[0])

    def observe(self, frames: CameraFrames | None = None) -> StepOutcome:
        """The outcome of the last ``start`` or ``advance``, with its frame: ``frames`` if given, else rendered."""
        world = self.world
        assert world is not None
        if frames is None and self.render_enabled:
            frames = self.renderer.render(world, self.weather, self.frame_seed)
        self.frames = frames
        perceived, seen = self._perceive() if self.frames is not None and self.meter is not None else (None, None)
        progress = world.route.progress(world.ego)
        completion = min(max(progress / max(world.route.length, 1e-6), 0.0), 1.0)
        return StepOutcome(
            frames=self.frames,
            collision=self.collision,
            offroad=self.offroad,
            goal_reached=completion >= 1.0,
            timed_out=self.steps >= self.max_steps,
            progress=progress,
            route_completion=completion,
            perceived_occupancy_miou=perceived,
            sightings=seen,
            stopped=world.finished,
        )

    @property
    def occupancy(self) -> np.ndarray | None:
        """The Occ3D window around the ego of the world as it is now; None before the first ``reset``.

        Cut on first use (privileged observations, the perception meter): a camera-only run never pays for it.
        """
        if self._occupancy is None and self.world is not None:
            self._occupancy = self.world.occupancy()
        return self._occupancy

    def _perceive(self) -> tuple[float, tuple[Sighting, ...]]:
        """What the meter perceives in the frames: its mIoU against the world's window, and which actors it found."""
        from occsim.generative.models.perception import coarsen_occupancy

        world = self.world
        assert self.meter is not None and self.frames is not None and self.occupancy is not None and world is not None
        perceived = self.meter.perceive(self.frames.rgb, self.rig)
        truth = coarsen_occupancy(self.occupancy, tuple(self.meter.model.config.coarse))
        seen = sightings(world.actor_states(), world.ego.pose, self.frames, self.rig, perceived)
        return occupancy_iou(perceived, truth)["miou"], tuple(seen)


def _load_meter(choice: bool | str | Path):
    """The perception meter ``choice`` names, or None; imported here so plain runs never load torch models."""
    if choice is False or choice is None:
        return None
    from occsim.generative.models.perception import PerceptionMeter

    return PerceptionMeter.load(None if choice is True else choice)
