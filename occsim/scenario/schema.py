"""The scenario YAML language, version 1, as pydantic models. Unknown keys are errors."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from occsim.classes import ACTOR_CLASSES

ActorClass = Literal[
    "car",
    "truck",
    "bus",
    "trailer",
    "construction_vehicle",
    "pedestrian",
    "motorcycle",
    "bicycle",
    "traffic_cone",
    "barrier",
]
assert set(ActorClass.__args__) == set(ACTOR_CLASSES)  # type: ignore[attr-defined]


PATH_PATTERN = r"^[^\x00]*$"  # a file or folder path: no NUL, which no operating system can open


class Strict(BaseModel):
    """Base: unknown keys rejected, every float finite, values validated on assignment."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StraightMap(Strict):
    """A straight road along +x."""

    type: Literal["straight"]
    lanes: int = Field(2, ge=1, le=6, description="Lanes in the ego's direction.")
    oncoming_lanes: int = Field(1, ge=0, le=6, description="Lanes in the opposite direction.")
    lane_width: float = Field(3.5, ge=2.5, le=5.0, description="Lane width [m].")
    length: float = Field(250.0, gt=20.0, le=2000.0, description="Road length [m].")


class CurveMap(StraightMap):
    """A road of constant curvature; positive radius turns left."""

    type: Literal["curve"]  # type: ignore[assignment]
    radius: float = Field(80.0, description="Curve radius [m]; positive turns left, negative right.")

    @model_validator(mode="after")
    def _radius_fits(self) -> CurveMap:
        if abs(self.radius) < 15.0:
            raise ValueError(f"radius {self.radius} is too tight; |radius| must be at least 15 m")
        return self


class IntersectionMap(StraightMap):
    """A 4-way crossing: road 0 along +x, road 1 along +y through its midpoint."""

    type: Literal["intersection"]  # type: ignore[assignment]
    lanes: int = Field(1, ge=1, le=6, description="Lanes in each road's forward direction.")
    length: float = Field(200.0, gt=20.0, le=2000.0, description="Length of each road [m].")
    crosswalks: bool = Field(True, description="Zebra crossings on every arm of the junction.")


class TJunctionMap(StraightMap):
    """A T: road 0 along +x; road 1, the stem, runs down from +y and ends at road 0 at its midpoint."""

    type: Literal["t_junction"]  # type: ignore[assignment]
    lanes: int = Field(
        1, ge=1, le=6, description="Lanes in each road's forward direction (the stem's: towards road 0)."
    )
    length: float = Field(200.0, gt=20.0, le=2000.0, description="Length of road 0 [m]; the stem is half as long.")
    crosswalks: bool = Field(True, description="Zebra crossings on every arm of the junction.")


class NuScenesMap(Strict):
    """A logged nuScenes scene: its map, its agents and its ego path (needs ``ego: {from_log: true}``)."""

    type: Literal["nuscenes"]
    dataroot: str = Field(
        pattern=PATH_PATTERN, description="nuScenes dataroot (the folder holding the version folder, maps/, samples/)."
    )
    version: str = Field("v1.0-mini", description="Table folder, e.g. v1.0-mini or v1.0-trainval.")
    scene: str = Field(description="Scene name, e.g. scene-0061.")
    start_sample: int = Field(0, ge=0, description="Keyframe (2 Hz) the episode starts at.")
    agents: Literal["log", "reactive"] = Field("log", description="Logged agents replay, or drive with IDM.")


class OpenDriveMap(Strict):
    """An ASAM OpenDRIVE road network (1.4-1.8): its roads, lanes, junctions, road marks and objects, laid flat."""

    type: Literal["opendrive"]
    file: str = Field(
        min_length=1,
        pattern=PATH_PATTERN,
        description="The .xodr file; a relative path is relative to the scenario file.",
    )
    scenery: Literal["town", "none"] = Field(
        "town", description="town: buildings, trees and lamps along the roads; none: only the file's own objects."
    )


