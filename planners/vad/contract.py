"""What VAD's test pipeline feeds the network, built from an OccSim observation; and VAD's output back.

numpy and OpenCV only (no torch), so it can also run in another planner's own Python. Conventions follow hustvl/VAD
(``vad_nuscenes_converter.py``, ``nuscenes_vad_dataset.py``, the ``VAD_*_e2e.py`` test pipeline):

- Cameras in VAD's order F, FR, FL, B, BL, BR; each view resized to 1600 x 900, normalised, scaled by the variant's
  test scale (0.8 Base, 0.4 Tiny) and zero-padded to a multiple of 32 (1280 x 736, 640 x 384);
  ``lidar2img`` = the scale @ intrinsics @ lidar2cam.
- ``img_shape`` in the metas is the padded shape: ``PadMultiViewImage`` overwrites it (``transform_3d.py``), and
  the BEV encoder normalises projected pixels by it.
- The released checkpoints need caffe-style input (BGR, mean subtracted, std 1), not the configs' ImageNet
  normalisation (hustvl/VAD issues #9 and #18).
- VAD's LiDAR frame (nuScenes LIDAR_TOP): x right, y forward, z up, 0.94 m ahead of and 1.84 m above the rear axle.
  ``ego_fut_preds`` are per-step offsets of the LiDAR's future positions in the current LiDAR frame.
- Commands one-hot [right, left, straight]; from a logged future, right if the final LiDAR x offset is >= 2 m,
  left if <= -2 m.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

# OccSim's camera order (ARCHITECTURE.md) and VAD's (the converter's ``camera_types``).
OCCSIM_CAMERAS = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_BACK_RIGHT", "CAM_BACK", "CAM_BACK_LEFT")
VAD_CAMERAS = ("CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_FRONT_LEFT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT")
NUSCENES_HW = (900, 1600)  # (height, width) of the nuScenes camera images [px]
TEST_SCALE = 0.8  # RandomScaleImageMultiViewImage(scales=[0.8]) in VAD-Base's test pipeline (0.4 for Tiny)
SIZE_DIVISOR = 32  # PadMultiViewImage(size_divisor=32)
STEP = 0.5  # [s] between VAD's samples (nuScenes keyframes at 2 Hz)
COMMAND_THRESHOLD = 2.0  # [m] final lateral LiDAR offset that makes a turn command
VAD_EGO_LENGTH, VAD_EGO_WIDTH = 4.084, 1.85  # [m], the converter's ego size
# LIDAR_TOP on the nuScenes car: yawed -90 degrees (its x points right) at this position in the ego frame [m].
LIDAR_IN_EGO = np.array([0.943713, 0.0, 1.84023])
LIDAR2EGO = np.array(
    [
        [0.0, 1.0, 0.0, LIDAR_IN_EGO[0]],
        [-1.0, 0.0, 0.0, LIDAR_IN_EGO[1]],
        [0.0, 0.0, 1.0, LIDAR_IN_EGO[2]],
        [0, 0, 0, 1],
    ]
)
# nuScenes reports the steering-wheel angle; OccSim the road-wheel angle. A typical passenger-car ratio converts.
STEERING_RATIO = 14.0


@dataclass(frozen=True)
class ImageNorm:
    """mmcv's ``NormalizeMultiviewImage``: images are read BGR; ``to_rgb`` flips them before (x - mean) / std."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    to_rgb: bool


IMAGENET_NORM = ImageNorm((123.675, 116.28, 103.53), (58.395, 57.12, 57.375), True)  # what the configs say
CAFFE_NORM = ImageNorm((103.530, 116.280, 123.675), (1.0, 1.0, 1.0), False)  # what the released weights need


def camera_permutation(names: tuple[str, ...] = OCCSIM_CAMERAS) -> list[int]:
    """Indices into ``names`` that list the cameras in VAD's order."""
    missing = [c for c in VAD_CAMERAS if c not in names]
    if missing:
        raise ValueError(f"VAD needs the six nuScenes cameras; missing {missing}")
    return [list(names).index(c) for c in VAD_CAMERAS]


