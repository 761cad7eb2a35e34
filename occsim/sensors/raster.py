"""The default renderer: a CPU ray caster with physically based weather.

Static voxels are walked column by column (2D DDA over per-column layer bit masks, with empty-space skipping):
exactly the first voxel a 3D DDA would hit. The ground is a textured plane, actors are exact oriented boxes.
"""

from __future__ import annotations

import numba
import numpy as np

from occsim.classes import FREE
from occsim.sensors.parallel import KERNEL_LOCK
from occsim.sensors.renderer import Renderer, register_renderer
from occsim.sensors.weather import make_weather
from occsim.types import CameraFrames, CameraRig, Weather
from occsim.world.background import BLOCK, TEXEL
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
# Ground texture code -> albedo (asphalt, white marking, yellow marking, pavement, kerb, grass).
GROUND_ALBEDO = np.array(
    [[0.2, 0.2, 0.21], [0.85, 0.85, 0.82], [0.85, 0.68, 0.18], [0.55, 0.54, 0.5], [0.7, 0.7, 0.68], [0.26, 0.4, 0.15]]
)
GROUND_CLASS = np.array([11, 11, 11, 13, 13, 14], dtype=np.uint8)
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


@register_renderer("raster")
class RasterRenderer(Renderer):
    """Fast CPU ray caster with physically based weather."""

    def __init__(self, rig: CameraRig, max_distance: float = MAX_DISTANCE):
        super().__init__(rig)
        self.max_distance = max_distance
        h, w = rig.hw
        v, u = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
        pix = np.stack([u, v, np.ones_like(u)], axis=-1)
        rays = np.einsum("nij,hwj->nhwi", np.linalg.inv(rig.intrinsics), pix)
        self._rays = (rays / np.linalg.norm(rays, axis=-1, keepdims=True)).astype(np.float64)  # camera frame
        self._z = self._rays[..., 2].astype(np.float32)  # cos of the angle to the optical axis: distance -> depth

    def render(self, world: World, weather: Weather, seed: int) -> CameraFrames:
        """Ray cast all cameras, shade, then apply the weather's image-space effects."""
        model = make_weather(weather)
        light = model.illumination().as_array()
        pose = world.ego.pose
        c, s = np.cos(pose.yaw), np.sin(pose.yaw)
        ego_rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        cam_rot = np.einsum("ij,njk->nik", ego_rot, self.rig.cam2ego[:, :3, :3])
        cam_pos = np.einsum("ij,nj->ni", ego_rot, self.rig.cam2ego[:, :3, 3]) + (pose.x, pose.y, 0.0)
        boxes = _box_array(world)
        rects = _screen_rects(boxes, cam_rot, cam_pos, self.rig.intrinsics, self.rig.hw, self.max_distance)
        paint = PAINTS[(boxes[:, 7].astype(np.int64) * 5 + 3) % len(PAINTS)] if len(boxes) else np.zeros((0, 3))

        n, (h, w) = len(self.rig.names), self.rig.hw
        rgb = np.empty((n, h, w, 3), dtype=np.float32)
        dist = np.empty((n, h, w), dtype=np.float32)
        sem = np.empty((n, h, w), dtype=np.uint8)
        st = world.static
        with KERNEL_LOCK:
            _trace(
                self._rays,
                cam_rot,
                cam_pos,
                st.columns,
                st.labels,
                st.clearance,
                st.block_top,
                BLOCK,
                np.asarray(st.grid.lower, dtype=np.float64),
                float(st.grid.voxel_size),
                float(st.top),
                st.texture,
                TEXEL,
                boxes,
                rects,
                paint,
                ALBEDO,
                GROUND_ALBEDO,
                GROUND_CLASS,
                FACADES,
                light,
                st.lamps,
                np.array([pose.x, pose.y, pose.yaw]),
                self.max_distance,
                rgb,
                dist,
                sem,
            )
        rgb = model.apply(rgb, dist, np.random.default_rng(seed))
        image = np.empty(rgb.shape, dtype=np.uint8)
        depth = np.empty(dist.shape, dtype=np.float32)
        with KERNEL_LOCK:
            _finish(rgb, dist, self._z, _GAMMA_LUT, image, depth)
        return CameraFrames(image, depth, sem)