MapSpec = Annotated[
    StraightMap | CurveMap | IntersectionMap | TJunctionMap | NuScenesMap | OpenDriveMap, Field(discriminator="type")
]
RoadId = Annotated[int, Field(ge=0)] | Annotated[str, Field(min_length=1, max_length=200)]


class WeatherSpec(Strict):
    """Weather: clear | fog (visibility m) | rain (intensity 0-1) | snow (intensity 0-1) | night | sandstorm."""

    type: Literal["clear", "fog", "rain", "snow", "night", "sandstorm"] = "clear"
    visibility: float | None = Field(None, gt=0.0, description="Meteorological visibility [m], fog and sandstorm.")
    intensity: float | None = Field(None, ge=0.0, le=1.0, description="Precipitation strength, rain and snow.")
    prompt: str | None = Field(
        None, min_length=1, max_length=300, description="Text for the diffusion renderers (default: from the type)."
    )

    @model_validator(mode="after")
    def _fields_fit_type(self) -> WeatherSpec:
        if self.visibility is not None and self.type not in ("fog", "sandstorm"):
            raise ValueError(f"visibility applies to fog and sandstorm, not {self.type}")
        if self.intensity is not None and self.type not in ("rain", "snow"):
            raise ValueError(f"intensity applies to rain and snow, not {self.type}")
        return self


class EgoSpec(Strict):
    """Where the ego starts and where it must go."""

    lane: int = Field(
        0,
        description="Lane index: 0 rightmost of the ego's direction, -1 nearest oncoming lane (an opendrive map: "
        "the OpenDRIVE lane id, negative right of the reference line).",
    )
    road: RoadId = Field(0, description="Road index (intersection maps have roads 0 and 1; opendrive: the road id).")
    s: float = Field(0.0, description="Station along the road [m].")
    offset: float = Field(0.0, description="Lateral offset from the lane centre, left positive [m].")
    speed: float = Field(10.0, ge=0.0, le=40.0, description="Initial speed [m/s].")
    command: Literal["route", "straight", "left", "right", "follow"] = Field(
        "route",
        description="High-level command: 'route' derives it from the route as VAD and nuScenes do (the route 3 s "
        "ahead more than 2 m left or right), so it changes as a turn approaches; 'follow' takes it from a logged "
        "route; straight, left or right fix it.",
    )
    route: list[Literal["straight", "left", "right"]] = Field(
        default_factory=list,
        description="The turn taken at each junction the ego meets, in order (junctions beyond the list: straight).",
    )
    goal_s: float = Field(
        150.0,
        description="Goal in metres along the route from its road's station 0 (the road's station if straight; on an "
        "opendrive map, metres along the route from the ego's start).",
    )
    from_log: bool = Field(False, description="Start at the logged pose and speed of a nuScenes map (required there).")


class Trigger(Strict):
    """When a behaviour starts: after a time, or once the ego is close."""

    time_after: float | None = Field(None, ge=0.0, description="Simulation time [s].")
    ego_distance_below: float | None = Field(None, gt=0.0, description="Centre distance to the ego [m].")

    @model_validator(mode="after")
    def _one_condition(self) -> Trigger:
        if self.time_after is None and self.ego_distance_below is None:
            raise ValueError("a trigger needs time_after or ego_distance_below")
        return self


class StaticBehavior(Strict):
    """Stands still."""

    type: Literal["static"]


class ConstantBehavior(Strict):
    """Follows its lane at its initial speed."""

    type: Literal["constant"]


class IDMBehavior(Strict):
    """Intelligent Driver Model against whatever is ahead in its lane, the ego included."""

    type: Literal["idm"]
    target_speed: float | None = Field(None, gt=0.0, description="Desired speed [m/s]; default the initial speed.")
    time_headway: float = Field(1.5, gt=0.0, description="Desired time gap [s].")
    min_gap: float = Field(2.0, ge=0.0, description="Standstill gap [m].")
    when: Trigger | None = Field(None, description="Stand still until this fires (stop-and-go traffic).")


