"""The ray caster's numba kernels: per pixel the nearest of ground, actor boxes and static voxels, then shading.

``_trace`` reads as its steps (box hits, voxel walk, ground, box and voxel albedo, lighting); each helper is
inlined by numba, so the split costs nothing at run time. Class ids and light terms are module constants by name.
"""

from __future__ import annotations

import numba
import numpy as np

from occsim.classes import (
    BARRIER,
    BUS,
    CAR,
    CONSTRUCTION_VEHICLE,
    FREE,
    MANMADE,
    PEDESTRIAN,
    TRAFFIC_CONE,
    TRAILER,
    TRUCK,
    VEGETATION,
)


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


@numba.njit(cache=True)
def screen_rects(boxes, cam_rot, cam_pos, intrinsics, h, w, max_distance):  # pragma: no cover - numba
    """Per camera and box the pixel rectangle (r0, r1, c0, c1) that can see it; empty (0, -1, 0, -1) if none.

    A box's eight corners are projected into each camera and the rectangle grown by a pixel; a box that straddles
    the image plane gets the whole image. The kernel tests a box only inside its rectangle.
    """
    n, count = cam_rot.shape[0], boxes.shape[0]
    rects = np.empty((n, count, 4), dtype=np.int32)
    corners = np.empty((8, 3))
    for b in range(count):
        x, y, yaw, length, width, height = boxes[b, 0], boxes[b, 1], boxes[b, 2], boxes[b, 3], boxes[b, 4], boxes[b, 5]
        c, s = np.cos(yaw), np.sin(yaw)
        q = 0
        for sx in (-0.5, 0.5):
            for sy in (-0.5, 0.5):
                for sz in (0.0, 1.0):
                    lx, ly = sx * length, sy * width
                    corners[q, 0], corners[q, 1], corners[q, 2] = x + c * lx - s * ly, y + s * lx + c * ly, sz * height
                    q += 1
        for cam in range(n):
            rects[cam, b, 0], rects[cam, b, 1], rects[cam, b, 2], rects[cam, b, 3] = 0, -1, 0, -1
            in_front, behind, nearest = 0, 0, np.inf
            u_lo, u_hi, v_lo, v_hi = np.inf, -np.inf, np.inf, -np.inf
            for q in range(8):
                e0, e1, e2 = (
                    corners[q, 0] - cam_pos[cam, 0],
                    corners[q, 1] - cam_pos[cam, 1],
                    corners[q, 2] - cam_pos[cam, 2],
                )
                p0 = e0 * cam_rot[cam, 0, 0] + e1 * cam_rot[cam, 1, 0] + e2 * cam_rot[cam, 2, 0]  # camera frame
                p1 = e0 * cam_rot[cam, 0, 1] + e1 * cam_rot[cam, 1, 1] + e2 * cam_rot[cam, 2, 1]
                p2 = e0 * cam_rot[cam, 0, 2] + e1 * cam_rot[cam, 1, 2] + e2 * cam_rot[cam, 2, 2]
                nearest = min(nearest, np.sqrt(p0 * p0 + p1 * p1 + p2 * p2))
                if p2 <= 0.05:
                    behind += 1
                    continue
                in_front += 1
                k = intrinsics[cam]
                uz = k[2, 0] * p0 + k[2, 1] * p1 + k[2, 2] * p2
                u = (k[0, 0] * p0 + k[0, 1] * p1 + k[0, 2] * p2) / uz
                v = (k[1, 0] * p0 + k[1, 1] * p1 + k[1, 2] * p2) / uz
                u_lo, u_hi, v_lo, v_hi = min(u_lo, u), max(u_hi, u), min(v_lo, v), max(v_hi, v)
            if in_front == 0 or nearest > max_distance:
                continue
            if behind > 0:  # straddles the image plane: test every pixel
                rects[cam, b, 0], rects[cam, b, 1], rects[cam, b, 2], rects[cam, b, 3] = 0, h - 1, 0, w - 1
                continue
            r0, r1 = int(np.floor(v_lo)) - 1, int(np.ceil(v_hi)) + 1
            c0, c1 = int(np.floor(u_lo)) - 1, int(np.ceil(u_hi)) + 1
            if r1 < 0 or c1 < 0 or r0 >= h or c0 >= w:
                continue
            rects[cam, b, 0], rects[cam, b, 1] = max(r0, 0), min(r1, h - 1)
            rects[cam, b, 2], rects[cam, b, 3] = max(c0, 0), min(c1, w - 1)
    return rects