def _box_array(world: World) -> np.ndarray:
    """Actors as rows (x, y, yaw, length, width, height, class, instance), world frame."""
    out = np.zeros((len(world.actors), 8))
    for i, a in enumerate(world.actors):
        out[i] = (a.x, a.y, a.yaw, *a.size, a.cls, a.instance)
    return out


def _screen_rects(
    boxes: np.ndarray,
    cam_rot: np.ndarray,
    cam_pos: np.ndarray,
    intrinsics: np.ndarray,
    hw: tuple[int, int],
    max_distance: float,
) -> np.ndarray:
    """Per camera and box the pixel rectangle (r0, r1, c0, c1) that can see it; empty (0, -1, 0, -1) if none."""
    n, h, w = len(cam_rot), hw[0], hw[1]
    rects = np.tile(np.array([0, -1, 0, -1], dtype=np.int32), (n, len(boxes), 1))
    if not len(boxes):
        return rects
    unit = np.array([[sx, sy, sz] for sx in (-0.5, 0.5) for sy in (-0.5, 0.5) for sz in (0.0, 1.0)])
    for b, (x, y, yaw, length, width, height, *_) in enumerate(boxes):
        c, s = np.cos(yaw), np.sin(yaw)
        local = unit * (length, width, height)
        corners = np.stack(
            [x + c * local[:, 0] - s * local[:, 1], y + s * local[:, 0] + c * local[:, 1], local[:, 2]], 1
        )
        for cam in range(n):
            p = (corners - cam_pos[cam]) @ cam_rot[cam]  # camera frame
            if np.all(p[:, 2] <= 0.05) or np.min(np.linalg.norm(p, axis=1)) > max_distance:
                continue
            if np.any(p[:, 2] <= 0.05):  # straddles the image plane: test every pixel
                rects[cam, b] = (0, h - 1, 0, w - 1)
                continue
            uv = p @ intrinsics[cam].T
            u, v = uv[:, 0] / uv[:, 2], uv[:, 1] / uv[:, 2]
            r0, r1 = int(np.floor(v.min())) - 1, int(np.ceil(v.max())) + 1
            c0, c1 = int(np.floor(u.min())) - 1, int(np.ceil(u.max())) + 1
            if r1 < 0 or c1 < 0 or r0 >= h or c0 >= w:
                continue
            rects[cam, b] = (max(r0, 0), min(r1, h - 1), max(c0, 0), min(c1, w - 1))
    return rects


@numba.njit(parallel=True, cache=True)
def _finish(rgb, dist, cos_axis, lut, image, depth):  # pragma: no cover - numba
    """Linear RGB to gamma-encoded uint8 through a lookup table; ray distance to camera z-depth."""
    n, h, w, _ = rgb.shape
    top = lut.shape[0] - 1
    for job in numba.prange(n * h):
        cam, r = job // h, job % h
        for c in range(w):
            for k in range(3):
                v = min(max(rgb[cam, r, c, k], 0.0), 1.0)
                image[cam, r, c, k] = lut[int(v * top + 0.5)]
            depth[cam, r, c] = dist[cam, r, c] * cos_axis[cam, r, c]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _hash(i: int, j: int) -> float:  # pragma: no cover - numba
    """Deterministic value noise in [0, 1) from two integers."""
    h = (i * 374761393 + j * 668265263) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 1274126177) & 0xFFFFFFFF
    return ((h ^ (h >> 16)) & 0xFFFF) / 65536.0


