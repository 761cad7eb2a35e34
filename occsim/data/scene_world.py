"""A logged scene as an OccSim ``World``: the ego at its logged pose and speed, agents replaying or reactive.

- Road: one lane along the ego's logged path (its lane 0), one oncoming lane, run out 20 m at both ends; station 0
  is the ego's start. The map's drivable area is added to it.
- Static world: the Occ3D labels of every sample, moved into a world grid, with the annotated object classes
  removed (those come back as actors); without labels, ground from the map's drivable area and nothing raised.
- Agents: each on a lane along its own logged track; ``log`` replays the track (linear between 2 Hz samples), and
  ``reactive`` drives it with IDM at the track's mean speed, yielding to whatever is ahead, the ego included.
  Agents whose track ends before the start are left out; one that appears later waits at its first pose.
- Command: VAD's rule on the logged future 3 s ahead of each sample (right if the path ends >= 2 m to the right).
"""

from __future__ import annotations

import numpy as np

from occsim.classes import (
    BARRIER,
    DRIVEABLE_SURFACE,
    FREE,
    OTHER_FLAT,
    SIDEWALK,
    TERRAIN,
    TRUCK,
)
from occsim.data.nuscenes import LoggedAgent, LoggedScene
from occsim.types import (
    COMMAND_LEFT,
    COMMAND_RIGHT,
    COMMAND_STRAIGHT,
    GROUND_LAYER,
    OCC3D_GRID,
    EgoState,
    Pose2D,
    VoxelGrid,
)
from occsim.world.actors import BEHAVIORS, Actor
from occsim.world.background import (
    ASPHALT,
    GRASS,
    MARGIN,
    PAVEMENT,
    TEXEL,
    VOXEL,
    WORLD_Z,
    StaticWorld,
    assemble_static_world,
)
from occsim.world.roadmap import Lane, RoadMap, road_following
from occsim.world.world import Route, World

LANE_WIDTH = 3.5  # [m]
COMMAND_HORIZON = 6  # samples (3 s) ahead, as VAD's ego_fut_trajs
COMMAND_THRESHOLD = 2.0  # [m]
STATIC_TRACK = 1.0  # [m] an agent moving less than this over the scene is parked
_GROUND_TEXTURE = {DRIVEABLE_SURFACE: ASPHALT, OTHER_FLAT: PAVEMENT, SIDEWALK: PAVEMENT, TERRAIN: GRASS}


def logged_world(scene: LoggedScene, start_sample: int = 0, agents: str = "log") -> World:
    """The world at the logged ``start_sample``; see the module docstring.

    Raises:
        ValueError: ``start_sample`` outside the scene, or ``agents`` not ``log`` / ``reactive``.
    """
    if not 0 <= start_sample < len(scene.times) - 1:
        raise ValueError(f"start_sample must be in 0..{len(scene.times) - 2} for {scene.name}, got {start_sample}")
    if agents not in ("log", "reactive"):
        raise ValueError(f"agents must be 'log' or 'reactive', got {agents!r}")
    path = scene.ego_poses[start_sample:, :2]
    road = road_following(0, path, LANE_WIDTH, oncoming_lanes=1, min_length=20.0)
    road_map = RoadMap("nuscenes", [road], extra_drivable=scene.drivable)
    static = static_world(scene, road_map)
    x, y, yaw = scene.ego_poses[start_sample]
    ego = EgoState(Pose2D(float(x), float(y), float(yaw)), float(scene.ego_speeds[start_sample]))
    lane = road_map.lane(0)
    stations, _ = road.project(scene.ego_poses[start_sample:, :2])
    commands = np.array([command_at(scene.ego_poses, k) for k in range(start_sample, len(scene.times))])
    route = Route(lane, 0.0, max(float(road.length), 1.0), int(commands[0]), (stations, commands))
    t0 = float(scene.times[start_sample])
    actors = [_actor(agent, i + 1, t0, agents) for i, agent in enumerate(scene.agents) if agent.times[-1] >= t0 - 1e-6]
    return World(road_map, static, actors, ego, route, rig=scene.rig)


def command_at(ego_poses: np.ndarray, k: int) -> int:
    """VAD's command at sample ``k``: from where the logged path is 3 s later, in the ego frame at ``k``."""
    future = ego_poses[min(k + COMMAND_HORIZON, len(ego_poses) - 1)]
    x, y, yaw = ego_poses[k]
    lateral = -np.sin(yaw) * (future[0] - x) + np.cos(yaw) * (future[1] - y)  # left positive
    if lateral <= -COMMAND_THRESHOLD:
        return COMMAND_RIGHT
    if lateral >= COMMAND_THRESHOLD:
        return COMMAND_LEFT
    return COMMAND_STRAIGHT