@numba.njit(cache=True, inline="always", error_model="numpy")
def _hash(i: int, j: int) -> float:  # pragma: no cover - numba
    """Deterministic value noise in [0, 1) from two integers."""
    h = (i * 374761393 + j * 668265263) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 1274126177) & 0xFFFFFFFF
    return ((h ^ (h >> 16)) & 0xFFFF) / 65536.0


# Every helper below is inlined into ``_trace`` by numba; class ids and light terms are module constants by name.
_INLINE = {"cache": True, "inline": "always", "error_model": "numpy"}
SKY, GROUND, BOX, VOXEL = 0, 1, 2, 3  # what a ray hit
PAINTED = (CAR, BUS, TRUCK, TRAILER, CONSTRUCTION_VEHICLE)  # classes with per-instance paint
# Indices into Illumination.as_array(): sky top (0-2), horizon (3-5), sun direction (6-8), sun colour (9-11),
# ambient (12-14), then the weather's scalar terms.
SNOW_COVER, WETNESS, HEADLIGHTS, STREET_LAMPS = 15, 16, 17, 18


@numba.njit(**_INLINE)
def _hit_boxes(cam, r, col, o0, o1, o2, d0, d1, d2, boxes, rects, t_end):  # pragma: no cover - numba
    """Nearest actor box before ``t_end``: exact slab tests in each box's frame, only where its screen rect is.

    Returns (t, box index or -1, normal x, y, z).
    """
    hit_box, nrm0, nrm1, nrm2 = -1, 0.0, 0.0, 1.0
    for b in range(boxes.shape[0]):
        # Scalar reads: a row view ``rects[cam, b]`` per pixel and box cost about a sixth of the whole kernel.
        if r < rects[cam, b, 0] or r > rects[cam, b, 1] or col < rects[cam, b, 2] or col > rects[cam, b, 3]:
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
            t_end, hit_box = t_near, b
            if axis == 0:
                nrm0, nrm1, nrm2 = sign * cb, sign * sb, 0.0
            elif axis == 1:
                nrm0, nrm1, nrm2 = -sign * sb, sign * cb, 0.0
            else:
                nrm0, nrm1, nrm2 = 0.0, 0.0, sign
    return t_end, hit_box, nrm0, nrm1, nrm2


@numba.njit(**_INLINE)
def _walk_voxels(
    o0, o1, o2, d0, d1, d2, limit, columns, labels, clearance, block_top, block, lower, voxel, inv_voxel
):  # pragma: no cover - numba
    """First raised voxel before ``limit``: a 2D DDA over (x, y) columns with per-column layer bit masks.

    Empty space is skipped by the clearance map, and whole blocks the ray passes above are skipped.

    Returns (found, t, label, i, j, k, normal x, y, z); ``found`` False means nothing was hit.
    """
    nx, ny, nz = labels.shape
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
                return True, t_hit, labels[i, j, found], i, j, found, nrm0, nrm1, nrm2
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
    return False, 0.0, labels[0, 0, 0], 0, 0, 0, 0.0, 0.0, 1.0


@numba.njit(**_INLINE)
def _above_blocks(o0, o1, o2, d0, d1, d2, limit, block_top, block, lower, voxel):  # pragma: no cover - numba
    """Whether a rising ray stays above every raised voxel of the blocks it crosses before ``limit``.

    A 2D walk over the coarse blocks, comparing the ray's height where it enters each block with the block's top.
    True means the voxel walk would find nothing, so a sky ray skips it; False decides nothing (the walk runs).
    """
    size = block * voxel
    fi, fj = (o0 - lower[0]) / size, (o1 - lower[1]) / size
    if fi < 0.0 or fj < 0.0:  # outside the grid, where the voxel walk stops at once
        return True
    bi, bj = int(fi), int(fj)
    inv0 = 1.0 / d0 if d0 != 0.0 else 1e30
    inv1 = 1.0 / d1 if d1 != 0.0 else 1e30
    step_i = 1 if d0 > 0 else -1
    step_j = 1 if d1 > 0 else -1
    tmx = ((bi + (step_i > 0)) * size + lower[0] - o0) * inv0 if d0 != 0.0 else 1e30
    tmy = ((bj + (step_j > 0)) * size + lower[1] - o1) * inv1 if d1 != 0.0 else 1e30
    dt_i, dt_j = abs(size * inv0), abs(size * inv1)
    t = 0.0
    while 0 <= bi < block_top.shape[0] and 0 <= bj < block_top.shape[1]:
        if o2 + d2 * t <= block_top[bi, bj] + 1e-3:  # a millimetre's margin: near misses take the exact walk
            return False
        if tmx < tmy:
            t, tmx, bi = tmx, tmx + dt_i, bi + step_i
        else:
            t, tmy, bj = tmy, tmy + dt_j, bj + step_j
        if t >= limit:
            return True
    return True