class CutInBehavior(Strict):
    """Changes into ``to_lane`` over ``duration`` once triggered."""

    type: Literal["cut_in"]
    to_lane: int = Field(description="Target lane index on the same road.")
    when: Trigger = Field(default_factory=lambda: Trigger(time_after=0.0), description="Start condition.")
    duration: float = Field(2.0, gt=0.0, description="Lane-change duration [s].")
    speed_after: float | None = Field(None, ge=0.0, description="Slow to this speed [m/s] once half-way across.")
    decel: float = Field(3.0, gt=0.0, le=10.0, description="Deceleration [m/s^2] towards speed_after.")


class CrossingBehavior(Strict):
    """Walks across the road once triggered."""

    type: Literal["crossing"]
    speed: float = Field(1.4, gt=0.0, le=10.0, description="Walking speed [m/s].")
    when: Trigger = Field(default_factory=lambda: Trigger(time_after=0.0), description="Start condition.")


class WaypointsBehavior(Strict):
    """Timed positions ``[t, s, offset]`` in the actor's lane coordinates."""

    type: Literal["waypoints"]
    points: list[tuple[float, float, float]] = Field(min_length=2, description="[[t, s, offset], ...], t increasing.")

    @model_validator(mode="after")
    def _increasing(self) -> WaypointsBehavior:
        times = [p[0] for p in self.points]
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ValueError("waypoint times must increase strictly")
        return self


BehaviorSpec = Annotated[
    StaticBehavior | ConstantBehavior | IDMBehavior | CutInBehavior | CrossingBehavior | WaypointsBehavior,
    Field(discriminator="type"),
]


class Repeat(Strict):
    """Copies of an actor placed ``ds`` further along and ``doffset`` further left each."""

    count: int = Field(ge=1, le=100, description="Number of copies, the first included.")
    ds: float = Field(0.0, description="Station step [m].")
    doffset: float = Field(0.0, description="Lateral step [m].")