def _actor(agent: LoggedAgent, instance: int, t0: float, mode: str) -> Actor:
    travelled = float(np.hypot(*np.diff(agent.poses[:, :2], axis=0).T).sum()) if len(agent.poses) > 1 else 0.0
    parked = travelled < STATIC_TRACK
    times = agent.times - t0
    if parked:
        x, y, yaw = agent.poses[0]
        heading = np.array([np.cos(yaw), np.sin(yaw)])
        road = road_following(1000 + instance, np.array([[x, y], [x, y] + heading]), LANE_WIDTH, 0, min_length=1.0)
        behavior = BEHAVIORS["static"]()
        stations = np.zeros(len(times))
    else:
        road = road_following(1000 + instance, agent.poses[:, :2], LANE_WIDTH, 0, min_length=1.0)
        stations, _ = road.project(agent.poses[:, :2])
        if mode == "log":
            behavior = BEHAVIORS["waypoints"](points=[(float(t), float(s), 0.0) for t, s in zip(times, stations)])
        else:
            duration = max(float(times[-1] - times[0]), 0.5)
            behavior = BEHAVIORS["idm"](target_speed=max(travelled / duration, 1.0))
    lane = Lane(road, 0)
    s0 = float(np.interp(0.0, times, stations))
    actor = Actor(agent.id, agent.cls_name, agent.size, lane, s0, 0.0, 0.0, behavior, instance=instance)
    heading_there = lane.pose_at(s0)[2]
    yaw0 = float(np.interp(0.0, times, agent.poses[:, 2]))
    actor.yaw_offset = float(np.arctan2(np.sin(yaw0 - heading_there), np.cos(yaw0 - heading_there)))
    if mode == "reactive" and not parked:
        actor.speed = float(np.hypot(*np.diff(agent.poses[:2, :2], axis=0)[0]) / max(np.diff(times[:2])[0], 1e-3))
    actor.update_pose()
    return actor


def static_world(scene: LoggedScene, road_map: RoadMap) -> StaticWorld:
    """Static voxels from the scene's Occ3D labels (objects removed), else ground from the drivable area."""
    xmin, ymin, xmax, ymax = road_map.bounds
    lower = (np.floor((xmin - MARGIN) / VOXEL) * VOXEL, np.floor((ymin - MARGIN) / VOXEL) * VOXEL, WORLD_Z[0])
    shape = (
        int(np.ceil((xmax + MARGIN - lower[0]) / VOXEL)),
        int(np.ceil((ymax + MARGIN - lower[1]) / VOXEL)),
        int(round((WORLD_Z[1] - WORLD_Z[0]) / VOXEL)),
    )
    grid = VoxelGrid(shape, VOXEL, lower)
    labels = np.full(shape, FREE, np.uint8)
    step = int(round(VOXEL / TEXEL))
    texture = np.full((shape[0] * step, shape[1] * step), GRASS, np.uint8)
    if scene.occ3d:
        _stamp_occ3d(scene, grid, labels)
        ground = labels[:, :, GROUND_LAYER]
        codes = np.full(ground.shape, GRASS, np.uint8)
        for cls, code in _GROUND_TEXTURE.items():
            codes[ground == cls] = code
        texture = np.repeat(np.repeat(codes, step, axis=0), step, axis=1)
    else:
        _paint_drivable(road_map, grid, texture, step)
        labels[:, :, GROUND_LAYER] = np.where(
            texture[step // 2 :: step, step // 2 :: step][: shape[0], : shape[1]] == ASPHALT, DRIVEABLE_SURFACE, TERRAIN
        )
    return assemble_static_world(grid, labels, texture, np.zeros((0, 3)))


def _stamp_occ3d(scene: LoggedScene, grid: VoxelGrid, labels: np.ndarray) -> None:
    """Every sample's window into the world grid; objects (barrier..truck) dropped, occupied beats free."""
    window = OCC3D_GRID
    gx, gy = np.meshgrid(window.centres(0), window.centres(1), indexing="ij")
    k_offset = int(round((window.lower[2] - grid.lower[2]) / grid.voxel_size))
    for k, semantics in sorted(scene.occ3d.items()):
        x, y, yaw = scene.ego_poses[k]
        c, s = np.cos(yaw), np.sin(yaw)
        wx, wy = x + c * gx - s * gy, y + s * gx + c * gy
        ix = np.floor((wx - grid.lower[0]) / grid.voxel_size).astype(int)
        iy = np.floor((wy - grid.lower[1]) / grid.voxel_size).astype(int)
        inside = (ix >= 0) & (ix < grid.shape[0]) & (iy >= 0) & (iy < grid.shape[1])
        for layer in range(semantics.shape[2]):
            values = semantics[:, :, layer]
            keep = inside & (values != FREE) & ~((values >= BARRIER) & (values <= TRUCK))
            labels[ix[keep], iy[keep], layer + k_offset] = values[keep]


def _paint_drivable(road_map: RoadMap, grid: VoxelGrid, texture: np.ndarray, step: int) -> None:
    import cv2

    polygons = getattr(road_map.drivable, "geoms", [road_map.drivable])
    for polygon in polygons:
        for ring, value in [(polygon.exterior, ASPHALT), *((r, GRASS) for r in polygon.interiors)]:
            xy = (np.asarray(ring.coords) - grid.lower[:2]) / TEXEL
            # texture rows index x and columns y, so points go in as (y, x) for OpenCV
            cv2.fillPoly(texture, [np.round(xy[:, ::-1]).astype(np.int32)], int(value))
