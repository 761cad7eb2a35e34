"""A small synthetic dataset in the real nuScenes layout, logged from OccSim worlds, for tests and demos.

``NuScenes(version="v1.0-mini", dataroot=OUT)`` loads it with the real devkit: the 13 tables with every field the
devkit and the usual converters read, a map table whose ``log_tokens`` cover every log, a semantic-prior map mask
PNG (drivable area, 0.1 m per pixel), one JPEG per camera and keyframe, an empty LiDAR sweep per keyframe, and
Occ3D-style ``gts/<scene>/<sample_token>/labels.npz`` (``semantics``, ``mask_lidar``, ``mask_camera``).

Each scene is a list of keyframes logged every 0.5 s from an OccSim episode (``occsim make-nuscenes-mini`` drives
the expert). Global coordinates are the world's shifted so the map mask starts at (0, 0).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from occsim.classes import CLASS_NAMES, FREE
from occsim.types import ActorState, CameraRig, EgoState
from occsim.world.world import World

MAP_RESOLUTION = 0.1  # [m / px] of nuScenes map masks
MAP_MARGIN = 30.0  # [m] around the drivable area in the map mask
START_TIMESTAMP = 1_533_151_603_547_590  # [us]
# nuScenes category written for each Occ3D actor class.
CATEGORY_OF_CLASS = {
    "barrier": "movable_object.barrier",
    "bicycle": "vehicle.bicycle",
    "bus": "vehicle.bus.rigid",
    "car": "vehicle.car",
    "construction_vehicle": "vehicle.construction",
    "motorcycle": "vehicle.motorcycle",
    "pedestrian": "human.pedestrian.adult",
    "traffic_cone": "movable_object.trafficcone",
    "trailer": "vehicle.trailer",
    "truck": "vehicle.truck",
}
NUSCENES_CATEGORIES = tuple(  # the 23 categories of the nuScenes schema
    """animal human.pedestrian.adult human.pedestrian.child human.pedestrian.construction_worker
    human.pedestrian.personal_mobility human.pedestrian.police_officer human.pedestrian.stroller
    human.pedestrian.wheelchair movable_object.barrier movable_object.debris
    movable_object.pushable_pullable movable_object.trafficcone static_object.bicycle_rack
    vehicle.bicycle vehicle.bus.bendy vehicle.bus.rigid vehicle.car vehicle.construction
    vehicle.emergency.ambulance vehicle.emergency.police vehicle.motorcycle vehicle.trailer
    vehicle.truck
    """.split()
)
# The synthetic scenes: nuScenes-style names -> the built-in scenario each is logged from. The names match
# scenes of the real v1.0-mini so example scenarios run unchanged against either; the data is not real.
MINI_SCENES = {"scene-0061": "intersection_crossing", "scene-0103": "pedestrian_crossing"}
LIDAR_CHANNEL = "LIDAR_TOP"
LIDAR_TRANSLATION = (0.943713, 0.0, 1.84023)  # [m] in the ego frame, as on the nuScenes car
LIDAR_ROTATION = (np.cos(-np.pi / 4), 0.0, 0.0, np.sin(-np.pi / 4))  # yaw -90 degrees: x right, y forward


@dataclass(frozen=True)
class Keyframe:
    """What one logged keyframe holds."""

    t: float  # [s] since the scene start
    ego: EgoState
    actors: list[ActorState]
    occupancy: np.ndarray  # (200, 200, 16) uint8 Occ3D window, ego frame
    images: np.ndarray | None  # (6, H, W, 3) uint8 RGB, or None for grey placeholders


def token(*parts: object) -> str:
    """A deterministic 32-hex-digit token, like nuScenes'."""
    return hashlib.md5("/".join(str(p) for p in parts).encode()).hexdigest()


def _quaternion_yaw(yaw: float) -> list[float]:
    return [float(np.cos(yaw / 2)), 0.0, 0.0, float(np.sin(yaw / 2))]


def _quaternion(rotation: np.ndarray) -> list[float]:
    from pyquaternion import Quaternion

    return [float(v) for v in Quaternion(matrix=rotation, atol=1e-6).elements]


