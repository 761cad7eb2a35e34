"""The default renderer: a CPU ray caster with physically based weather.

Static voxels are walked column by column (2D DDA over per-column layer bit masks, with empty-space skipping):
exactly the first voxel a 3D DDA would hit. The ground is a textured plane, actors are exact oriented boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba.typed import List

from occsim.sensors.parallel import KERNEL_LOCK
from occsim.sensors.raster_kernel import _finish, _trace, screen_rects
from occsim.sensors.renderer import Renderer, register_renderer
from occsim.sensors.weather import make_weather
from occsim.types import CameraFrames, CameraRig, Weather
from occsim.world.background import BLOCK, TEXEL, StaticWorld
from occsim.world.world import World

MAX_DISTANCE = 150.0  # [m] rays that hit nothing by then see sky

# Base albedo per Occ3D class (linear RGB); vehicles get per-instance paint instead.
ALBEDO = np.array(
    [
        [0.4, 0.4, 0.4],  # others
        [0.75, 0.72, 0.7],  # barrier (striped red in the kernel)
        [0.2, 0.3, 0.6],  # bicycle
        [0.8, 0.1, 0.1],  # bus
        [0.5, 0.5, 0.5],  # car
        [0.85, 0.6, 0.1],  # construction_vehicle
        [0.15, 0.15, 0.18],  # motorcycle
        [0.3, 0.35, 0.55],  # pedestrian
        [0.95, 0.35, 0.05],  # traffic_cone
        [0.7, 0.7, 0.72],  # trailer
        [0.8, 0.8, 0.82],  # truck
        [0.22, 0.22, 0.23],  # driveable_surface
        [0.4, 0.38, 0.35],  # other_flat
        [0.55, 0.54, 0.5],  # sidewalk
        [0.28, 0.42, 0.16],  # terrain
        [0.62, 0.58, 0.52],  # manmade
        [0.16, 0.36, 0.12],  # vegetation
        [0.0, 0.0, 0.0],  # free
    ]
)
# Ground texture code -> albedo (asphalt, white marking, yellow marking, pavement, kerb, grass, paved).
GROUND_ALBEDO = np.array(
    [
        [0.2, 0.2, 0.21],
        [0.85, 0.85, 0.82],
        [0.85, 0.68, 0.18],
        [0.55, 0.54, 0.5],
        [0.7, 0.7, 0.68],
        [0.26, 0.4, 0.15],
        [0.36, 0.35, 0.33],
    ]
)
GROUND_CLASS = np.array([11, 11, 11, 13, 13, 14, 12], dtype=np.uint8)
PAINTS = np.array(
    [
        [0.85, 0.85, 0.86],
        [0.06, 0.06, 0.07],
        [0.55, 0.56, 0.58],
        [0.6, 0.08, 0.07],
        [0.1, 0.2, 0.5],
        [0.3, 0.31, 0.33],
        [0.75, 0.73, 0.65],
        [0.1, 0.3, 0.15],
    ]
)
FACADES = np.array([[0.62, 0.58, 0.52], [0.55, 0.36, 0.28], [0.7, 0.7, 0.68], [0.45, 0.45, 0.47], [0.76, 0.7, 0.58]])
_GAMMA_STEPS = 4096
_GAMMA_LUT = (np.linspace(0.0, 1.0, _GAMMA_STEPS) ** (1 / 2.2) * 255.0 + 0.5).astype(np.uint8)  # display gamma


DEVICES = ("cpu", "cuda")


@register_renderer("raster")
class RasterRenderer(Renderer):
    """Fast ray caster with physically based weather: numba on every CPU core, or one CUDA thread per pixel.

    Args:
        rig: the cameras.
        max_distance: [m] rays that hit nothing by then see sky.
        device: ``"cpu"`` or ``"cuda"`` (an NVIDIA GPU through numba.cuda; the same per-pixel code).
    """

    def __init__(self, rig: CameraRig, max_distance: float = MAX_DISTANCE, device: str = "cpu"):
        super().__init__(rig)
        self.check_options(device=device)
        self.max_distance = max_distance
        self.device = device
        h, w = rig.hw
        v, u = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
        pix = np.stack([u, v, np.ones_like(u)], axis=-1)
        rays = np.einsum("nij,hwj->nhwi", np.linalg.inv(rig.intrinsics), pix)
        self._rays = (rays / np.linalg.norm(rays, axis=-1, keepdims=True)).astype(np.float64)  # camera frame
        self._z = self._rays[..., 2].astype(np.float32)  # cos of the angle to the optical axis: distance -> depth
        self._gpu = None
        self._statics: tuple[list[StaticWorld], _StaticLists] | None = None  # the last batch's, reused while unchanged
        if device == "cuda":
            from occsim.sensors.raster_cuda import CudaTracer  # numba.cuda only where asked for

            tables = {"albedo": ALBEDO, "ground": GROUND_ALBEDO, "ground_class": GROUND_CLASS, "facades": FACADES}
            self._gpu = CudaTracer(self._rays, tables, BLOCK, TEXEL, max_distance)

    @classmethod
    def check_options(cls, **options) -> None:
        """Unknown options and devices are refused up front; ``cuda`` also needs a GPU that numba can reach."""
        super().check_options(**options)
        device = options.get("device", "cpu")
        if device not in DEVICES:
            raise ValueError(f"renderer 'raster' runs on device 'cpu' or 'cuda', not {device!r}")
        if device == "cuda":
            from occsim.sensors.raster_cuda import cuda_problem

            problem = cuda_problem()
            if problem:
                raise ValueError(problem)

    def render(self, world: World, weather: Weather, seed: int) -> CameraFrames:
        """Ray cast all cameras, shade, then apply the weather's image-space effects."""
        return self.render_batch([world], [weather], [seed])[0]

    def render_batch(self, worlds: list[World], weathers: list[Weather], seeds: list[int]) -> list[CameraFrames]:
        """Render several worlds through this rig in one launch of the ray-casting kernel (vectorised envs).

        Each world's frames are byte for byte what ``render`` gives for it alone: the kernel's per-pixel work does
        not depend on the batch, and each world's weather noise comes from its own ``seed``.
        """
        if not (len(worlds) == len(weathers) == len(seeds)) or not worlds:
            raise ValueError("render_batch needs one weather and one seed per world, and at least one world")
        models = [make_weather(w) for w in weathers]
        n, (h, w) = len(self.rig.names), self.rig.hw
        count = len(worlds)
        cam_rot = np.empty((count, n, 3, 3))
        cam_pos = np.empty((count, n, 3))
        light = np.stack([m.illumination().as_array() for m in models])
        ego = np.array([[x.ego.pose.x, x.ego.pose.y, x.ego.pose.yaw] for x in worlds])
        boxes, rects, paint = [], [], []
        for k, world in enumerate(worlds):
            cam_rot[k], cam_pos[k] = self._camera_poses(world)
            boxes.append(_box_array(world))
            rects.append(screen_rects(boxes[k], cam_rot[k], cam_pos[k], self.rig.intrinsics, h, w, self.max_distance))
            paint.append(
                PAINTS[(boxes[k][:, 7].astype(np.int64) * 5 + 3) % len(PAINTS)] if len(boxes[k]) else np.zeros((0, 3))
            )
        rgb = np.empty((count, n, h, w, 3), dtype=np.float32)
        dist = np.empty((count, n, h, w), dtype=np.float32)
        sem = np.empty((count, n, h, w), dtype=np.uint8)
        if self._gpu is not None:
            from occsim.sensors.raster_cuda import WorldArrays

            arrays = [
                WorldArrays(x.static, cam_rot[k], cam_pos[k], boxes[k], rects[k], paint[k], light[k], ego[k])
                for k, x in enumerate(worlds)
            ]
            self._gpu.trace(arrays, rgb, dist, sem)
        else:
            statics = self._packed_statics([world.static for world in worlds])
            with KERNEL_LOCK:
                _trace(
                    self._rays,
                    cam_rot,
                    cam_pos,
                    statics.columns,
                    statics.labels,
                    statics.clearance,
                    statics.block_top,
                    BLOCK,
                    statics.lower,
                    statics.voxel,
                    statics.top,
                    statics.texture,
                    TEXEL,
                    List(boxes),
                    List(rects),
                    List(paint),
                    ALBEDO,
                    GROUND_ALBEDO,
                    GROUND_CLASS,
                    FACADES,
                    light,
                    statics.lamps,
                    ego,
                    self.max_distance,
                    rgb,
                    dist,
                    sem,
                )
        for k, (model, seed) in enumerate(zip(models, seeds)):
            rgb[k] = model.apply(rgb[k], dist[k], np.random.default_rng(seed))
        image = np.empty(rgb.shape, dtype=np.uint8)
        depth = np.empty(dist.shape, dtype=np.float32)
        with KERNEL_LOCK:
            _finish(
                rgb.reshape(count * n, h, w, 3),
                dist.reshape(count * n, h, w),
                np.broadcast_to(self._z[None], (count, n, h, w)).reshape(count * n, h, w),
                _GAMMA_LUT,
                image.reshape(count * n, h, w, 3),
                depth.reshape(count * n, h, w),
            )
        return [CameraFrames(image[k], depth[k], sem[k]) for k in range(count)]

    def _packed_statics(self, statics: list[StaticWorld]) -> _StaticLists:
        """The kernel's packing of ``statics``, kept while the batch's static worlds stay the same objects."""
        cached = self._statics
        if cached is None or len(cached[0]) != len(statics) or any(a is not b for a, b in zip(cached[0], statics)):
            self._statics = cached = (list(statics), _static_lists(statics))
        return cached[1]

    def _camera_poses(self, world: World) -> tuple[np.ndarray, np.ndarray]:
        """World-frame rotations (n, 3, 3) and positions (n, 3) of the rig's cameras on the ego."""
        pose = world.ego.pose
        c, s = np.cos(pose.yaw), np.sin(pose.yaw)
        ego_rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        cam_rot = np.einsum("ij,njk->nik", ego_rot, self.rig.cam2ego[:, :3, :3])
        cam_pos = np.einsum("ij,nj->ni", ego_rot, self.rig.cam2ego[:, :3, 3]) + (pose.x, pose.y, 0.0)
        return cam_rot, cam_pos