def vad_images(
    images: np.ndarray,
    norm: ImageNorm = CAFFE_NORM,
    names: tuple[str, ...] = OCCSIM_CAMERAS,
    scale: float = TEST_SCALE,
):
    """(6, 3, H_pad, W_pad) float32 network input from (6, h, w, 3) RGB uint8 views.

    Also returns the scaled (unpadded) and the padded shape (height, width, 3).
    """
    out = []
    mean, std = np.array(norm.mean, np.float32), np.array(norm.std, np.float32)
    for view in np.asarray(images)[camera_permutation(names)]:
        full = cv2.resize(view, NUSCENES_HW[::-1], interpolation=cv2.INTER_LINEAR).astype(np.float32)
        if not norm.to_rgb:  # the network expects the BGR order mmcv loads
            full = full[..., ::-1]
        full = (full - mean) / std
        h, w = (int(NUSCENES_HW[0] * scale), int(NUSCENES_HW[1] * scale))
        scaled = cv2.resize(full, (w, h), interpolation=cv2.INTER_LINEAR)
        ph, pw = -(-h // SIZE_DIVISOR) * SIZE_DIVISOR, -(-w // SIZE_DIVISOR) * SIZE_DIVISOR
        padded = np.zeros((ph, pw, 3), np.float32)
        padded[:h, :w] = scaled
        out.append(padded.transpose(2, 0, 1))
    return np.stack(out), (h, w, 3), (ph, pw, 3)


def lidar2img(
    intrinsics: np.ndarray,
    cam2ego: np.ndarray,
    hw: tuple[int, int],
    names: tuple[str, ...] = OCCSIM_CAMERAS,
    scale: float = TEST_SCALE,
) -> np.ndarray:
    """(6, 4, 4) VAD ``lidar2img`` in VAD's camera order, for the 1600 x 900 images scaled by ``scale``.

    Args:
        intrinsics: (6, 3, 3) for OccSim images of size ``hw``.
        cam2ego: (6, 4, 4) OpenCV camera frame -> OccSim ego frame.
        hw: (height, width) of the OccSim images.
        names: the camera names in the order of ``intrinsics`` and ``cam2ego``.
        scale: the variant's test-time image scale.
    """
    scaling = np.diag([scale, scale, 1.0, 1.0])
    to_full = np.diag([NUSCENES_HW[1] / hw[1], NUSCENES_HW[0] / hw[0], 1.0])
    out = []
    for i in camera_permutation(names):
        viewpad = np.eye(4)
        viewpad[:3, :3] = to_full @ np.asarray(intrinsics[i], dtype=np.float64)
        lidar2cam = np.linalg.inv(np.asarray(cam2ego[i], dtype=np.float64)) @ LIDAR2EGO
        out.append(scaling @ viewpad @ lidar2cam)
    return np.stack(out)


def can_bus(ego_pose: np.ndarray, ego: np.ndarray) -> np.ndarray:
    """``can_bus`` as VAD's nuScenes dataset fills it (float64, 18 values).

    [0:3] position (x, y, 0) [m]; [3:7] orientation quaternion (w, x, y, z) of a yaw rotation; [7:10] acceleration
    (ego frame, longitudinal only) [m/s^2]; [10:13] rotation rate (0, 0, yaw rate) [rad/s]; [13:16] velocity (ego
    frame) [m/s]; [16] yaw [rad] and [17] yaw [deg], both in [0, 360) degrees as VAD's ``patch_angle``.

    Args:
        ego_pose: (3,) world x, y [m] and yaw [rad].
        ego: (4,) speed [m/s], acceleration [m/s^2], yaw rate [rad/s], steering [rad] (OccSim's ``ego`` observation).
    """
    x, y, yaw = (float(v) for v in ego_pose[:3])
    speed, accel, yaw_rate = float(ego[0]), float(ego[1]), float(ego[2])
    out = np.zeros(18)
    out[0:3] = (x, y, 0.0)
    out[3:7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
    out[7:10] = (accel, 0.0, 0.0)
    out[10:13] = (0.0, 0.0, yaw_rate)
    out[13:16] = (speed, 0.0, 0.0)
    degrees = np.degrees(yaw) % 360.0
    out[16] = np.radians(degrees)
    out[17] = degrees
    return out


def ego_lcf_feat(
    ego_pose: np.ndarray, ego: np.ndarray, previous_pose: np.ndarray | None, steering_ratio: float = STEERING_RATIO
) -> np.ndarray:
    """VAD's 9-value ``ego_lcf_feat`` (vx, vy, ax, ay, w, length, width, v0, kappa) as the converter computes it.

    vx, vy = v cos(yaw + pi/2), v sin(yaw + pi/2) with v the distance from the previous pose over 0.5 s and yaw the
    global heading (the converter's own convention); w the heading change over 0.5 s (wrapped to (-pi, pi], which
    the converter does not do); ax, ay from ``can_bus[7:9]``; v0 the longitudinal speed; kappa = 2 * steering-wheel
    angle / 2.588. Without a previous pose (first step) v is the current speed and w the yaw rate.
    """
    x, y, yaw = (float(v) for v in ego_pose[:3])
    speed, accel, yaw_rate, steering = (float(v) for v in ego[:4])
    if previous_pose is None:
        v, w = speed, yaw_rate
    else:
        px, py, pyaw = (float(v) for v in previous_pose[:3])
        v = float(np.hypot(x - px, y - py)) / STEP
        w = float(np.angle(np.exp(1j * (yaw - pyaw)))) / STEP
    bus = can_bus(ego_pose, ego)
    return np.array(
        [
            v * np.cos(yaw + np.pi / 2),
            v * np.sin(yaw + np.pi / 2),
            bus[7],
            bus[8],
            w,
            VAD_EGO_LENGTH,
            VAD_EGO_WIDTH,
            speed,
            2.0 * steering * steering_ratio / 2.588,
        ]
    )


def command_one_hot(command: int) -> np.ndarray:
    """VAD's ``ego_fut_cmd`` [right, left, straight] from OccSim's command (0 right, 1 left, 2 straight)."""
    if command not in (0, 1, 2):
        raise ValueError(f"command must be 0 (right), 1 (left) or 2 (straight), got {command!r}")
    out = np.zeros(3)
    out[command] = 1.0
    return out


def command_from_future(lidar_positions: np.ndarray) -> int:
    """The converter's rule: right (0) if the last future LiDAR x >= 2 m, left (1) if <= -2 m, else straight (2).

    Args:
        lidar_positions: (T, 2) future LiDAR positions in the current LiDAR frame (x right, y forward) [m].
    """
    final_x = float(np.asarray(lidar_positions)[-1, 0])
    if final_x >= COMMAND_THRESHOLD:
        return 0
    if final_x <= -COMMAND_THRESHOLD:
        return 1
    return 2


def ego_to_lidar(points: np.ndarray) -> np.ndarray:
    """(N, 2) ego-frame ground points -> the LiDAR frame (x right, y forward)."""
    p = np.asarray(points, dtype=np.float64) - LIDAR_IN_EGO[:2]
    return np.stack([-p[:, 1], p[:, 0]], axis=1)


def lidar_to_ego(points: np.ndarray) -> np.ndarray:
    """(N, 2) LiDAR-frame points -> the ego frame (x forward, y left)."""
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[:, 1], -p[:, 0]], axis=1) + LIDAR_IN_EGO[:2]