def write_nuscenes_mini(
    out: str | Path,
    scenes: dict[str, tuple[World, list[Keyframe]]],
    rig: CameraRig,
    version: str = "v1.0-mini",
    location: str = "boston-seaport",
    expansion: bool = True,
) -> Path:
    """Write ``scenes`` (name -> (world, keyframes)) as a nuScenes dataset under ``out``; returns ``out``.

    Args:
        out: dataroot to create.
        scenes: scene name -> the world it was logged from (for its map) and its keyframes.
        rig: the cameras; images must match ``rig.hw`` (grey images are written when a keyframe has none).
        version: the table folder's name.
        location: the log location and map name; the devkit's map API only accepts the four real location names,
            so the synthetic map borrows one (its geometry is OccSim's, not that city's).
        expansion: also write ``maps/expansion/<location>.json`` (drivable area and lanes) for the map API.
    """
    root = Path(out)
    tables: dict[str, list[dict]] = {name: [] for name in _TABLES}
    tables["category"] = [
        {"token": token("category", n), "name": n, "description": n, "index": i}
        for i, n in enumerate(NUSCENES_CATEGORIES)
    ]
    tables["attribute"] = []
    tables["visibility"] = [
        {"token": str(i), "level": level, "description": f"visibility of whole object is {level}"}
        for i, level in enumerate(("v0-40", "v40-60", "v60-80", "v80-100"), start=1)
    ]
    sensors = {name: token("sensor", name) for name in (*rig.names, LIDAR_CHANNEL)}
    tables["sensor"] = [
        {"token": t, "channel": n, "modality": "lidar" if n == LIDAR_CHANNEL else "camera"} for n, t in sensors.items()
    ]
    offset = _global_offset([world for world, _ in scenes.values()])
    _write_map_mask(root, [world for world, _ in scenes.values()], offset, tables, location)
    if expansion:
        _write_map_expansion(root, [world for world, _ in scenes.values()], offset, location)
    for scene_index, (name, (_, frames)) in enumerate(scenes.items()):
        _write_scene(root, version, name, scene_index, frames, rig, sensors, offset, tables, location)
    tables["map"][0]["log_tokens"] = [log["token"] for log in tables["log"]]
    (root / version).mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        (root / version / f"{name}.json").write_text(json.dumps(rows, indent=0))
    return root


_TABLES = (
    "category",
    "attribute",
    "visibility",
    "instance",
    "sensor",
    "calibrated_sensor",
    "ego_pose",
    "log",
    "scene",
    "sample",
    "sample_data",
    "sample_annotation",
    "map",
)


def _global_offset(worlds: list[World]) -> np.ndarray:
    """Shift from OccSim world to nuScenes global coordinates: the map mask's corner at (0, 0)."""
    lows = np.array([w.road_map.bounds[:2] for w in worlds]).min(axis=0)
    return MAP_MARGIN - lows


def _write_map_mask(root: Path, worlds: list[World], offset: np.ndarray, tables: dict, location: str) -> None:
    highs = np.array([w.road_map.bounds[2:] for w in worlds]).max(axis=0) + offset + MAP_MARGIN
    width, height = (int(np.ceil(v / MAP_RESOLUTION)) for v in highs)
    mask = np.zeros((height, width), np.uint8)
    for world in worlds:
        polygons = getattr(world.road_map.drivable, "geoms", [world.road_map.drivable])
        for polygon in polygons:
            xy = np.asarray(polygon.exterior.coords) + offset
            pixels = np.stack([xy[:, 0] / MAP_RESOLUTION, height - xy[:, 1] / MAP_RESOLUTION], axis=1)
            cv2.fillPoly(mask, [np.round(pixels).astype(np.int32)], 255)
    filename = f"maps/{token('map', location)}.png"
    (root / "maps").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / filename), mask)
    tables["map"].append(
        {"token": token("map", location), "log_tokens": [], "category": "semantic_prior", "filename": filename}
    )


