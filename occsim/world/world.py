"""The world state: road map, static background, actors and the ego, advanced by ``World.step``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occsim.types import ActorState, CameraRig, EgoState, LaneGeometry, RoadLayout
from occsim.world.actors import Actor, StepContext
from occsim.world.background import StaticWorld
from occsim.world.ego import EGO_CENTRE_OFFSET, EGO_SIZE, Control, bicycle_step
from occsim.world.occupancy import occupancy_window
from occsim.world.roadmap import Lane, Road, RoadMap
from occsim.world.routes import route_command
from occsim.world.storyboard.director import Director


@dataclass
class Route:
    """The ego's route: a lane from a start station to a goal station."""

    lane: Lane  # a map lane, or (a route that turns) the one lane of a road along the route
    start_s: float  # [m]
    goal_s: float  # [m]
    command: int | None  # planner command (0 right, 1 left, 2 straight); None: derived from the route (VAD's rule)
    command_profile: tuple[np.ndarray, np.ndarray] | None = None  # (stations [m], commands): command by progress
    turns: tuple[str, ...] = ()  # the turn at each junction met, as the scenario gives them

    def command_at(self, ego: EgoState) -> int:
        """The command where the ego is: a logged profile's, the fixed ``command``, or VAD's rule on the route."""
        if self.command_profile is None:
            return route_command(self.lane, ego.pose, ego.speed) if self.command is None else self.command
        stations, commands = self.command_profile
        station, _ = self.lane.road.project(np.array([[ego.pose.x, ego.pose.y]]))
        k = int(np.searchsorted(stations, station[0] * self.lane.direction, side="right")) - 1
        return int(commands[max(0, min(k, len(commands) - 1))])

    @property
    def length(self) -> float:
        """Route length [m]."""
        return abs(self.goal_s - self.start_s)

    def progress(self, ego: EgoState) -> float:
        """Distance travelled along the route [m] (negative when behind the start)."""
        station, _ = self.lane.road.project(np.array([[ego.pose.x, ego.pose.y]]))
        return float((station[0] - self.start_s) * self.lane.direction)

    def centreline(self, spacing: float = 1.0) -> np.ndarray:
        """The route (N, 2) from the start to the goal in the driving direction, world frame [m]."""
        lo, hi = sorted((self.start_s, self.goal_s))
        points = self.lane.road.to_world(np.arange(lo, hi + 1e-9, spacing), self.lane.lateral)
        return points if self.lane.direction > 0 else points[::-1]

    def ahead(self, ego: EgoState, count: int, spacing: float) -> np.ndarray:
        """(count, 2) world points along the route from the ego's station on, ``spacing`` apart, held at the goal."""
        travelled = min(max(self.progress(ego), 0.0), self.length)
        along = np.minimum(travelled + spacing * np.arange(count), self.length)
        return self.lane.road.to_world(self.start_s + self.lane.direction * along, self.lane.lateral)

    @property
    def goal(self) -> tuple[float, float]:
        """Goal position, world frame [m]."""
        x, y, _ = self.lane.pose_at(self.goal_s)
        return (x, y)


@dataclass
class World:
    """Everything that exists in a scenario at one instant."""

    road_map: RoadMap
    static: StaticWorld
    actors: list[Actor]
    ego: EgoState
    route: Route
    t: float = 0.0  # [s]
    rig: CameraRig | None = None  # a logged scene's real cameras (None: the nuScenes-like default rig)
    director: Director | None = None  # an OpenSCENARIO storyboard that moves the actors (and a scripted ego)
    speed_limit: float = 13.9  # [m/s] what privileged planners may drive

    def step(self, dt: float, control: Control) -> None:
        """Advance actors (on the state at the start of the step) and the ego by ``dt`` seconds."""
        if self.director is not None:
            before = self.ego
            self.actors = self.director.step(self.ego, dt)
            self.ego = (
                self.director.ego_state(before, dt) if self.director.scripted else bicycle_step(self.ego, control, dt)
            )
            self.t += dt
            return
        ctx = StepContext(self.t, self.ego, EGO_SIZE[:2], EGO_CENTRE_OFFSET, self.actors, self.road_map)
        for actor in self.actors:
            actor.behavior.step(actor, ctx, dt)
        self.ego = bicycle_step(self.ego, control, dt)
        self.t += dt

    @property
    def finished(self) -> bool:
        """Whether the scenario has ended itself (an OpenSCENARIO storyboard's stop trigger)."""
        return self.director is not None and self.director.finished

    def actor_states(self) -> list[ActorState]:
        """Snapshots of all actors."""
        return [a.state() for a in self.actors]

    def occupancy(self) -> np.ndarray:
        """The ego-centred Occ3D window (200, 200, 16) uint8."""
        return occupancy_window(self.static, self.actor_states(), self.ego.pose)

    def layout(self) -> RoadLayout:
        """The map as privileged planners see it."""
        route_lane = [] if self.route.lane.road in self.road_map.roads else [self.route.lane]  # a route that turns
        lanes = tuple(
            LaneGeometry(lane.id, lane.road.index, lane.index, lane.centreline(*_layout_span(lane.road)), lane.width)
            for lane in [*self.road_map.lanes(), *route_lane]
        )
        return RoadLayout(
            lanes=lanes,
            route_lane=self.route.lane.id,
            goal=self.route.goal,
            route=self.route.centreline(),
            turns=self.route.turns,
            crosswalks=tuple(c.outline() for c in self.road_map.crosswalks),
            map_kind=self.road_map.kind,
            speed_limit=self.speed_limit,
        )


def _layout_span(road: Road) -> tuple[float, float]:
    """Stations of a lane's polyline for planners.

    60 m past the road's ends, unless it ends at a junction (a stem) or is an OpenDRIVE lane (it ends with the file).
    """
    if not road.extrapolate:
        return float(road.stations[0]), float(road.stations[-1])
    return -60.0, road.length + (60.0 if road.end_run_out > 0 else 0.0)
