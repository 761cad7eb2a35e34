"""A logged nuScenes scene (with Occ3D labels when present) read through the real nuscenes-devkit.

``load_scene`` returns a ``LoggedScene`` in a local frame (the scene's first ego position at the origin, global
axes): the ego poses and speeds at each 2 Hz sample, the six cameras' real calibration, every annotated agent's
track with its box and Occ3D class, the drivable area and lane centrelines from the map expansion (or, without it,
the drivable area from the map's semantic-prior mask), and the Occ3D labels of each sample.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Polygon

from occsim.types import CAMERA_NAMES, CameraRig

# nuScenes category (prefix) -> Occ3D class; categories absent here (animals, debris, bicycle racks) stay out of
# the actors, as in the nuScenes detection benchmark.
CATEGORY_TO_CLASS: dict[str, str] = {
    "human.pedestrian": "pedestrian",
    "vehicle.car": "car",
    "vehicle.emergency.police": "car",
    "vehicle.emergency.ambulance": "truck",
    "vehicle.bus": "bus",
    "vehicle.truck": "truck",
    "vehicle.trailer": "trailer",
    "vehicle.construction": "construction_vehicle",
    "vehicle.motorcycle": "motorcycle",
    "vehicle.bicycle": "bicycle",
    "movable_object.barrier": "barrier",
    "movable_object.trafficcone": "traffic_cone",
}
LANE_RESOLUTION = 0.5  # [m] between discretised lane points
MAP_RADIUS = 80.0  # [m] map records kept around the logged ego path


class NuScenesError(ValueError):
    """The dataroot, version, scene or a file a scene needs is missing; the message says what and where."""


def occ3d_class(category: str) -> str | None:
    """The Occ3D class of a nuScenes category, or None for categories OccSim does not simulate."""
    for prefix, name in CATEGORY_TO_CLASS.items():
        if category == prefix or category.startswith(prefix + "."):
            return name
    return None


@dataclass(frozen=True)
class LoggedAgent:
    """One annotated instance over the samples it appears in."""

    id: str
    cls_name: str  # Occ3D class
    size: tuple[float, float, float]  # (length, width, height) [m]
    times: np.ndarray  # (K,) [s] since the scene's first sample
    poses: np.ndarray  # (K, 3) local x, y [m], yaw [rad] of the box centre


@dataclass(frozen=True)
class LoggedScene:
    """A nuScenes scene in OccSim's terms; all positions in the local frame (first ego position at the origin)."""

    name: str
    location: str
    origin: tuple[float, float]  # global x, y [m] of the local origin
    sample_tokens: list[str]
    times: np.ndarray  # (T,) [s] since the first sample
    ego_poses: np.ndarray  # (T, 3) local x, y [m], yaw [rad] of the ego (rear axle)
    ego_speeds: np.ndarray  # (T,) [m/s]
    rig: CameraRig  # the logged cameras at their image size, OccSim camera order
    agents: list[LoggedAgent]
    drivable: Polygon | None  # local frame
    lanes: list[np.ndarray] = field(default_factory=list)  # (N, 2) local centrelines in their driving direction
    occ3d: dict[int, np.ndarray] = field(default_factory=dict)  # sample index -> (200, 200, 16) uint8 labels
    notes: list[str] = field(default_factory=list)  # what was missing and what was used instead


def yaw_of(quaternion: list[float]) -> float:
    """Yaw [rad] of a nuScenes (w, x, y, z) quaternion."""
    w, x, y, z = quaternion
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def _matrix(quaternion: list[float], translation: list[float]) -> np.ndarray:
    from pyquaternion import Quaternion

    m = np.eye(4)
    m[:3, :3] = Quaternion(quaternion).rotation_matrix
    m[:3, 3] = translation
    return m


def open_nuscenes(dataroot: str | Path, version: str):
    """The devkit's ``NuScenes`` for a dataroot and version, with clear errors for missing folders."""
    root = Path(dataroot).expanduser()
    if not root.is_dir():
        raise NuScenesError(f"nuScenes dataroot not found: {root}")
    if not (root / version).is_dir():
        found = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith("v1.0"))
        raise NuScenesError(
            f"nuScenes version '{version}' not found: no folder {root / version}; found {found or 'no v1.0-* folders'}"
        )
    return _open(str(root), version)


@lru_cache(maxsize=4)
def _open(root: str, version: str):
    from nuscenes.nuscenes import NuScenes

    return NuScenes(version=version, dataroot=root, verbose=False)


