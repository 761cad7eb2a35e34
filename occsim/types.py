"""Frozen dataclasses that cross rooms: poses, states, trajectories, the camera rig, the road layout."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WAYPOINTS = 6  # planner output: waypoints per trajectory
WAYPOINT_DT = 0.5  # [s] spacing of planner waypoints
SUBSTEP = 0.1  # [s] the world's dynamics step: ego and actors move, and the ego trace is sampled, this often
VISION_INPUT_HW = (64, 112)  # (height, width) [px] the vision planner's network sees unless configured
DEFAULT_CAMERA_HW = (256, 448)  # (height, width) [px] of each camera view unless a run asks for another
CAMERA_HW_RANGE = ((8, 8), (1080, 1920))  # [px] smallest and largest camera image (height, width)
WAYPOINT_RANGE = 200.0  # [m] farthest a waypoint may lie from the ego: 3 s at 240 km/h; beyond is no plan at all

EGO_SIZE = (4.08, 1.85, 1.6)  # (length, width, height) [m] of the ego car
EGO_CENTRE_OFFSET = 1.3  # [m] footprint centre ahead of the rear axle (the ego origin)
EGO_FRONT = EGO_CENTRE_OFFSET + EGO_SIZE[0] / 2  # [m] front bumper ahead of the rear axle

COMMAND_RIGHT, COMMAND_LEFT, COMMAND_STRAIGHT = 0, 1, 2  # VAD's one-hot order
COMMANDS: dict[str, int] = {"right": COMMAND_RIGHT, "left": COMMAND_LEFT, "straight": COMMAND_STRAIGHT}

CAMERA_NAMES: tuple[str, ...] = (
    "CAM_FRONT_LEFT",
    "CAM_FRONT",
    "CAM_FRONT_RIGHT",
    "CAM_BACK_RIGHT",
    "CAM_BACK",
    "CAM_BACK_LEFT",
)


@dataclass(frozen=True)
class Pose2D:
    """A planar pose in the world frame."""

    x: float  # [m]
    y: float  # [m]
    yaw: float  # [rad], counter-clockwise from world x

    def to_local(self, points: np.ndarray) -> np.ndarray:
        """Express parent-frame points (N, 2) in this pose's local frame."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        d = np.asarray(points, dtype=np.float64) - (self.x, self.y)
        return np.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]], axis=-1)

    def to_parent(self, points: np.ndarray) -> np.ndarray:
        """Express local points (N, 2) in the parent frame."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        p = np.asarray(points, dtype=np.float64)
        return np.stack([self.x + c * p[..., 0] - s * p[..., 1], self.y + s * p[..., 0] + c * p[..., 1]], axis=-1)


@dataclass(frozen=True)
class EgoState:
    """Kinematic state of the ego car (rear-axle reference point)."""

    pose: Pose2D
    speed: float  # [m/s]
    acceleration: float = 0.0  # [m/s^2]
    yaw_rate: float = 0.0  # [rad/s]
    steering: float = 0.0  # [rad]


@dataclass(frozen=True)
class ActorState:
    """One actor as an upright oriented box standing on the ground."""

    id: str
    cls: int  # Occ3D class id
    pose: Pose2D  # box centre on the ground, world frame
    speed: float  # [m/s] along the heading
    size: tuple[float, float, float]  # (length, width, height) [m]
    velocity: tuple[float, float] = (0.0, 0.0)  # world frame [m/s]
    instance: int = 0  # stable index for colours and instance maps


@dataclass(frozen=True)
class Trajectory:
    """Planner output: waypoints in the ego frame at WAYPOINT_DT spacing."""

    points: np.ndarray  # (6, 2) float, ego frame [m]

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.shape != (WAYPOINTS, 2) or not np.all(np.isfinite(pts)):
            shown = np.array2string(pts, threshold=12, precision=3) if pts.size < 100 else f"shape {pts.shape}"
            raise ValueError(f"a trajectory is {WAYPOINTS} finite (x, y) waypoints, got {shown}")
        if np.abs(pts).max() > WAYPOINT_RANGE:
            k = int(np.abs(pts).max(axis=1).argmax())
            raise ValueError(
                f"waypoint {k} at ({pts[k, 0]:.4g}, {pts[k, 1]:.4g}) m is beyond the {WAYPOINT_RANGE:g} m a car can "
                f"cover in {WAYPOINTS * WAYPOINT_DT:g} s"
            )
        object.__setattr__(self, "points", pts)

    @classmethod
    def constant_velocity(cls, speed: float) -> Trajectory:
        """Straight ahead at a constant speed."""
        t = WAYPOINT_DT * np.arange(1, WAYPOINTS + 1)
        return cls(np.stack([speed * t, np.zeros_like(t)], axis=1))


@dataclass(frozen=True)
class CameraRig:
    """Surround cameras: OpenCV camera frames (x right, y down, z forward) mounted on the ego."""

    names: tuple[str, ...]
    intrinsics: np.ndarray  # (N, 3, 3) float64, pixels for images of size hw
    cam2ego: np.ndarray  # (N, 4, 4) float64, camera frame -> ego frame
    hw: tuple[int, int]  # image (height, width) [px]

    @classmethod
    def nuscenes(cls, hw: tuple[int, int] = DEFAULT_CAMERA_HW) -> CameraRig:
        """The six nuScenes cameras, intrinsics scaled from 1600 x 900 to ``hw``.

        Mount positions, yaws and focal lengths follow the nuScenes calibration to within a few percent;
        the small roll and pitch of the real mounts are left out.
        """
        h, w = int(hw[0]), int(hw[1])
        if h <= 0 or w <= 0:
            raise ValueError(f"camera image size must be positive, got {hw}")
        sx, sy = w / 1600.0, h / 900.0
        intrinsics, cam2ego = [], []
        for name in CAMERA_NAMES:
            (x, y, z), yaw_deg, focal = _NUSCENES_MOUNTS[name]
            intrinsics.append(np.array([[focal * sx, 0, 800.0 * sx], [0, focal * sy, 480.0 * sy], [0, 0, 1]]))
            yaw = np.deg2rad(yaw_deg)
            forward = np.array([np.cos(yaw), np.sin(yaw), 0.0])
            right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
            down = np.array([0.0, 0.0, -1.0])
            m = np.eye(4)
            m[:3, :3] = np.stack([right, down, forward], axis=1)
            m[:3, 3] = (x, y, z)
            cam2ego.append(m)
        return cls(CAMERA_NAMES, np.stack(intrinsics), np.stack(cam2ego), (h, w))

    def resized(self, hw: tuple[int, int]) -> CameraRig:
        """The same cameras with intrinsics scaled to images of ``hw``."""
        h, w = int(hw[0]), int(hw[1])
        return CameraRig(self.names, scale_intrinsics(self.intrinsics, self.hw, (h, w)), self.cam2ego.copy(), (h, w))


def check_camera_hw(hw: tuple[int, int]) -> tuple[int, int]:
    """``hw`` as two ints within CAMERA_HW_RANGE; ValueError saying the allowed range otherwise."""
    (h_min, w_min), (h_max, w_max) = CAMERA_HW_RANGE
    try:
        h, w = (int(v) for v in hw)
    except (TypeError, ValueError):
        raise ValueError(f"camera_hw must be (height, width) in pixels, got {hw!r}") from None
    if not (h_min <= h <= h_max and w_min <= w <= w_max):
        raise ValueError(f"camera_hw {h}x{w} is outside {h_min}x{w_min} .. {h_max}x{w_max} (height x width)")
    return h, w


def scale_intrinsics(intrinsics: np.ndarray, from_hw: tuple[int, int], to_hw: tuple[int, int]) -> np.ndarray:
    """Intrinsics (..., 3, 3) for images resized from ``from_hw`` to ``to_hw`` (the rig's scaling convention)."""
    scale = np.diag([to_hw[1] / from_hw[1], to_hw[0] / from_hw[0], 1.0])
    return scale @ np.asarray(intrinsics, dtype=np.float64)


# name: ((x, y, z) mount on the ego [m], yaw [deg], focal length at 1600 x 900 [px])
_NUSCENES_MOUNTS: dict[str, tuple[tuple[float, float, float], float, float]] = {
    "CAM_FRONT_LEFT": ((1.52, 0.49, 1.51), 55.0, 1257.0),
    "CAM_FRONT": ((1.70, 0.02, 1.51), 0.0, 1266.0),
    "CAM_FRONT_RIGHT": ((1.55, -0.49, 1.50), -55.0, 1260.0),
    "CAM_BACK_RIGHT": ((1.01, -0.48, 1.56), -110.0, 1259.0),
    "CAM_BACK": ((0.03, 0.00, 1.58), 180.0, 809.0),
    "CAM_BACK_LEFT": ((1.04, 0.48, 1.59), 110.0, 1256.0),
}


@dataclass(frozen=True)
class LaneGeometry:
    """A lane of the road map as a centreline polyline, for privileged planners."""

    id: str
    road: int  # road index in the map
    index: int  # 0 = rightmost of the road's forward direction, -1 = nearest oncoming lane, ...
    points: np.ndarray  # (N, 2) float64, world frame [m], in the driving direction
    width: float  # [m]


@dataclass(frozen=True)
class RoadLayout:
    """What a privileged planner may know of the map: the lanes, and which one the ego's route uses."""

    lanes: tuple[LaneGeometry, ...]
    route_lane: str  # id of the lane the ego starts in (a route that turns: its own lane, after the map's)
    goal: tuple[float, float]  # goal position, world frame [m]
    speed_limit: float = 13.9  # [m/s]
    route: np.ndarray | None = None  # (N, 2) the route's centreline from the start to the goal, world frame [m]
    turns: tuple[str, ...] = ()  # the turn taken at each junction met (straight, left, right)
    crosswalks: tuple[np.ndarray, ...] = ()  # zebra crossings' corners (4, 2), world frame [m]
    map_kind: str = ""  # straight, curve, intersection, t_junction, nuscenes


@dataclass(frozen=True)
class Weather:
    """Weather as the renderer reads it."""

    kind: str = "clear"  # clear | fog | rain | snow | night | sandstorm
    visibility: float | None = None  # [m] meteorological visibility (fog, sandstorm)
    intensity: float | None = None  # [0, 1] (rain, snow)
    prompt: str | None = None  # text for the diffusion renderers; None: built from ``kind``


@dataclass(frozen=True)
class CameraFrames:
    """What a renderer returns for one instant: the six views and their per-pixel geometry."""

    rgb: np.ndarray  # (N, H, W, 3) uint8
    depth: np.ndarray  # (N, H, W) float32 camera z-depth [m], inf for sky
    semantic: np.ndarray  # (N, H, W) uint8 Occ3D class of the first hit, FREE (17) for sky


@dataclass(frozen=True)
class HistoryStep:
    """One env step of a run, as metrics read it; a run's history starts with the state at reset (step 0)."""

    t: float  # [s] at the end of the step
    ego: EgoState  # at the end of the step
    actors: tuple[ActorState, ...]  # at the end of the step (at the moment of contact if there was one)
    plan: Trajectory | None  # asked for at the start of the step, in the ego frame of history[k - 1].ego
    ego_trace: tuple[EgoState, ...]  # every 10 Hz substep state of this step, the last equal to ``ego``
    collided_with: str | None  # actor id or "static:<class>"
    collided_class: str | None  # Occ3D class name of what was hit
    impact_speed: float  # [m/s] relative speed at contact, 0 without collision
    offroad: bool  # the footprint left the drivable area during the step
    progress: float  # [m] along the route at the end of the step
    route_length: float  # [m]


@dataclass(frozen=True)
class ReferenceRun:
    """What reference policies did on the same scenario and seed, for scores that compare against them."""

    impact_speed: float  # [m/s] of the constant-velocity rollout; 0 if it did not collide
    expert_progress: tuple[float, ...]  # [m] route progress of the expert after each step (index 0: at reset)


@dataclass(frozen=True)
class VoxelGrid:
    """A regular grid of cubic voxels; ``lower`` is the corner of voxel (0, 0, 0)."""

    shape: tuple[int, int, int]  # (nx, ny, nz) voxels
    voxel_size: float  # [m]
    lower: tuple[float, float, float]  # (x, y, z) [m] in the grid's frame

    @property
    def upper(self) -> tuple[float, float, float]:
        """Far corner of the grid [m]."""
        return tuple(lo + n * self.voxel_size for lo, n in zip(self.lower, self.shape))  # type: ignore[return-value]

    def index_of(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer voxel indices (N, 3) of points (N, 3) [m] and a mask of those inside the grid."""
        idx = np.floor((np.asarray(points, dtype=np.float64) - self.lower) / self.voxel_size).astype(np.int64)
        inside = np.all((idx >= 0) & (idx < np.asarray(self.shape)), axis=-1)
        return idx, inside

    def centres(self, axis: int) -> np.ndarray:
        """Voxel centre coordinates [m] along one axis."""
        return self.lower[axis] + (np.arange(self.shape[axis]) + 0.5) * self.voxel_size


# Occ3D-nuScenes: 200 x 200 x 16 voxels of 0.4 m over x, y in [-40, 40], z in [-1, 5.4], ego frame.
OCC3D_GRID = VoxelGrid(shape=(200, 200, 16), voxel_size=0.4, lower=(-40.0, -40.0, -1.0))
GROUND_LAYER = 2  # the z layer [-0.2, 0.2) m that holds the ground surface
MAX_ACTORS = 64  # rows of the privileged actor table
ROUTE_POINTS, ROUTE_SPACING = 32, 2.0  # the privileged route ahead: this many points, this far apart [m]


@dataclass(frozen=True)
class RouteActionScale:
    """How a ``route`` action (two numbers in [-1, 1]) becomes a plan: a speed along the route and an offset."""

    max_speed: float = 15.0  # [m/s] at +1; -1 stops
    max_offset: float = 3.5  # [m] left of the route at +1 (a lane), right at -1
    size: int = 2  # numbers in the action: (speed, offset)

    def speed(self, value: float) -> float:
        """Target speed [m/s] of a normalised value."""
        return self.max_speed * (float(value) + 1.0) / 2.0

    def offset(self, value: float) -> float:
        """Lateral offset [m] of a normalised value."""
        return self.max_offset * float(value)


ROUTE_ACTION = RouteActionScale()
POSE_SIZE = 3  # (x, y, yaw) of a pose observation, world frame [m, m, rad]
ACTOR_COLUMNS = ("valid", "class", "x", "y", "yaw", "speed", "vx", "vy", "length", "width", "height")
EGO_COLUMNS = ("speed", "acceleration", "yaw_rate", "steering")


@dataclass(frozen=True)
class ActorTable:
    """The privileged actors near the ego, nearest first, as named columns (only the valid rows of the env's table)."""

    cls: np.ndarray  # (N,) float32 Occ3D class ids
    x: np.ndarray  # (N,) float32, ego frame [m]
    y: np.ndarray  # (N,) float32, ego frame [m]
    yaw: np.ndarray  # (N,) float32, relative to the ego heading [rad]
    speed: np.ndarray  # (N,) float32 [m/s]
    vx: np.ndarray  # (N,) float32, ego frame [m/s]
    vy: np.ndarray  # (N,) float32, ego frame [m/s]
    length: np.ndarray  # (N,) float32 [m]
    width: np.ndarray  # (N,) float32 [m]
    height: np.ndarray  # (N,) float32 [m]

    @classmethod
    def from_rows(cls, table: np.ndarray) -> ActorTable:
        """From the env's ``(MAX_ACTORS, len(ACTOR_COLUMNS))`` table (rows with ``valid`` 0 are padding)."""
        rows = np.asarray(table)
        rows = rows[rows[:, 0] > 0.5]
        return cls(*(rows[:, k] for k in range(1, len(ACTOR_COLUMNS))))

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class PlannerInput:
    """What a camera-only planner sees at one step (as NAVSIM's ``AgentInput``): no map, no ground truth."""

    images: np.ndarray  # (6, H, W, 3) uint8, ARCHITECTURE.md's camera order
    intrinsics: np.ndarray  # (6, 3, 3) float32, pixels of ``images``
    cam2ego: np.ndarray  # (6, 4, 4) float32, OpenCV camera frame -> ego frame
    ego: np.ndarray  # (4,) float32: EGO_COLUMNS (speed [m/s], acceleration [m/s^2], yaw rate [rad/s], steering [rad])
    ego_pose: np.ndarray  # (3,) float32 world x, y [m] and yaw [rad], as localisation gives it
    command: int  # 0 right, 1 left, 2 straight (VAD's order)
    timestamp: float  # [s] since the episode started

    @classmethod
    def from_observation(cls, observation: dict, timestamp: float) -> PlannerInput:
        """From an OccSim env observation."""
        keys = ("images", "intrinsics", "cam2ego", "ego", "ego_pose")
        return cls(*(observation[k] for k in keys), command=int(observation["command"]), timestamp=float(timestamp))

    def as_dict(self) -> dict:
        """The fields by name (arrays shared, not copied): the remote protocol's and VAD's request keys."""
        return dict(vars(self))


@dataclass(frozen=True)
class PrivilegedInput:
    """What only a privileged planner (the expert) may read: the occupancy, the actors, the goal, the road."""

    occupancy: np.ndarray  # (200, 200, 16) uint8 Occ3D labels, OCC3D_GRID in the ego frame
    actors: ActorTable
    goal: np.ndarray  # (2,) float32 the goal in the ego frame [m]
    road: RoadLayout | None = None  # the lanes and the route (at reset)
    route: np.ndarray | None = None  # (ROUTE_POINTS, 2) float32 the route ahead, ego frame [m]

    @classmethod
    def from_observation(cls, observation: dict, road: RoadLayout | None = None) -> PrivilegedInput:
        """From a privileged OccSim env observation and the reset info's road."""
        table = ActorTable.from_rows(observation["actors"])
        return cls(observation["occupancy"], table, observation["goal"], road, observation.get("route"))