class ActorSpec(Strict):
    """One actor (or a row of them with ``repeat``)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_\-]+$", description="Unique id.")
    type: ActorClass = Field(description="nuScenes object class.")
    lane: int = Field(0, description="Lane index on its road (an opendrive map: the OpenDRIVE lane id).")
    road: RoadId = Field(0, description="Road index (an opendrive map: the OpenDRIVE road id).")
    s: float = Field(description="Station of the box centre [m].")
    offset: float = Field(0.0, description="Lateral offset from the lane centre, left positive [m].")
    speed: float = Field(0.0, ge=0.0, le=40.0, description="Initial speed [m/s].")
    yaw: float = Field(0.0, description="Heading relative to the lane direction [rad].")
    size: tuple[float, float, float] | None = Field(
        None, description="(length, width, height) [m]; class mean if unset."
    )
    behavior: BehaviorSpec | None = Field(None, description="Motion; default constant when speed > 0 else static.")
    route: list[Literal["straight", "left", "right"]] = Field(
        default_factory=list,
        description="The turn taken at each junction met, as the ego's route (any lane, oncoming ones included); "
        "the actor's lane, s and behaviour then follow the turning path.",
    )
    repeat: Repeat | None = Field(None, description="Place a row of copies.")


class Remove(Strict):
    """Drop logged agents that would overlap inserted actors."""

    within: float = Field(gt=0.0, description="Box-to-box distance [m] under which a logged agent is dropped.")
    of: str = Field(description="Id of an inserted actor entry (all its repeat copies).")


class Jitter(Strict):
    """Per-run perturbation ranges (uniform, ±), drawn from the reset seed."""

    s: float = Field(0.0, ge=0.0, description="Station [m].")
    offset: float = Field(0.0, ge=0.0, description="Lateral offset [m].")
    speed: float = Field(0.0, ge=0.0, description="Speed [m/s].")


class OpenScenarioSpec(Strict):
    """An ASAM OpenSCENARIO 1.0-1.3 storyboard that moves the entities (``occsim convert`` writes this block)."""

    file: str = Field(
        min_length=1, pattern=PATH_PATTERN, description="The .xosc file the storyboard comes from (for records)."
    )
    variations: str | None = Field(
        None, pattern=PATH_PATTERN, description="The parameter variation file this run was drawn from."
    )
    parameters: dict[str, str] = Field(
        default_factory=dict, description="Values given to the file's top-level parameters for this run."
    )
    ego: str | None = Field(
        None, description="The entity the planner drives (default: Ego, hero, VUT or the first car)."
    )
    mode: Literal["planner", "scripted"] = Field(
        "planner", description="planner: the planner drives the ego; scripted: the ego follows the file's actions."
    )
    document: dict | None = Field(
        None, description="The OpenSCENARIO document in YAML form (None: read from ``file``)."
    )
    catalogs: dict[str, dict[str, dict]] = Field(
        default_factory=dict, description="The catalog entries the document uses, in YAML form (catalog -> entry)."
    )
    distribution: dict | None = Field(
        None,
        description="A ParameterValueDistribution in YAML form (Deterministic or Stochastic): the file is a sweep.",
    )


class Scenario(Strict):
    """A corner-case scenario, version 1."""

    version: Literal[1] = Field(1, description="Schema version.")
    name: str = Field(pattern=r"^[a-z0-9_]+$", description="Unique in a suite.")
    description: str = Field("", description="One sentence for people.")
    tags: list[str] = Field(default_factory=list, description="Free-form labels.")
    seed: int = Field(0, ge=0, description="Seed of the static background (buildings, trees).")
    map: MapSpec = Field(description="Road layout.")
    weather: WeatherSpec = Field(default_factory=WeatherSpec, description="Default weather.")
    ego: EgoSpec = Field(default_factory=EgoSpec, description="Ego start and goal.")
    duration: float = Field(15.0, gt=0.0, le=600.0, description="Episode length [s].")
    dt: float = Field(0.5, gt=0.0, le=5.0, description="Seconds per env step.")
    actors: list[ActorSpec] = Field(default_factory=list, description="Other road users and obstacles.")
    jitter: Jitter = Field(default_factory=Jitter, description="Per-run perturbations.")
    remove: Remove | None = Field(None, description="Logged agents to drop (nuScenes maps).")
    openscenario: OpenScenarioSpec | None = Field(
        None, description="An OpenSCENARIO storyboard (entities, Init, stories) on an opendrive map."
    )

    @model_validator(mode="after")
    def _log_fields_fit_map(self) -> Scenario:
        logged = self.map.type == "nuscenes"
        if logged and not self.ego.from_log:
            raise ValueError("a nuscenes map starts the ego from the log: set ego.from_log: true")
        if not logged and self.ego.from_log:
            raise ValueError("ego.from_log needs a nuscenes map")
        if not logged and self.ego.command == "follow":
            raise ValueError("command 'follow' takes the command from a log: it needs a nuscenes map")
        if logged and any(turn != "straight" for turn in self.ego.route):
            raise ValueError("ego.route does not apply to a nuscenes map: the ego's route is the logged one")
        if logged and any(turn != "straight" for actor in self.actors for turn in actor.route):
            raise ValueError("actor routes need a procedural map with junctions, not a nuscenes map")
        if not logged and self.remove is not None:
            raise ValueError("remove drops logged agents: it needs a nuscenes map")
        if self.openscenario is not None and self.map.type != "opendrive":
            raise ValueError("an openscenario storyboard runs on an opendrive map")
        if self.openscenario is not None and self.actors:
            raise ValueError("a scenario with an openscenario storyboard takes its entities from it, not from actors")
        return self