@numba.njit(**_INLINE)
def _ground_albedo(hx, hy, lower, texel, texture, ground_tab, ground_cls):  # pragma: no cover - numba
    """Asphalt, markings, pavement, kerb or grass from the ground texture, with value noise.

    Returns (r, g, b, class, on the driven road).
    """
    tx_n, ty_n = texture.shape
    ti = int(np.floor((hx - lower[0]) / texel))
    tj = int(np.floor((hy - lower[1]) / texel))
    code = 5
    if 0 <= ti < tx_n and 0 <= tj < ty_n:
        code = texture[ti, tj]
    noise = 0.82 + 0.36 * _hash(ti >> 1, tj >> 1)
    c0, c1, c2 = ground_tab[code, 0] * noise, ground_tab[code, 1] * noise, ground_tab[code, 2] * noise
    return c0, c1, c2, ground_cls[code], code <= 2


@numba.njit(**_INLINE)
def _box_albedo(b, boxes, paint, albedo_tab, hx, hy, hz, nrm2):  # pragma: no cover - numba
    """An actor's surface: paint, wheels and windows on vehicles, bands on cones, stripes on barriers.

    Returns (r, g, b, class).
    """
    cls = int(boxes[b, 6])
    zf = hz / boxes[b, 5]
    if cls in PAINTED:
        c0, c1, c2 = paint[b, 0], paint[b, 1], paint[b, 2]
        if cls == CONSTRUCTION_VEHICLE:
            c0, c1, c2 = (
                albedo_tab[CONSTRUCTION_VEHICLE, 0],
                albedo_tab[CONSTRUCTION_VEHICLE, 1],
                albedo_tab[CONSTRUCTION_VEHICLE, 2],
            )
        if zf < 0.22:  # wheels and underbody
            c0, c1, c2 = 0.04, 0.04, 0.045
        elif nrm2 < 0.5 and ((cls == CAR and 0.55 < zf < 0.88) or (cls == BUS and 0.45 < zf < 0.85)):
            c0, c1, c2 = 0.05, 0.07, 0.1  # windows
    elif cls == TRAFFIC_CONE:  # orange with a white band
        c0, c1, c2 = albedo_tab[TRAFFIC_CONE, 0], albedo_tab[TRAFFIC_CONE, 1], albedo_tab[TRAFFIC_CONE, 2]
        if 0.45 < zf < 0.65:
            c0, c1, c2 = 0.9, 0.9, 0.9
    elif cls == BARRIER:  # red and white stripes along its length
        along = -np.sin(boxes[b, 2]) * (hx - boxes[b, 0]) + np.cos(boxes[b, 2]) * (hy - boxes[b, 1])
        stripe = int(np.floor(along / 0.5)) & 1
        c0, c1, c2 = (0.8, 0.08, 0.06) if stripe else (0.9, 0.9, 0.9)
    elif cls == PEDESTRIAN:  # shirt above trousers
        c0, c1, c2 = (paint[b, 0], paint[b, 1], paint[b, 2]) if zf > 0.5 else (0.12, 0.12, 0.15)
    else:
        c0, c1, c2 = albedo_tab[cls, 0], albedo_tab[cls, 1], albedo_tab[cls, 2]
    return c0, c1, c2, cls


@numba.njit(**_INLINE)
def _voxel_albedo(cls, vi, vj, vk, nz, hx, hy, hz, nrm0, nrm2, columns, albedo_tab, facades):  # pragma: no cover
    """A static voxel's surface: facades with windows on buildings, shaded foliage and trunks on vegetation."""
    if cls == MANMADE:
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
        if cls == VEGETATION:
            g = 0.7 + 0.6 * _hash(vi * 7 + vk, vj)
            c0, c1, c2 = c0 * g, c1 * g, c2 * g
            # tree trunks: vegetation below a crown in the same column
            if vk + 5 < nz and (columns[vi, vj] >> np.uint64(vk + 5)) & np.uint64(1) and hz < 3.0:
                c0, c1, c2 = 0.25, 0.17, 0.1
    return c0, c1, c2


