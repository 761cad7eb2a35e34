"""The ray caster on an NVIDIA GPU (``RasterRenderer(device="cuda")``): one CUDA thread per pixel.

Each thread runs the CPU kernel's own per-pixel code (``raster_kernel._trace_ray``: numba compiles ``@njit``
functions called from a CUDA kernel as device functions), so the two devices differ only in floating-point
rounding (the CPU kernel is built with fastmath). Static worlds go to the GPU once and stay there while alive;
each step uploads the actors, camera poses and light (a few kB) and brings back the linear image, distance and
classes, which the weather's image-space effects then read on the CPU as before. Worlds of a batch are launched
one after another on one stream, so the GPU queues them without waiting for the host.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import cuda

from occsim.sensors.raster_kernel import _trace_ray
from occsim.world.background import StaticWorld

THREADS_PER_BLOCK = 128


@cuda.jit
def _trace_cuda(
    rays,
    cam_rot,
    cam_pos,
    columns,
    labels,
    clearance,
    block_top,
    block,
    lower,
    voxel,
    top,
    texture,
    texel,
    boxes,
    rects,
    paint,
    albedo_tab,
    ground_tab,
    ground_cls,
    facades,
    light,
    lamps,
    ego,
    max_dist,
    out_rgb,
    out_dist,
    out_sem,
):  # pragma: no cover - runs on the GPU (or numba's simulator, in a subprocess)
    """Every pixel of one world's cameras: the same arithmetic as ``raster_kernel._trace``."""
    n, h, w, _ = rays.shape
    job = cuda.grid(1)
    if job >= n * h * w:
        return
    cam, r, col = job // (h * w), (job // w) % h, job % w
    c0, c1, c2, t_end, cls = _trace_ray(
        cam,
        r,
        col,
        cam_rot[cam],
        rays[cam, r, col],
        cam_pos[cam, 0],
        cam_pos[cam, 1],
        cam_pos[cam, 2],
        columns,
        labels,
        clearance,
        block_top,
        block,
        lower,
        voxel,
        top,
        texture,
        texel,
        boxes,
        rects,
        paint,
        albedo_tab,
        ground_tab,
        ground_cls,
        facades,
        light,
        lamps,
        ego,
        max_dist,
    )
    out_rgb[cam, r, col, 0] = c0
    out_rgb[cam, r, col, 1] = c1
    out_rgb[cam, r, col, 2] = c2
    out_dist[cam, r, col] = t_end
    out_sem[cam, r, col] = cls


def cuda_problem() -> str | None:
    """Why ``device="cuda"`` cannot run here, or None when it can."""
    try:
        if cuda.is_available():
            return None
    except Exception as e:  # a broken driver install raises instead of answering False
        return f"numba.cuda cannot reach a GPU: {e}"
    return "no CUDA GPU is visible to numba (numba.cuda.is_available() is False); use device='cpu'"


@dataclass(frozen=True)
class WorldArrays:
    """One world's inputs to the kernel besides the renderer's constant tables."""

    static: StaticWorld
    cam_rot: np.ndarray  # (n, 3, 3)
    cam_pos: np.ndarray  # (n, 3)
    boxes: np.ndarray  # (B, 8)
    rects: np.ndarray  # (n, B, 4) int32
    paint: np.ndarray  # (B, 3)
    light: np.ndarray  # (L,)
    ego: np.ndarray  # (3,)


class CudaTracer:
    """The renderer's constant arrays on the GPU, a cache of static worlds there, and the launches.

    Raises:
        ValueError: no GPU (see ``cuda_problem``).
    """

    def __init__(self, rays: np.ndarray, tables: dict[str, np.ndarray], block: int, texel: float, max_dist: float):
        problem = cuda_problem()
        if problem:
            raise ValueError(problem)
        self.stream = cuda.stream()
        self.rays = cuda.to_device(np.ascontiguousarray(rays), stream=self.stream)
        self.tables = {k: cuda.to_device(np.ascontiguousarray(v), stream=self.stream) for k, v in tables.items()}
        self.block, self.texel, self.max_dist = block, texel, max_dist
        self._statics: dict[int, tuple[weakref.ref, dict[str, Any]]] = {}

    def _static(self, static: StaticWorld) -> dict[str, Any]:
        """The static world's arrays on the GPU, uploaded on first sight and dropped when the world is."""
        key = id(static)
        cached = self._statics.get(key)
        if cached is not None and cached[0]() is static:
            return cached[1]
        arrays = {
            "columns": static.columns,
            "labels": static.labels,
            "clearance": static.clearance,
            "block_top": static.block_top,
            "texture": static.texture,
            "lamps": static.lamps.reshape(-1, 3),
            "lower": np.asarray(static.grid.lower, dtype=np.float64),
        }
        on_device = {k: cuda.to_device(np.ascontiguousarray(v), stream=self.stream) for k, v in arrays.items()}
        self._statics[key] = (weakref.ref(static, lambda _: self._statics.pop(key, None)), on_device)
        return on_device

    def trace(self, worlds: list[WorldArrays], out_rgb: np.ndarray, out_dist: np.ndarray, out_sem: np.ndarray):
        """Fill ``out_*[k]`` (linear RGB float32, distance float32, class uint8) for each of ``worlds``."""
        n, h, w, _ = self.rays.shape
        blocks = (n * h * w + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
        results = []
        for world in worlds:
            static = self._static(world.static)
            per_step = [
                cuda.to_device(np.ascontiguousarray(a), stream=self.stream)
                for a in (world.cam_rot, world.cam_pos, world.boxes, world.rects, world.paint, world.light, world.ego)
            ]
            cam_rot, cam_pos, boxes, rects, paint, light, ego = per_step
            rgb = cuda.device_array((n, h, w, 3), dtype=np.float32, stream=self.stream)
            dist = cuda.device_array((n, h, w), dtype=np.float32, stream=self.stream)
            sem = cuda.device_array((n, h, w), dtype=np.uint8, stream=self.stream)
            _trace_cuda[blocks, THREADS_PER_BLOCK, self.stream](
                self.rays,
                cam_rot,
                cam_pos,
                static["columns"],
                static["labels"],
                static["clearance"],
                static["block_top"],
                self.block,
                static["lower"],
                float(world.static.grid.voxel_size),
                float(world.static.top),
                static["texture"],
                self.texel,
                boxes,
                rects,
                paint,
                self.tables["albedo"],
                self.tables["ground"],
                self.tables["ground_class"],
                self.tables["facades"],
                light,
                static["lamps"],
                ego,
                self.max_dist,
                rgb,
                dist,
                sem,
            )
            results.append((rgb, dist, sem))
        for k, (rgb, dist, sem) in enumerate(results):
            rgb.copy_to_host(out_rgb[k], stream=self.stream)
            dist.copy_to_host(out_dist[k], stream=self.stream)
            sem.copy_to_host(out_sem[k], stream=self.stream)
        self.stream.synchronize()