def _write_map_expansion(root: Path, worlds: list[World], offset: np.ndarray, location: str) -> None:
    """A map-expansion JSON (version 1.3) with the drivable area and every lane as straight arcline pieces."""
    import shapely

    layers: dict = {name: [] for name in _EXPANSION_LAYERS}
    layers["arcline_path_3"], layers["connectivity"] = {}, {}

    def polygon_token(polygon) -> str:
        rings = []
        for ring in (polygon.exterior, *polygon.interiors):
            nodes = []
            for x, y in list(ring.coords)[:-1]:
                nodes.append(token("node", len(layers["node"])))
                layers["node"].append({"token": nodes[-1], "x": float(x), "y": float(y)})
            rings.append(nodes)
        record = {"token": token("polygon", len(layers["polygon"])), "exterior_node_tokens": rings[0]}
        record["holes"] = [{"node_tokens": nodes} for nodes in rings[1:]]
        layers["polygon"].append(record)
        return record["token"]

    drivable = shapely.affinity.translate(shapely.union_all([w.road_map.drivable for w in worlds]), *offset)
    parts = getattr(drivable, "geoms", [drivable])
    layers["drivable_area"].append(
        {"token": token("drivable_area", 0), "polygon_tokens": [polygon_token(g) for g in parts]}
    )
    for w_index, world in enumerate(worlds):
        for lane in world.road_map.lanes():
            centre = lane.centreline(spacing=LANE_PIECE) + offset
            lane_token = token("lane", w_index, lane.id)
            outline = shapely.LineString(centre).buffer(lane.width / 2, cap_style="flat")
            layers["lane"].append(
                {
                    "token": lane_token,
                    "polygon_token": polygon_token(outline),
                    "lane_type": "CAR",
                    "from_edge_line_token": None,
                    "to_edge_line_token": None,
                    "left_lane_divider_segments": [],
                    "right_lane_divider_segments": [],
                }
            )
            pieces = []
            for a, b in zip(centre[:-1], centre[1:]):
                heading = float(np.arctan2(b[1] - a[1], b[0] - a[0]))
                length = float(np.hypot(*(b - a)))
                pieces.append(
                    {
                        "start_pose": [float(a[0]), float(a[1]), heading],
                        "end_pose": [float(b[0]), float(b[1]), heading],
                        "shape": "LSL",
                        "radius": 1e6,
                        "segment_length": [0.0, length, 0.0],
                    }
                )
            layers["arcline_path_3"][lane_token] = pieces
    high = np.array([w.road_map.bounds[2:] for w in worlds]).max(axis=0) + offset + MAP_MARGIN
    folder = root / "maps" / "expansion"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{location}.json").write_text(
        json.dumps({"version": "1.3", "canvas_edge": [float(high[0]), float(high[1])], **layers})
    )


LANE_PIECE = 5.0  # [m] length of the straight arcline pieces that approximate a lane
_EXPANSION_LAYERS = (
    "polygon",
    "line",
    "node",
    "drivable_area",
    "road_segment",
    "road_block",
    "lane",
    "ped_crossing",
    "walkway",
    "stop_line",
    "carpark_area",
    "road_divider",
    "lane_divider",
    "traffic_light",
    "lane_connector",
)


def _write_calibration(name: str, rig: CameraRig, sensors: dict[str, str], tables: dict) -> dict[str, str]:
    """One calibrated_sensor record per camera and the LiDAR; returns their tokens by channel."""
    calibration = {}
    for i, channel in enumerate(rig.names):
        calibration[channel] = token("calibrated_sensor", name, channel)
        tables["calibrated_sensor"].append(
            {
                "token": calibration[channel],
                "sensor_token": sensors[channel],
                "translation": [float(v) for v in rig.cam2ego[i, :3, 3]],
                "rotation": _quaternion(rig.cam2ego[i, :3, :3]),
                "camera_intrinsic": rig.intrinsics[i].tolist(),
            }
        )
    calibration[LIDAR_CHANNEL] = token("calibrated_sensor", name, LIDAR_CHANNEL)
    tables["calibrated_sensor"].append(
        {
            "token": calibration[LIDAR_CHANNEL],
            "sensor_token": sensors[LIDAR_CHANNEL],
            "translation": list(LIDAR_TRANSLATION),
            "rotation": [float(v) for v in LIDAR_ROTATION],
            "camera_intrinsic": [],
        }
    )
    return calibration