@numba.njit(**_INLINE)
def _light(c0, c1, c2, kind, ground_road, nrm0, nrm1, nrm2, hx, hy, hz, d2, light, lamps, ego):  # pragma: no cover
    """Shade an albedo: snow and wetness, sun and ambient light, the ego's headlights, street lamps, wet glare."""
    # Snow settles on up-facing surfaces, less on the driven road.
    if light[SNOW_COVER] > 0.0 and nrm2 > 0.5:
        cover = light[SNOW_COVER] * (0.45 if ground_road else 1.0)
        c0, c1, c2 = c0 + (0.92 - c0) * cover, c1 + (0.93 - c1) * cover, c2 + (0.95 - c2) * cover
    if kind == GROUND and light[WETNESS] > 0.0:
        wet = 1.0 - 0.4 * light[WETNESS]
        c0, c1, c2 = c0 * wet, c1 * wet, c2 * wet
    ndl = max(0.0, nrm0 * light[6] + nrm1 * light[7] + nrm2 * light[8])
    e0 = light[12] + light[9] * ndl
    e1 = light[13] + light[10] * ndl
    e2 = light[14] + light[11] * ndl
    if light[HEADLIGHTS] > 0.0:  # ego headlights: a cone along the ego heading from the front bumper
        ce, se = np.cos(ego[2]), np.sin(ego[2])
        lx0, ly0, lz0 = ego[0] + 3.4 * ce, ego[1] + 3.4 * se, 0.7
        vx, vy, vz = hx - lx0, hy - ly0, hz - lz0
        dl = np.sqrt(vx * vx + vy * vy + vz * vz) + 1e-6
        cosang = (vx * ce + vy * se) / dl
        if cosang > 0.86:
            cone = min(1.0, (cosang - 0.86) / 0.08)
            facing = max(0.0, -(nrm0 * vx + nrm1 * vy + nrm2 * vz) / dl)
            e = light[HEADLIGHTS] * 2.2 * cone * facing / (1.0 + (dl / 12.0) ** 2)
            e0, e1, e2 = e0 + e, e1 + e, e2 + 0.95 * e
    if light[STREET_LAMPS] > 0.0:  # street lamps: warm point lights
        for q in range(lamps.shape[0]):
            vx, vy, vz = lamps[q, 0] - hx, lamps[q, 1] - hy, lamps[q, 2] - hz
            d2l = vx * vx + vy * vy + vz * vz
            if d2l > 625.0:
                continue
            dl = np.sqrt(d2l) + 1e-6
            facing = max(0.0, (nrm0 * vx + nrm1 * vy + nrm2 * vz) / dl)
            e = light[STREET_LAMPS] * 0.6 * facing / (1.0 + d2l / 5.0)
            e0, e1, e2 = e0 + e, e1 + 0.8 * e, e2 + 0.55 * e
    c0, c1, c2 = c0 * e0, c1 * e1, c2 * e2
    if kind == GROUND and light[WETNESS] > 0.0:  # wet road mirrors the sky at grazing angles (Schlick)
        fres = 0.04 + 0.96 * (1.0 - min(1.0, -d2)) ** 5
        refl = 0.6 * light[WETNESS] * fres
        c0, c1, c2 = c0 + refl * light[3], c1 + refl * light[4], c2 + refl * light[5]
    return c0, c1, c2