def waypoints_from_vad(ego_fut_preds: np.ndarray, command: int) -> np.ndarray:
    """OccSim waypoints (6, 2) of the rear axle in the ego frame from VAD's ``ego_fut_preds`` (3, 6, 2).

    The command's row of offsets is summed into future LiDAR positions, moved to the ego frame, and each is shifted
    back by the LiDAR's mount offset along the heading the path has there.
    """
    preds = np.asarray(ego_fut_preds, dtype=np.float64)
    if preds.shape != (3, 6, 2):
        raise ValueError(f"ego_fut_preds must be (3, 6, 2), got {preds.shape}")
    lidar_path = lidar_to_ego(np.cumsum(preds[command], axis=0))
    previous, heading, out = LIDAR_IN_EGO[:2], 0.0, []
    for point in lidar_path:
        step = point - previous
        if np.hypot(*step) > 0.2:  # too short a step says nothing about the heading
            heading = float(np.arctan2(step[1], step[0]))
        c, s = np.cos(heading), np.sin(heading)
        offset = LIDAR_IN_EGO[0]
        out.append(point - offset * np.array([c, s]))
        previous = point
    return np.stack(out)


def history_offsets(poses: list[np.ndarray], ego_pose: np.ndarray, speed: float) -> np.ndarray:
    """VAD's ``ego_his_trajs`` (2, 2): per-step offsets of the LiDAR over the last two steps, current LiDAR frame.

    Missing history is filled at the current speed straight ahead, as the converter extrapolates.
    """
    x, y, yaw = (float(v) for v in ego_pose[:3])
    c, s = np.cos(yaw), np.sin(yaw)
    local = []
    for px, py, pyaw in [tuple(float(v) for v in p[:3]) for p in poses[-2:]]:
        dx, dy = px - x, py - y
        ego_xy = np.array([c * dx + s * dy, -s * dx + c * dy])
        dyaw = pyaw - yaw
        mount = LIDAR_IN_EGO[0] * np.array([np.cos(dyaw), np.sin(dyaw)])
        local.append(ego_xy + mount)
    while len(local) < 2:
        first = local[0] if local else LIDAR_IN_EGO[:2]
        local.insert(0, first - np.array([speed * STEP, 0.0]))
    track = ego_to_lidar(np.stack([*local, LIDAR_IN_EGO[:2]]))
    return np.diff(track, axis=0)


