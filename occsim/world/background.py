"""The static world around the road: ground surfaces, kerbs, markings, buildings, trees, hedges and lamps."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numba
import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.ops import unary_union

from occsim.classes import DRIVEABLE_SURFACE, FREE, MANMADE, OTHER_FLAT, SIDEWALK, TERRAIN, VEGETATION
from occsim.types import GROUND_LAYER, VoxelGrid
from occsim.world.roadmap import Crosswalk, RoadMap

VOXEL = 0.4  # [m] world voxel size, as Occ3D
TEXEL = 0.1  # [m] ground texture resolution, fine enough for 0.15 m lane markings
WORLD_Z = (-1.0, 15.0)  # [m] the world map is taller than the Occ3D window so buildings keep their height
MARGIN = 60.0  # [m] around the drivable area; more than the window's half-diagonal (56.6 m)
SIDEWALK_WIDTH = 3.0  # [m]
KERB_WIDTH = 0.3  # [m]
LAMP_SPACING = 30.0  # [m] between street lamps along a road side
LAMP_HEIGHT = 6.0  # [m]
ZEBRA_BAR = 0.5  # [m] width of a zebra crossing's bars and of the gaps between them
BLOCK = 8  # columns per side of the coarse blocks rays skip over when they pass above everything inside

# Ground texture codes, read by the renderer; PAVED (shoulders, parking, cycle lanes of OpenDRIVE maps) is flat
# ground that is not for driving.
ASPHALT, MARK_WHITE, MARK_YELLOW, PAVEMENT, KERB, GRASS, PAVED = range(7)
TEXTURE_TO_CLASS = np.array(
    [DRIVEABLE_SURFACE, DRIVEABLE_SURFACE, DRIVEABLE_SURFACE, SIDEWALK, SIDEWALK, TERRAIN, OTHER_FLAT]
)


@dataclass(frozen=True)
class StaticWorld:
    """Static voxels of the whole map plus the ground texture and light sources."""

    grid: VoxelGrid  # world-frame grid
    labels: np.ndarray  # (nx, ny, nz) uint8 Occ3D labels, FREE where empty
    columns: np.ndarray  # (nx, ny) uint64 bit k set when layer k holds a non-flat (raised) voxel
    texture: np.ndarray  # (tx, ty) uint8 ground texture codes at TEXEL spacing, same lower corner as grid
    lamps: np.ndarray  # (L, 3) float64 lamp head positions, world frame [m]
    clearance: np.ndarray  # (nx, ny) uint8 Chebyshev distance [cells] to the nearest raised column, for ray skipping
    top: float  # [m] height of the highest raised voxel
    block_top: (
        np.ndarray
    )  # (bx, by) float64 top [m] of the raised voxels in each BLOCK x BLOCK column block, -inf if none


def build_static_world(road_map: RoadMap, rng: np.random.Generator) -> StaticWorld:
    """Generate the background for ``road_map``; the same ``rng`` state gives the same world."""
    xmin, ymin, xmax, ymax = road_map.bounds
    lower = (np.floor((xmin - MARGIN) / VOXEL) * VOXEL, np.floor((ymin - MARGIN) / VOXEL) * VOXEL, WORLD_Z[0])
    nx = int(np.ceil((xmax + MARGIN - lower[0]) / VOXEL))
    ny = int(np.ceil((ymax + MARGIN - lower[1]) / VOXEL))
    nz = int(round((WORLD_Z[1] - WORLD_Z[0]) / VOXEL))
    grid = VoxelGrid((nx, ny, nz), VOXEL, lower)

    texture = _ground_texture(road_map, grid)
    labels = np.full((nx, ny, nz), FREE, dtype=np.uint8)
    step = int(round(VOXEL / TEXEL))
    labels[:, :, GROUND_LAYER] = TEXTURE_TO_CLASS[texture[step // 2 :: step, step // 2 :: step][:nx, :ny]]

    clear = [r.polygon(SIDEWALK_WIDTH + 0.5) for r in road_map.roads]
    if road_map.extra_drivable is not None:  # junction corners and a real map's extra area stay clear too
        clear.append(road_map.extra_drivable.buffer(SIDEWALK_WIDTH + 0.5))
    keep_clear = unary_union(clear)
    blocked = raster_mask(keep_clear, grid)
    lamps = []
    for road in road_map.roads:
        for side in (+1, -1):
            place_buildings(labels, blocked, grid, road, side, rng)
            lamps.extend(place_lamps_and_trees(labels, blocked, grid, road, side, rng))
    return assemble_static_world(grid, labels, texture, np.array(lamps, dtype=np.float64).reshape(-1, 3))


def assemble_static_world(grid: VoxelGrid, labels: np.ndarray, texture: np.ndarray, lamps: np.ndarray) -> StaticWorld:
    """A StaticWorld from its labels, ground texture and lamps: derives the renderer's acceleration structures."""
    nx, ny, _ = labels.shape
    columns = _column_masks(labels)
    empty = (columns == 0).astype(np.uint8)
    clearance = np.minimum(cv2.distanceTransform(empty, cv2.DIST_C, 3), 255).astype(np.uint8)
    layers = np.where(columns > 0, np.floor(np.log2(np.maximum(columns, 1).astype(np.float64))) + 1, 0)
    column_top = np.where(layers > 0, grid.lower[2] + layers * grid.voxel_size, -np.inf)
    bx, by = -(-nx // BLOCK), -(-ny // BLOCK)
    padded = np.full((bx * BLOCK, by * BLOCK), -np.inf)
    padded[:nx, :ny] = column_top
    block_top = padded.reshape(bx, BLOCK, by, BLOCK).max(axis=(1, 3))
    top = float(column_top.max()) if np.isfinite(column_top.max()) else grid.lower[2]
    return StaticWorld(grid, labels, columns, texture, lamps, clearance, top, block_top)


def _to_pixels(points: np.ndarray, grid: VoxelGrid, cell: float) -> np.ndarray:
    """World (x, y) to cv2 pixel coordinates (col = y index, row = x index), fixed point with 4 fractional bits."""
    p = (np.asarray(points) - grid.lower[:2]) / cell - 0.5
    return np.round(np.stack([p[:, 1], p[:, 0]], axis=1) * 16).astype(np.int32)


def fill_polygon(image: np.ndarray, polygon: Polygon, grid: VoxelGrid, cell: float, value: int) -> None:
    """Paint ``polygon`` (with its holes) into ``image``, a raster of ``cell``-metre pixels over ``grid``."""
    geoms = getattr(polygon, "geoms", [polygon])
    for g in geoms:
        if g.is_empty or g.geom_type != "Polygon":
            continue
        cv2.fillPoly(image, [_to_pixels(np.asarray(g.exterior.coords), grid, cell)], int(value), cv2.LINE_8, 4)
        for hole in g.interiors:
            cv2.fillPoly(image, [_to_pixels(np.asarray(hole.coords), grid, cell)], 0, cv2.LINE_8, 4)


def draw_line(image: np.ndarray, points: np.ndarray, grid: VoxelGrid, value: int, width: float) -> None:
    """Paint the polyline ``points`` ``width`` metres wide into the ground texture ``image``."""
    thickness = max(1, int(round(width / TEXEL)))
    cv2.polylines(image, [_to_pixels(points, grid, TEXEL)], False, int(value), thickness, cv2.LINE_8, 4)


def _ground_texture(road_map: RoadMap, grid: VoxelGrid) -> np.ndarray:
    step = int(round(VOXEL / TEXEL))
    tex = np.full((grid.shape[0] * step, grid.shape[1] * step), GRASS, dtype=np.uint8)
    for road in road_map.roads:
        fill_polygon(tex, road.polygon(SIDEWALK_WIDTH), grid, TEXEL, PAVEMENT)
    for road in road_map.roads:
        fill_polygon(tex, road.polygon(KERB_WIDTH), grid, TEXEL, KERB)
    fill_polygon(tex, road_map.drivable, grid, TEXEL, ASPHALT)
    junction = _junction(road_map)
    for road in road_map.roads:
        for side in (+1, -1):
            _dashed(tex, road, road.boundary(side, -0.3), grid, junction, MARK_WHITE, dash=None)
        if road.oncoming_lanes and road.lanes:
            _dashed(tex, road, road.reference + road.normals * 0.12, grid, junction, MARK_YELLOW, dash=None)
            _dashed(tex, road, road.reference - road.normals * 0.12, grid, junction, MARK_YELLOW, dash=None)
        for k in range(1, road.lanes):
            _dashed(tex, road, road.reference - road.normals * (k * road.lane_width), grid, junction, MARK_WHITE, 3.0)
        for k in range(1, road.oncoming_lanes):
            _dashed(tex, road, road.reference + road.normals * (k * road.lane_width), grid, junction, MARK_WHITE, 3.0)
    for crosswalk in road_map.crosswalks:
        _zebra(tex, crosswalk, grid)
    return tex


def _zebra(tex: np.ndarray, crosswalk: Crosswalk, grid: VoxelGrid) -> None:
    """White bars along the road, ZEBRA_BAR wide with as wide gaps, across the crossing's carriageway."""
    road = crosswalk.road
    right, left = -road.lanes * road.lane_width, road.oncoming_lanes * road.lane_width
    s = np.array([crosswalk.s_from, crosswalk.s_to, crosswalk.s_to, crosswalk.s_from])
    for lateral in np.arange(right + ZEBRA_BAR / 2, left - ZEBRA_BAR / 2, 2 * ZEBRA_BAR):
        corners = road.to_world(s, np.array([lateral, lateral, lateral + ZEBRA_BAR, lateral + ZEBRA_BAR]))
        fill_polygon(tex, Polygon(corners), grid, TEXEL, MARK_WHITE)


def _junction(road_map: RoadMap) -> Polygon | None:
    if len(road_map.roads) < 2:
        return None
    polys = [r.polygon(0.5) for r in road_map.roads]
    return polys[0].intersection(polys[1]).buffer(2.0)


def _dashed(
    tex: np.ndarray,
    road,
    line: np.ndarray,
    grid: VoxelGrid,
    junction: Polygon | None,
    value: int,
    dash: float | None,
) -> None:
    """Draw a marking along ``line``: solid if ``dash`` is None, else dash on, 2 dash off; never in a junction."""
    s = road.stations
    on = np.ones(len(s), dtype=bool) if dash is None else (np.mod(s, 3 * dash) < dash)
    if junction is not None:
        on &= ~shapely.contains_xy(junction, line[:, 0], line[:, 1])
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a >= 2:
            draw_line(tex, line[a:b], grid, value, 0.15)


def raster_mask(polygon: Polygon, grid: VoxelGrid) -> np.ndarray:
    """The grid's columns (nx, ny) that ``polygon`` covers."""
    mask = np.zeros(grid.shape[:2], dtype=np.uint8)
    fill_polygon(mask, polygon, grid, grid.voxel_size, 1)
    return mask.astype(bool)


def place_buildings(
    labels: np.ndarray, blocked: np.ndarray, grid: VoxelGrid, road, side: int, rng: np.random.Generator
) -> None:
    """Line one road side with blocks of varied width, depth, set-back and height, leaving random gaps."""
    edge = (road.oncoming_lanes if side > 0 else road.lanes) * road.lane_width + SIDEWALK_WIDTH + 0.5
    s = float(road.stations[0]) - MARGIN / 2
    while s < road.stations[-1] + MARGIN / 2:
        width = rng.uniform(8.0, 22.0)
        gap = rng.uniform(1.0, 8.0)
        if rng.random() < 0.8:
            setback = rng.uniform(2.0, 7.0)
            depth = rng.uniform(8.0, 16.0)
            height = rng.uniform(5.0, 14.0)
            along = np.linspace(s, s + width, 8)
            front = road.to_world(along, np.full(8, side * (edge + setback)))
            back = road.to_world(along, np.full(8, side * (edge + setback + depth)))
            mask = np.zeros(grid.shape[:2], dtype=np.uint8)
            fill_polygon(mask, Polygon(np.concatenate([front, back[::-1]])).buffer(0), grid, grid.voxel_size, 1)
            mask = mask.astype(bool) & ~blocked
            top = min(grid.shape[2], GROUND_LAYER + 1 + int(height / grid.voxel_size))
            labels[mask, GROUND_LAYER:top] = MANMADE
        s += width + gap


def place_lamps_and_trees(
    labels: np.ndarray, blocked: np.ndarray, grid: VoxelGrid, road, side: int, rng: np.random.Generator
) -> list[tuple[float, float, float]]:
    """Lamp posts on the sidewalk, trees and hedges in the verge behind it; returns lamp head positions."""
    lamps = []
    width = (road.oncoming_lanes if side > 0 else road.lanes) * road.lane_width
    for s in np.arange(road.stations[0] + LAMP_SPACING / 2, road.stations[-1], LAMP_SPACING):
        base = road.to_world(s, side * (width + KERB_WIDTH + 0.4))
        stamp_column(labels, grid, base, 0.0, LAMP_HEIGHT, MANMADE, radius=0.0)
        head = road.to_world(s, side * (width - 1.0))
        lamps.append((float(head[0]), float(head[1]), LAMP_HEIGHT))
    verge = side * (width + SIDEWALK_WIDTH + 0.9)
    s = float(road.stations[0] + rng.uniform(2.0, 10.0))
    while s < road.stations[-1]:
        pos = road.to_world(s, verge + side * rng.uniform(0.0, 0.8))
        if rng.random() < 0.6:
            trunk = rng.uniform(2.0, 3.0)
            crown = rng.uniform(1.2, 2.2)
            stamp_column(labels, grid, pos, 0.0, trunk, VEGETATION, radius=0.0, blocked=blocked)
            for z in np.arange(trunk, trunk + 2 * crown, grid.voxel_size):
                r = np.sqrt(max(crown**2 - (z - trunk - crown) ** 2, 0.0))
                stamp_column(labels, grid, pos, z, z + grid.voxel_size, VEGETATION, radius=r, blocked=blocked)
            s += rng.uniform(8.0, 16.0)
        else:
            length = rng.uniform(4.0, 10.0)
            for ds in np.arange(0.0, length, grid.voxel_size):
                p = road.to_world(s + ds, verge)
                stamp_column(labels, grid, p, 0.0, rng.uniform(0.9, 1.2), VEGETATION, radius=0.35, blocked=blocked)
            s += length + rng.uniform(4.0, 12.0)
    return lamps


def stamp_column(
    labels: np.ndarray,
    grid: VoxelGrid,
    centre: np.ndarray,
    z0: float,
    z1: float,
    value: int,
    radius: float,
    blocked: np.ndarray | None = None,
) -> None:
    """Fill the voxels of a vertical disc of ``radius`` (0: a single column) from height z0 to z1."""
    v = grid.voxel_size
    cx, cy = (np.asarray(centre) - grid.lower[:2]) / v
    r = radius / v
    xs = np.arange(int(np.floor(cx - r)), int(np.floor(cx + r)) + 1)
    ys = np.arange(int(np.floor(cy - r)), int(np.floor(cy + r)) + 1)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    inside = (gx + 0.5 - cx) ** 2 + (gy + 0.5 - cy) ** 2 <= max(r, 0.5) ** 2
    inside &= (gx >= 0) & (gx < grid.shape[0]) & (gy >= 0) & (gy < grid.shape[1])
    gx, gy = gx[inside], gy[inside]
    if blocked is not None:
        keep = ~blocked[gx, gy]
        gx, gy = gx[keep], gy[keep]
    k0 = max(GROUND_LAYER + 1, int(np.floor((z0 - grid.lower[2]) / v)))
    k1 = min(grid.shape[2], int(np.ceil((z1 - grid.lower[2]) / v)))
    for k in range(k0, max(k0 + 1, k1)):
        labels[gx, gy, k] = value


@numba.njit(cache=True)
def _column_masks(labels: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    """Per-column bit masks of raised (non-flat, non-free) voxels, for fast ray traversal.

    A loop: numpy's version made a 64-bit temporary of the whole grid, seconds on a large OpenDRIVE map.
    """
    nx, ny, nz = labels.shape
    out = np.zeros((nx, ny), dtype=np.uint64)
    for i in range(nx):
        for j in range(ny):
            bits = np.uint64(0)
            for k in range(nz):
                label = labels[i, j, k]
                if k <= GROUND_LAYER:
                    raised = label == MANMADE
                else:
                    raised = label != FREE and label != DRIVEABLE_SURFACE and label != SIDEWALK and label != TERRAIN
                if raised:
                    bits |= np.uint64(1) << np.uint64(k)
            out[i, j] = bits
    return out