# numpy error model: no per-division zero checks (directions guard their own divisions).
@numba.njit(parallel=True, cache=True, error_model="numpy", fastmath={"contract", "arcp", "nsz", "afn", "reassoc"})
def _trace(
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
):  # pragma: no cover - numba
    n, h, w, _ = rays.shape
    nx, ny, nz = labels.shape
    inv_voxel = 1.0 / voxel
    tx_n, ty_n = texture.shape
    sun = light[6:9]
    for job in numba.prange(n * h):
        cam, r = job // h, job % h
        R = cam_rot[cam]
        o0, o1, o2 = cam_pos[cam, 0], cam_pos[cam, 1], cam_pos[cam, 2]
        for col in range(w):
            dc = rays[cam, r, col]
            d0 = R[0, 0] * dc[0] + R[0, 1] * dc[1] + R[0, 2] * dc[2]
            d1 = R[1, 0] * dc[0] + R[1, 1] * dc[1] + R[1, 2] * dc[2]
            d2 = R[2, 0] * dc[0] + R[2, 1] * dc[1] + R[2, 2] * dc[2]
            t_end = max_dist
            kind = 0  # 0 sky, 1 ground, 2 box, 3 voxel
            nrm0, nrm1, nrm2 = 0.0, 0.0, 1.0
            hit_box = -1
            if d2 < -1e-9:
                tg = -o2 / d2
                if tg < t_end:
                    t_end, kind = tg, 1
            # Actors: exact slab test in each box's frame, only for boxes whose screen rectangle holds this pixel.
            for b in range(boxes.shape[0]):
                rc = rects[cam, b]
                if r < rc[0] or r > rc[1] or col < rc[2] or col > rc[3]:
                    continue
                bx, by, byaw, bl, bw, bh = boxes[b, 0], boxes[b, 1], boxes[b, 2], boxes[b, 3], boxes[b, 4], boxes[b, 5]
                cb, sb = np.cos(byaw), np.sin(byaw)
                px, py = o0 - bx, o1 - by
                lx, ly = cb * px + sb * py, -sb * px + cb * py
                ldx, ldy = cb * d0 + sb * d1, -sb * d0 + cb * d1
                t_near, t_far, axis, sign = -1e30, 1e30, -1, 0.0
                ok = True
                for a in range(3):
                    if a == 0:
                        oa, da, lo, hi = lx, ldx, -0.5 * bl, 0.5 * bl
                    elif a == 1:
                        oa, da, lo, hi = ly, ldy, -0.5 * bw, 0.5 * bw
                    else:
                        oa, da, lo, hi = o2, d2, 0.0, bh
                    if abs(da) < 1e-12:
                        if oa < lo or oa > hi:
                            ok = False
                            break
                        continue
                    t1, t2 = (lo - oa) / da, (hi - oa) / da
                    sgn = -1.0
                    if t1 > t2:
                        t1, t2, sgn = t2, t1, 1.0
                    if t1 > t_near:
                        t_near, axis, sign = t1, a, sgn
                    t_far = min(t_far, t2)
                if ok and t_near <= t_far and t_near > 0.0 and t_near < t_end:
                    t_end, kind, hit_box = t_near, 2, b
                    if axis == 0:
                        nrm0, nrm1, nrm2 = sign * cb, sign * sb, 0.0
                    elif axis == 1:
                        nrm0, nrm1, nrm2 = -sign * sb, sign * cb, 0.0
                    else:
                        nrm0, nrm1, nrm2 = 0.0, 0.0, sign
            # Static voxels: walk (x, y) columns; a column's bit mask says which z layers are raised.
            limit = t_end
            if d2 > 1e-9:
                limit = min(limit, (top - o2) / d2)
            cheb = max(abs(d0), abs(d1))
            jump_scale = voxel / max(cheb, 1e-9)
            inv0 = 1.0 / d0 if d0 != 0.0 else 1e30
            inv1 = 1.0 / d1 if d1 != 0.0 else 1e30
            step_i = 1 if d0 > 0 else -1
            step_j = 1 if d1 > 0 else -1
            dt_i = abs(voxel * inv0)
            dt_j = abs(voxel * inv1)
            t = 0.0
            entered = -1
            vox_label = 0
            vi, vj, vk = 0, 0, 0
            reinit = True
            i, j, tmx, tmy = 0, 0, 0.0, 0.0
            while t < limit and cheb > 1e-9:
                if reinit:  # (re)start the incremental walk at distance t
                    px = (o0 + d0 * t - lower[0]) * inv_voxel
                    py = (o1 + d1 * t - lower[1]) * inv_voxel
                    if px < 0.0 or py < 0.0:
                        break
                    i, j = int(px), int(py)
                    tmx = ((i + (step_i > 0)) * voxel + lower[0] - o0) * inv0 if d0 != 0.0 else 1e30
                    tmy = ((j + (step_j > 0)) * voxel + lower[1] - o1) * inv1 if d1 != 0.0 else 1e30
                    reinit = False
                if i < 0 or j < 0 or i >= nx or j >= ny:
                    break
                k = clearance[i, j]
                if k > 1:
                    t += (k - 1.05) * jump_scale  # every cell within k - 1 is empty
                    entered = -1
                    reinit = True
                    continue
                m = columns[i, j]
                if m != 0:
                    t_exit = min(tmx, tmy, limit)
                    za = o2 + d2 * t
                    zb = o2 + d2 * t_exit
                    ka = int(np.floor((za - lower[2]) * inv_voxel))
                    kb = int(np.floor((zb - lower[2]) * inv_voxel))
                    k0, k1 = max(min(ka, kb), 0), min(max(ka, kb), nz - 1)
                    found = -1
                    if d2 < 0:
                        for kk in range(k1, k0 - 1, -1):
                            if (m >> np.uint64(kk)) & np.uint64(1):
                                found = kk
                                break
                    else:
                        for kk in range(k0, k1 + 1):
                            if (m >> np.uint64(kk)) & np.uint64(1):
                                found = kk
                                break
                    if found >= 0:
                        if found == ka:  # entered through a side face
                            t_hit = t
                            if entered == 0:
                                nrm0, nrm1, nrm2 = -float(step_i), 0.0, 0.0
                            else:
                                nrm0, nrm1, nrm2 = 0.0, -float(step_j), 0.0
                        elif d2 < 0:  # came down onto the top face
                            t_hit = (lower[2] + (found + 1) * voxel - o2) / d2
                            nrm0, nrm1, nrm2 = 0.0, 0.0, 1.0
                        else:  # came up under the bottom face
                            t_hit = (lower[2] + found * voxel - o2) / d2
                            nrm0, nrm1, nrm2 = 0.0, 0.0, -1.0
                        t_end, kind = t_hit, 3
                        vox_label = labels[i, j, found]
                        vi, vj, vk = i, j, found
                        break
                    # Missed this column: skip its whole block if the ray stays above everything raised in it.
                    bi, bj = i // block, j // block
                    bx_exit = ((bi + (step_i > 0)) * block * voxel + lower[0] - o0) * inv0 if d0 != 0.0 else 1e30
                    by_exit = ((bj + (step_j > 0)) * block * voxel + lower[1] - o1) * inv1 if d1 != 0.0 else 1e30
                    b_exit = min(bx_exit, by_exit)
                    if min(za, o2 + d2 * min(b_exit, limit)) > block_top[bi, bj]:
                        entered = 0 if bx_exit < by_exit else 1
                        t = b_exit + 1e-6
                        reinit = True
                        continue
                if tmx < tmy:
                    t = tmx
                    tmx += dt_i
                    i += step_i
                    entered = 0
                else:
                    t = tmy
                    tmy += dt_j
                    j += step_j
                    entered = 1

            # Shade.
            hx, hy, hz = o0 + d0 * t_end, o1 + d1 * t_end, o2 + d2 * t_end
            c0, c1, c2 = 0.0, 0.0, 0.0
            if kind == 0:
                u = min(max(d2 * 2.5, 0.0), 1.0)
                out_rgb[cam, r, col, 0] = light[3] + (light[0] - light[3]) * u
                out_rgb[cam, r, col, 1] = light[4] + (light[1] - light[4]) * u
                out_rgb[cam, r, col, 2] = light[5] + (light[2] - light[5]) * u
                out_dist[cam, r, col] = np.inf
                out_sem[cam, r, col] = FREE
                continue
            cls = 0
            ground_road = False
            if kind == 1:
                ti = int(np.floor((hx - lower[0]) / texel))
                tj = int(np.floor((hy - lower[1]) / texel))
                code = 5
                if 0 <= ti < tx_n and 0 <= tj < ty_n:
                    code = texture[ti, tj]
                cls = ground_cls[code]
                noise = 0.82 + 0.36 * _hash(ti >> 1, tj >> 1)
                c0, c1, c2 = ground_tab[code, 0] * noise, ground_tab[code, 1] * noise, ground_tab[code, 2] * noise
                ground_road = code <= 2
            elif kind == 2:
                cls = int(boxes[hit_box, 6])
                zf = hz / boxes[hit_box, 5]
                if cls == 4 or cls == 3 or cls == 10 or cls == 9 or cls == 5:
                    c0, c1, c2 = paint[hit_box, 0], paint[hit_box, 1], paint[hit_box, 2]
                    if cls == 5:
                        c0, c1, c2 = albedo_tab[5, 0], albedo_tab[5, 1], albedo_tab[5, 2]
                    if zf < 0.22:  # wheels and underbody
                        c0, c1, c2 = 0.04, 0.04, 0.045
                    elif nrm2 < 0.5 and ((cls == 4 and 0.55 < zf < 0.88) or (cls == 3 and 0.45 < zf < 0.85)):
                        c0, c1, c2 = 0.05, 0.07, 0.1  # windows
                elif cls == 8:  # cone: orange with a white band
                    c0, c1, c2 = albedo_tab[8, 0], albedo_tab[8, 1], albedo_tab[8, 2]
                    if 0.45 < zf < 0.65:
                        c0, c1, c2 = 0.9, 0.9, 0.9
                elif cls == 1:  # barrier: red and white stripes along its length
                    along = -np.sin(boxes[hit_box, 2]) * (hx - boxes[hit_box, 0]) + np.cos(boxes[hit_box, 2]) * (
                        hy - boxes[hit_box, 1]
                    )
                    stripe = int(np.floor(along / 0.5)) & 1
                    c0, c1, c2 = (0.8, 0.08, 0.06) if stripe else (0.9, 0.9, 0.9)
                elif cls == 7:  # pedestrian: shirt above trousers
                    c0, c1, c2 = (
                        (paint[hit_box, 0], paint[hit_box, 1], paint[hit_box, 2]) if zf > 0.5 else (0.12, 0.12, 0.15)
                    )
                else:
                    c0, c1, c2 = albedo_tab[cls, 0], albedo_tab[cls, 1], albedo_tab[cls, 2]
            else:
                cls = vox_label
                if cls == 15:
                    f = int(_hash(vi >> 5, vj >> 5) * facades.shape[0])
                    c0, c1, c2 = facades[f, 0], facades[f, 1], facades[f, 2]
                    if nrm2 == 0.0 and hz > 1.0:  # windows on facades: a grid of 1.6 x 1.4 m panes every 3 m
                        along = hy if nrm0 != 0.0 else hx
                        u_pane = along * (1.0 / 3.0)
                        v_pane = (hz - 1.0) * (1.0 / 3.0)
                        if u_pane - np.floor(u_pane) < 1.6 / 3.0 and v_pane - np.floor(v_pane) < 1.4 / 3.0:
                            c0, c1, c2 = 0.12, 0.15, 0.2
                else:
                    c0, c1, c2 = albedo_tab[cls, 0], albedo_tab[cls, 1], albedo_tab[cls, 2]
                    if cls == 16:
                        g = 0.7 + 0.6 * _hash(vi * 7 + vk, vj)
                        c0, c1, c2 = c0 * g, c1 * g, c2 * g
                        # tree trunks: vegetation below a crown in the same column
                        if vk + 5 < nz and (columns[vi, vj] >> np.uint64(vk + 5)) & np.uint64(1) and hz < 3.0:
                            c0, c1, c2 = 0.25, 0.17, 0.1
            # Snow settles on up-facing surfaces, less on the driven road.
            if light[15] > 0.0 and nrm2 > 0.5:
                cover = light[15] * (0.45 if ground_road else 1.0)
                c0, c1, c2 = c0 + (0.92 - c0) * cover, c1 + (0.93 - c1) * cover, c2 + (0.95 - c2) * cover
            if kind == 1 and light[16] > 0.0:
                wet = 1.0 - 0.4 * light[16]
                c0, c1, c2 = c0 * wet, c1 * wet, c2 * wet
            ndl = max(0.0, nrm0 * sun[0] + nrm1 * sun[1] + nrm2 * sun[2])
            e0 = light[12] + light[9] * ndl
            e1 = light[13] + light[10] * ndl
            e2 = light[14] + light[11] * ndl
            if light[17] > 0.0:  # ego headlights: a cone along the ego heading from the front bumper
                ce, se = np.cos(ego[2]), np.sin(ego[2])
                lx0, ly0, lz0 = ego[0] + 3.4 * ce, ego[1] + 3.4 * se, 0.7
                vx, vy, vz = hx - lx0, hy - ly0, hz - lz0
                dl = np.sqrt(vx * vx + vy * vy + vz * vz) + 1e-6
                cosang = (vx * ce + vy * se) / dl
                if cosang > 0.86:
                    cone = min(1.0, (cosang - 0.86) / 0.08)
                    facing = max(0.0, -(nrm0 * vx + nrm1 * vy + nrm2 * vz) / dl)
                    e = light[17] * 2.2 * cone * facing / (1.0 + (dl / 12.0) ** 2)
                    e0, e1, e2 = e0 + e, e1 + e, e2 + 0.95 * e
            if light[18] > 0.0:  # street lamps: warm point lights
                for q in range(lamps.shape[0]):
                    vx, vy, vz = lamps[q, 0] - hx, lamps[q, 1] - hy, lamps[q, 2] - hz
                    d2l = vx * vx + vy * vy + vz * vz
                    if d2l > 625.0:
                        continue
                    dl = np.sqrt(d2l) + 1e-6
                    facing = max(0.0, (nrm0 * vx + nrm1 * vy + nrm2 * vz) / dl)
                    e = light[18] * 0.6 * facing / (1.0 + d2l / 5.0)
                    e0, e1, e2 = e0 + e, e1 + 0.8 * e, e2 + 0.55 * e
            c0, c1, c2 = c0 * e0, c1 * e1, c2 * e2
            if kind == 1 and light[16] > 0.0:  # wet road mirrors the sky at grazing angles (Schlick)
                fres = 0.04 + 0.96 * (1.0 - min(1.0, -d2)) ** 5
                refl = 0.6 * light[16] * fres
                c0, c1, c2 = c0 + refl * light[3], c1 + refl * light[4], c2 + refl * light[5]
            out_rgb[cam, r, col, 0] = c0
            out_rgb[cam, r, col, 1] = c1
            out_rgb[cam, r, col, 2] = c2
            out_dist[cam, r, col] = t_end
            out_sem[cam, r, col] = cls