@dataclass(frozen=True)
class _StaticLists:
    """The kernel's view of several static worlds: per-world arrays in typed lists, scalars stacked."""

    columns: List
    labels: List
    clearance: List
    block_top: List
    texture: List
    lamps: List
    lower: np.ndarray  # (worlds, 3)
    voxel: np.ndarray  # (worlds,)
    top: np.ndarray  # (worlds,)


def _static_lists(statics: list[StaticWorld]) -> _StaticLists:
    """Pack static worlds for ``_trace`` (typed lists cost about 25 µs each to build, nothing beside the kernel)."""
    lists = [List() for _ in range(6)]
    for st in statics:
        arrays = (st.columns, st.labels, st.clearance, st.block_top, st.texture, st.lamps.reshape(-1, 3))
        for target, array in zip(lists, arrays):
            target.append(np.ascontiguousarray(array))
    return _StaticLists(
        *lists,
        lower=np.array([st.grid.lower for st in statics], dtype=np.float64),
        voxel=np.array([st.grid.voxel_size for st in statics], dtype=np.float64),
        top=np.array([st.top for st in statics], dtype=np.float64),
    )


def _box_array(world: World) -> np.ndarray:
    """Actors as rows (x, y, yaw, length, width, height, class, instance), world frame."""
    out = np.zeros((len(world.actors), 8))
    for i, a in enumerate(world.actors):
        out[i] = (a.x, a.y, a.yaw, *a.size, a.cls, a.instance)
    return out