def load_scene(dataroot: str | Path, version: str, scene: str) -> LoggedScene:
    """Read one scene; see the module docstring.

    Raises:
        NuScenesError: dataroot, version or scene missing (with what was found instead).
    """
    nusc = open_nuscenes(dataroot, version)
    names = [s["name"] for s in nusc.scene]
    if scene not in names:
        close = difflib.get_close_matches(scene, names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; it has {len(names)} scenes: {names[:5]}..."
        raise NuScenesError(f"scene '{scene}' is not in {Path(dataroot) / version}{hint}")
    record = nusc.scene[names.index(scene)]
    log = nusc.get("log", record["log_token"])
    samples = scene_samples(nusc, record)
    tokens = [s["token"] for s in samples]
    times = np.array([(s["timestamp"] - samples[0]["timestamp"]) * 1e-6 for s in samples])

    reference = "LIDAR_TOP" if "LIDAR_TOP" in samples[0]["data"] else "CAM_FRONT"
    poses_global = []
    for s in samples:
        pose = nusc.get("ego_pose", nusc.get("sample_data", s["data"][reference])["ego_pose_token"])
        poses_global.append((pose["translation"][0], pose["translation"][1], yaw_of(pose["rotation"])))
    poses_global = np.array(poses_global)
    origin = (float(poses_global[0, 0]), float(poses_global[0, 1]))
    ego_poses = poses_global - (*origin, 0.0)
    ego_speeds = _speeds(ego_poses, times)

    rig = calibration(nusc, samples[0])
    agents = _agents(nusc, samples, times, origin)
    notes: list[str] = []
    drivable, lanes = _map(nusc, dataroot, log, ego_poses, origin, notes)
    occ3d = _occ3d(Path(dataroot), scene, tokens, notes)
    return LoggedScene(
        scene,
        log["location"],
        origin,
        tokens,
        times,
        ego_poses,
        ego_speeds,
        rig,
        agents,
        drivable,
        lanes,
        occ3d,
        notes,
    )


def scene_samples(nusc, scene: dict) -> list[dict]:
    """The keyframe (sample) records of a scene record, in time order."""
    samples, token = [], scene["first_sample_token"]
    while token:
        samples.append(nusc.get("sample", token))
        token = samples[-1]["next"]
    return samples


def _speeds(poses: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Speed at each sample from the neighbouring positions (central differences, one-sided at the ends)."""
    if len(poses) < 2:
        return np.zeros(len(poses))
    return np.hypot(np.gradient(poses[:, 0], times), np.gradient(poses[:, 1], times))


def calibration(nusc, sample: dict) -> CameraRig:
    """The six cameras of ``sample`` as logged (intrinsics at the logged image size, OccSim camera order).

    Raises:
        NuScenesError: a camera is missing.
    """
    missing = [c for c in CAMERA_NAMES if c not in sample["data"]]
    if missing:
        raise NuScenesError(f"sample {sample['token']} has no {missing} data: OccSim needs the six cameras")
    intrinsics, cam2ego, hw = [], [], None
    for channel in CAMERA_NAMES:
        data = nusc.get("sample_data", sample["data"][channel])
        calibrated = nusc.get("calibrated_sensor", data["calibrated_sensor_token"])
        intrinsics.append(np.array(calibrated["camera_intrinsic"], dtype=np.float64))
        cam2ego.append(_matrix(calibrated["rotation"], calibrated["translation"]))
        hw = hw or (int(data["height"]), int(data["width"]))
    return CameraRig(CAMERA_NAMES, np.stack(intrinsics), np.stack(cam2ego), hw)


def _agents(nusc, samples: list[dict], times: np.ndarray, origin: tuple[float, float]) -> list[LoggedAgent]:
    tracks: dict[str, list] = {}
    for k, sample in enumerate(samples):
        for ann_token in sample["anns"]:
            ann = nusc.get("sample_annotation", ann_token)
            cls_name = occ3d_class(ann["category_name"])
            if cls_name is None:
                continue
            x, y = ann["translation"][0] - origin[0], ann["translation"][1] - origin[1]
            w, length, h = ann["size"]
            tracks.setdefault(ann["instance_token"], []).append(
                (times[k], (x, y, yaw_of(ann["rotation"])), cls_name, (length, w, h))
            )
    agents = []
    for instance, track in tracks.items():
        yaws = np.unwrap([p[1][2] for p in track])
        poses = np.array([(p[1][0], p[1][1], yaw) for p, yaw in zip(track, yaws)])
        agents.append(
            LoggedAgent(
                f"{track[0][2]}-{instance[:6]}", track[0][2], track[0][3], np.array([p[0] for p in track]), poses
            )
        )
    return agents


def _map(nusc, dataroot, log: dict, ego_poses: np.ndarray, origin, notes: list[str]):
    """Drivable area and lanes near the logged path, local frame."""
    location = log["location"]
    expansion = Path(dataroot) / "maps" / "expansion" / f"{location}.json"
    xy = ego_poses[:, :2]
    area = shapely.LineString(xy if len(xy) > 1 else np.vstack([xy, xy + 0.1])).buffer(MAP_RADIUS)
    if expansion.is_file():
        from nuscenes.map_expansion.map_api import NuScenesMap

        nusc_map = NuScenesMap(dataroot=str(dataroot), map_name=location)
        shift = np.array(origin)
        polygons = []
        for record in nusc_map.drivable_area:
            for token in record["polygon_tokens"]:
                polygon = nusc_map.extract_polygon(token)
                polygon = shapely.affinity.translate(polygon, -shift[0], -shift[1])
                if polygon.intersects(area):
                    polygons.append(polygon.intersection(area))
        lanes = []
        for points in nusc_map.discretize_lanes(
            [lane["token"] for lane in nusc_map.lane + nusc_map.lane_connector], LANE_RESOLUTION
        ).values():
            line = np.asarray(points)[:, :2] - shift
            if len(line) > 1 and shapely.LineString(line).intersects(area):
                lanes.append(line)
        return shapely.union_all(polygons) if polygons else None, lanes
    notes.append(
        f"map expansion not found at {expansion}: drivable area from the semantic-prior map mask, "
        "no lane centrelines (the ego's lane follows its logged path)"
    )
    warnings.warn(notes[-1], stacklevel=3)
    mask_record = nusc.get("map", log["map_token"])
    return _mask_polygon(mask_record["mask"], area, origin), []


def _mask_polygon(map_mask, area: Polygon, origin) -> Polygon | None:
    """The drivable pixels of a semantic-prior mask inside ``area`` as a local-frame polygon."""
    import cv2

    mask = map_mask.mask()
    transform = map_mask.transform_matrix  # global (x, y) -> pixel (col, row)
    xmin, ymin, xmax, ymax = area.bounds
    corners = np.array([[xmin, ymin], [xmax, ymax]]) + np.array(origin)
    cols, rows = [], []
    for x, y in corners:
        col, row = (transform @ np.array([x, y, 0.0, 1.0]))[:2]
        cols.append(col)
        rows.append(row)
    c0, c1 = (int(np.clip(v, 0, mask.shape[1])) for v in (min(cols), max(cols)))
    r0, r1 = (int(np.clip(v, 0, mask.shape[0])) for v in (min(rows), max(rows)))
    crop = np.ascontiguousarray((mask[r0:r1, c0:c1] > 0).astype(np.uint8))
    contours, _ = cv2.findContours(crop, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    inverse = np.linalg.inv(transform)
    polygons = []
    for contour in contours:
        if len(contour) < 3:
            continue
        pixels = contour[:, 0].astype(np.float64) + (c0, r0)
        homogeneous = np.column_stack([pixels, np.zeros(len(pixels)), np.ones(len(pixels))])
        world = (homogeneous @ inverse.T)[:, :2] - np.array(origin)
        polygons.append(Polygon(world))
    if not polygons:
        return None
    # Holes are contours too: the symmetric difference of all rings keeps them as holes.
    shape = shapely.make_valid(polygons[0])
    for polygon in polygons[1:]:
        shape = shape.symmetric_difference(shapely.make_valid(polygon))
    return shape.intersection(area)


def _occ3d(dataroot: Path, scene: str, tokens: list[str], notes: list[str]) -> dict[int, np.ndarray]:
    folder = dataroot / "gts" / scene
    out = {}
    for k, token in enumerate(tokens):
        path = folder / token / "labels.npz"
        if path.is_file():
            with np.load(path) as data:
                out[k] = data["semantics"].astype(np.uint8)
    if not out:
        notes.append(f"no Occ3D labels under {folder}: the static world is built from the map and the annotations")
    return out