@numba.njit(**_INLINE)
def _trace_ray(
    cam,
    r,
    col,
    R,
    dc,
    o0,
    o1,
    o2,
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
):  # pragma: no cover - numba
    """One pixel's ray (camera-frame direction ``dc``, camera rotation ``R``, origin ``o``) through one world.

    Returns linear (r, g, b), the distance to the hit [m] (inf for sky) and the class hit. Shared by the CPU
    kernel and the CUDA one (``raster_cuda``), so both compute the same pixel.
    """
    d0 = R[0, 0] * dc[0] + R[0, 1] * dc[1] + R[0, 2] * dc[2]
    d1 = R[1, 0] * dc[0] + R[1, 1] * dc[1] + R[1, 2] * dc[2]
    d2 = R[2, 0] * dc[0] + R[2, 1] * dc[1] + R[2, 2] * dc[2]
    t_end, kind = max_dist, SKY
    if d2 < -1e-9:
        tg = -o2 / d2
        if tg < t_end:
            t_end, kind = tg, GROUND
    t_end, hit_box, nrm0, nrm1, nrm2 = _hit_boxes(cam, r, col, o0, o1, o2, d0, d1, d2, boxes, rects, t_end)
    if hit_box >= 0:
        kind = BOX
    limit = t_end
    if d2 > 1e-9:
        limit = min(limit, (top - o2) / d2)
    inv_voxel = 1.0 / voxel
    if d2 > 1e-9 and _above_blocks(o0, o1, o2, d0, d1, d2, limit, block_top, block, lower, voxel):
        found, t_hit, vox_label, vi, vj, vk, v0, v1, v2 = False, 0.0, labels[0, 0, 0], 0, 0, 0, 0.0, 0.0, 1.0
    else:  # sky rays that clear every block skip the walk: they were a quarter of its steps
        found, t_hit, vox_label, vi, vj, vk, v0, v1, v2 = _walk_voxels(
            o0, o1, o2, d0, d1, d2, limit, columns, labels, clearance, block_top, block, lower, voxel, inv_voxel
        )
    if found:
        t_end, kind, nrm0, nrm1, nrm2 = t_hit, VOXEL, v0, v1, v2
    if kind == SKY:
        u = min(max(d2 * 2.5, 0.0), 1.0)
        return (
            light[3] + (light[0] - light[3]) * u,
            light[4] + (light[1] - light[4]) * u,
            light[5] + (light[2] - light[5]) * u,
            np.inf,
            FREE,
        )
    hx, hy, hz = o0 + d0 * t_end, o1 + d1 * t_end, o2 + d2 * t_end
    ground_road = False
    if kind == GROUND:
        c0, c1, c2, cls, ground_road = _ground_albedo(hx, hy, lower, texel, texture, ground_tab, ground_cls)
    elif kind == BOX:
        c0, c1, c2, cls = _box_albedo(hit_box, boxes, paint, albedo_tab, hx, hy, hz, nrm2)
    else:
        cls = vox_label
        c0, c1, c2 = _voxel_albedo(
            cls, vi, vj, vk, labels.shape[2], hx, hy, hz, nrm0, nrm2, columns, albedo_tab, facades
        )
    c0, c1, c2 = _light(c0, c1, c2, kind, ground_road, nrm0, nrm1, nrm2, hx, hy, hz, d2, light, lamps, ego)
    return c0, c1, c2, t_end, cls


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
    """Per pixel of every world's cameras: the nearest of ground, actor boxes and static voxels, then shading.

    Several worlds share one launch (vectorised envs): the per-world arrays of different shapes (voxels, texture,
    boxes, lamps) come as typed lists indexed by world, the rest stacked with a leading world axis. Each pixel's
    arithmetic does not depend on the batch, so a world renders to the same bytes alone or in any batch.
    """
    worlds = cam_rot.shape[0]
    n, h, w, _ = rays.shape
    for job in numba.prange(worlds * n * h):
        world, cam, r = job // (n * h), (job // h) % n, job % h
        # Per row, not per pixel: a typed list's item costs a reference count and a bounds check.
        w_columns, w_labels, w_clearance, w_block_top = (
            columns[world],
            labels[world],
            clearance[world],
            block_top[world],
        )
        w_lower, w_voxel, w_top, w_texture = lower[world], voxel[world], top[world], texture[world]
        w_boxes, w_rects, w_paint = boxes[world], rects[world], paint[world]
        w_light, w_lamps, w_ego = light[world], lamps[world], ego[world]
        R = cam_rot[world, cam]
        o0, o1, o2 = cam_pos[world, cam, 0], cam_pos[world, cam, 1], cam_pos[world, cam, 2]
        for col in range(w):
            c0, c1, c2, t_end, cls = _trace_ray(
                cam,
                r,
                col,
                R,
                rays[cam, r, col],
                o0,
                o1,
                o2,
                w_columns,
                w_labels,
                w_clearance,
                w_block_top,
                block,
                w_lower,
                w_voxel,
                w_top,
                w_texture,
                texel,
                w_boxes,
                w_rects,
                w_paint,
                albedo_tab,
                ground_tab,
                ground_cls,
                facades,
                w_light,
                w_lamps,
                w_ego,
                max_dist,
            )
            out_rgb[world, cam, r, col, 0] = c0
            out_rgb[world, cam, r, col, 1] = c1
            out_rgb[world, cam, r, col, 2] = c2
            out_dist[world, cam, r, col] = t_end
            out_sem[world, cam, r, col] = cls