def _write_scene(
    root: Path,
    version: str,
    name: str,
    scene_index: int,
    frames: list[Keyframe],
    rig: CameraRig,
    sensors: dict[str, str],
    offset: np.ndarray,
    tables: dict,
    location: str,
) -> None:
    log_token = token("log", name)
    tables["log"].append(
        {
            "token": log_token,
            "logfile": f"occsim-{name}",
            "vehicle": "occsim",
            "date_captured": "2026-11-21",
            "location": location,
        }
    )
    calibration = _write_calibration(name, rig, sensors, tables)
    samples = [token("sample", name, k) for k in range(len(frames))]
    scene_token = token("scene", name)
    tables["scene"].append(
        {
            "token": scene_token,
            "log_token": log_token,
            "nbr_samples": len(frames),
            "first_sample_token": samples[0],
            "last_sample_token": samples[-1],
            "name": name,
            "description": f"OccSim synthetic scene {scene_index}",
        }
    )
    h, w = rig.hw
    annotations: dict[str, list[tuple[int, ActorState]]] = {}
    for k, frame in enumerate(frames):
        timestamp = START_TIMESTAMP + scene_index * 10**8 + int(round(frame.t * 1e6))
        tables["sample"].append(
            {
                "token": samples[k],
                "timestamp": timestamp,
                "prev": samples[k - 1] if k else "",
                "next": samples[k + 1] if k + 1 < len(frames) else "",
                "scene_token": scene_token,
            }
        )
        pose = frame.ego.pose
        ego_pose_token = token("ego_pose", name, k)
        tables["ego_pose"].append(
            {
                "token": ego_pose_token,
                "timestamp": timestamp,
                "rotation": _quaternion_yaw(pose.yaw),
                "translation": [pose.x + float(offset[0]), pose.y + float(offset[1]), 0.0],
            }
        )
        for i, channel in enumerate((*rig.names, LIDAR_CHANNEL)):
            is_camera = channel != LIDAR_CHANNEL
            stem = f"{name}__{channel}__{timestamp}"
            filename = f"samples/{channel}/{stem}.{'jpg' if is_camera else 'pcd.bin'}"
            (root / "samples" / channel).mkdir(parents=True, exist_ok=True)
            if is_camera:
                image = frame.images[i] if frame.images is not None else np.full((h, w, 3), 128, np.uint8)
                cv2.imwrite(str(root / filename), np.ascontiguousarray(image[..., ::-1]))
            else:
                np.zeros((1, 5), np.float32).tofile(root / filename)
            tables["sample_data"].append(
                {
                    "token": token("sample_data", name, channel, k),
                    "sample_token": samples[k],
                    "ego_pose_token": ego_pose_token,
                    "calibrated_sensor_token": calibration[channel],
                    "timestamp": timestamp,
                    "fileformat": "jpg" if is_camera else "pcd",
                    "is_key_frame": True,
                    "height": h if is_camera else 0,
                    "width": w if is_camera else 0,
                    "filename": filename,
                    "prev": token("sample_data", name, channel, k - 1) if k else "",
                    "next": token("sample_data", name, channel, k + 1) if k + 1 < len(frames) else "",
                }
            )
        for actor in frame.actors:
            annotations.setdefault(actor.id, []).append((k, actor))
        _write_occ3d(root, name, samples[k], frame, rig)
    for actor_id, track in annotations.items():
        _write_instance(name, actor_id, track, samples, offset, tables)


def _write_instance(
    scene: str, actor_id: str, track: list[tuple[int, ActorState]], samples: list[str], offset: np.ndarray, tables: dict
) -> None:
    cls_name = CLASS_NAMES[track[0][1].cls]
    instance_token = token("instance", scene, actor_id)
    tokens = [token("sample_annotation", scene, actor_id, k) for k, _ in track]
    tables["instance"].append(
        {
            "token": instance_token,
            "category_token": token("category", CATEGORY_OF_CLASS[cls_name]),
            "nbr_annotations": len(track),
            "first_annotation_token": tokens[0],
            "last_annotation_token": tokens[-1],
        }
    )
    for j, (k, actor) in enumerate(track):
        length, width, height = actor.size
        tables["sample_annotation"].append(
            {
                "token": tokens[j],
                "sample_token": samples[k],
                "instance_token": instance_token,
                "visibility_token": "4",
                "attribute_tokens": [],
                "translation": [actor.pose.x + float(offset[0]), actor.pose.y + float(offset[1]), height / 2],
                "size": [width, length, height],
                "rotation": _quaternion_yaw(actor.pose.yaw),
                "prev": tokens[j - 1] if j else "",
                "next": tokens[j + 1] if j + 1 < len(tokens) else "",
                "num_lidar_pts": 10,
                "num_radar_pts": 0,
            }
        )


def _write_occ3d(root: Path, scene: str, sample_token: str, frame: Keyframe, rig: CameraRig) -> None:
    """Occ3D-nuScenes labels: semantics, and masks of the voxels a camera frustum (any) or the LiDAR covers."""
    from occsim.types import OCC3D_GRID

    folder = root / "gts" / scene / sample_token
    folder.mkdir(parents=True, exist_ok=True)
    grid = OCC3D_GRID
    x, y, z = np.meshgrid(grid.centres(0), grid.centres(1), grid.centres(2), indexing="ij")
    points = np.stack([x, y, z, np.ones_like(x)], axis=-1).reshape(-1, 4)
    seen = np.zeros(len(points), bool)
    h, w = rig.hw
    for i in range(len(rig.names)):
        cam = points @ np.linalg.inv(rig.cam2ego[i]).T
        depth = cam[:, 2]
        uv = cam[:, :3] @ rig.intrinsics[i].T
        with np.errstate(divide="ignore", invalid="ignore"):
            u, v = uv[:, 0] / depth, uv[:, 1] / depth
        seen |= (depth > 0.1) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    mask_camera = seen.reshape(grid.shape).astype(np.uint8)
    mask_lidar = (frame.occupancy != FREE).astype(np.uint8)
    np.savez_compressed(
        folder / "labels.npz",
        semantics=frame.occupancy.astype(np.uint8),
        mask_lidar=mask_lidar,
        mask_camera=mask_camera,
    )