@dataclass
class VADInputs:
    """One frame of VAD's test-time inputs (batch of one)."""

    img: np.ndarray  # (6, 3, H_pad, W_pad) float32
    img_metas: dict[str, Any]  # can_bus, lidar2img, img_shape, pad_shape, ori_shape, scene_token
    ego_fut_cmd: np.ndarray  # (3,) [right, left, straight]
    ego_lcf_feat: np.ndarray  # (9,)
    ego_his_trajs: np.ndarray  # (2, 2)


@dataclass
class VADInputBuilder:
    """Keeps the few poses of history that ``ego_lcf_feat`` and ``ego_his_trajs`` need."""

    norm: ImageNorm = CAFFE_NORM
    scale: float = TEST_SCALE  # the variant's test-time image scale
    scene_token: str = "occsim"
    poses: list[np.ndarray] = field(default_factory=list)

    def reset(self, scene_token: str) -> None:
        """A new episode: VAD drops its previous BEV when the scene token changes."""
        self.scene_token = scene_token
        self.poses = []

    def build(self, observation: dict[str, Any]) -> VADInputs:
        """Inputs for this observation; then remembers its pose."""
        images = np.asarray(observation["images"])
        pose = np.asarray(observation["ego_pose"], dtype=np.float64)
        ego = np.asarray(observation["ego"], dtype=np.float64)
        img, _, pad_shape = vad_images(images, self.norm, scale=self.scale)
        l2i = lidar2img(observation["intrinsics"], observation["cam2ego"], images.shape[1:3], scale=self.scale)
        metas = {
            "can_bus": can_bus(pose, ego),
            "lidar2img": list(l2i),
            "img_shape": [pad_shape] * 6,  # PadMultiViewImage overwrites it with the padded shape
            "ori_shape": [(*NUSCENES_HW, 3)] * 6,
            "pad_shape": [pad_shape] * 6,
            "scene_token": self.scene_token,
        }
        inputs = VADInputs(
            img=img,
            img_metas=metas,
            ego_fut_cmd=command_one_hot(int(observation["command"])),
            ego_lcf_feat=ego_lcf_feat(pose, ego, self.poses[-1] if self.poses else None),
            ego_his_trajs=history_offsets(self.poses, pose, float(ego[0])),
        )
        self.poses = [*self.poses[-1:], pose]
        return inputs
