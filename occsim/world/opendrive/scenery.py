"""The static world of an OpenDRIVE map: ground by lane type, the file's road marks and objects, and scenery.

Lane types go into the ground texture and the occupancy as the classes Occ3D gives such ground: driving lanes are
driveable_surface; sidewalks and kerbs sidewalk; shoulders, parking and cycle lanes other_flat; borders and
medians terrain. ``scenery="town"`` lines the roads with buildings, trees and street lamps as the procedural maps
do (what OccSim's learned renderers and planners were trained among); ``"none"`` keeps only what the file holds.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely

from occsim.classes import FREE, MANMADE, VEGETATION
from occsim.types import GROUND_LAYER, VoxelGrid
from occsim.world.background import (
    ASPHALT,
    GRASS,
    KERB,
    LAMP_HEIGHT,
    MARGIN,
    MARK_WHITE,
    MARK_YELLOW,
    PAVED,
    PAVEMENT,
    SIDEWALK_WIDTH,
    TEXEL,
    TEXTURE_TO_CLASS,
    VOXEL,
    WORLD_Z,
    StaticWorld,
    assemble_static_world,
    draw_line,
    fill_polygon,
    place_buildings,
    place_lamps_and_trees,
    raster_mask,
    stamp_column,
)
from occsim.world.boxes import box_polygon
from occsim.world.opendrive.model import RoadMark
from occsim.world.opendrive.network import DRIVABLE_TYPES, NetworkRoad, RoadNetwork
from occsim.world.roadmap import Road, RoadMap

SCENERY = ("town", "none")
GROUND_OF_TYPE = {  # lane type (lower case) -> ground texture code; types not listed are left as grass
    "sidewalk": PAVEMENT,
    "walking": PAVEMENT,
    "curb": KERB,
    "shoulder": PAVED,
    "parking": PAVED,
    "biking": PAVED,
    "restricted": PAVED,
    "bus": PAVED,
    "taxi": PAVED,
    "hov": PAVED,
    "tram": PAVED,
    "rail": PAVED,
    "border": GRASS,
    "median": GRASS,
}
DASH, GAP = 3.0, 6.0  # [m] of a broken road mark
DOUBLE_GAP = 0.12  # [m] between the lines of a double mark and its centre
TREE_TYPES = ("tree", "vegetation")
POLE_TYPES = ("pole", "streetLamp", "trafficLight", "signal")
BOX_TYPES = ("building", "barrier", "railing", "guardRail", "soundBarrier", "gantry", "obstacle", "wall")


def static_world(
    network: RoadNetwork,
    road_map: RoadMap,
    rng: np.random.Generator,
    scenery: str = "town",
    focus: tuple[float, float, float, float] | None = None,
) -> StaticWorld:
    """Voxels, ground texture and lamps of the map.

    ``focus`` (xmin, ymin, xmax, ymax) limits a large map to a region (plus MARGIN): only what an episode can see is
    rendered.
    """
    if scenery not in SCENERY:
        raise ValueError(f"scenery must be one of {', '.join(SCENERY)}, got {scenery!r}")
    outlines = shapely.union_all([road.outline for road in network.roads.values()])
    xmin, ymin, xmax, ymax = outlines.bounds
    if focus is not None:
        xmin, ymin = max(xmin, focus[0] - MARGIN), max(ymin, focus[1] - MARGIN)
        xmax, ymax = min(xmax, focus[2] + MARGIN), min(ymax, focus[3] + MARGIN)
    lower = (np.floor((xmin - MARGIN) / VOXEL) * VOXEL, np.floor((ymin - MARGIN) / VOXEL) * VOXEL, WORLD_Z[0])
    nx = int(np.ceil((xmax + MARGIN - lower[0]) / VOXEL))
    ny = int(np.ceil((ymax + MARGIN - lower[1]) / VOXEL))
    grid = VoxelGrid((nx, ny, int(round((WORLD_Z[1] - WORLD_Z[0]) / VOXEL))), VOXEL, lower)

    step = int(round(VOXEL / TEXEL))
    texture = np.full((nx * step, ny * step), GRASS, dtype=np.uint8)
    for road in network.roads.values():
        for index, section in enumerate(road.record.sections):
            for record in section.lanes:
                code = GROUND_OF_TYPE.get(record.type.lower())
                if code is not None and record.type.lower() not in DRIVABLE_TYPES:
                    fill_polygon(texture, _lane_outline(road, index, record.id), grid, TEXEL, code)
    fill_polygon(texture, road_map.drivable, grid, TEXEL, ASPHALT)
    for road in network.roads.values():
        _road_marks(texture, road, grid)
    labels = np.full(grid.shape, FREE, dtype=np.uint8)
    labels[:, :, GROUND_LAYER] = TEXTURE_TO_CLASS[texture[step // 2 :: step, step // 2 :: step][:nx, :ny]]

    lamps = _objects(labels, grid, network)
    if scenery == "town":
        blocked = raster_mask(outlines.buffer(SIDEWALK_WIDTH + 0.5), grid)
        for road in network.roads.values():
            if road.in_junction or road.length < 5.0:
                continue
            edge_road = _scenery_road(road)
            for side in (+1, -1):
                place_buildings(labels, blocked, grid, edge_road, side, rng)
                lamps.extend(place_lamps_and_trees(labels, blocked, grid, edge_road, side, rng))
    return assemble_static_world(grid, labels, texture, np.array(lamps, dtype=np.float64).reshape(-1, 3))


def _lane_outline(road: NetworkRoad, section: int, lane: int) -> shapely.Polygon:
    lo, hi = road.section_range(section)
    s = np.concatenate([[lo], road.s[(road.s > lo) & (road.s < hi)], [hi]])
    inner, outer = road.borders(section, s)[lane]
    ix, iy, _ = road.to_world(s, inner)
    ox, oy, _ = road.to_world(s, outer)
    return shapely.make_valid(shapely.Polygon(np.concatenate([np.stack([ix, iy], 1), np.stack([ox, oy], 1)[::-1]])))


def _road_marks(texture: np.ndarray, road: NetworkRoad, grid: VoxelGrid) -> None:
    """Every lane's road marks along its outer border (the centre lane's along the centre line)."""
    for index, section in enumerate(road.record.sections):
        lo, hi = road.section_range(index)
        lanes = [(0, section.centre_marks)] + [(r.id, r.marks) for r in section.lanes]
        for lane, marks in lanes:
            for k, mark in enumerate(marks):
                end = marks[k + 1].s if k + 1 < len(marks) else hi
                _draw_mark(texture, road, index, lane, mark, max(mark.s, lo), min(end, hi), grid)


def _draw_mark(
    texture: np.ndarray, road: NetworkRoad, section: int, lane: int, mark: RoadMark, a: float, b: float, grid
) -> None:
    kinds = mark.type.lower().split()
    if b - a < 0.2 or not kinds or not all(k in ("solid", "broken") for k in kinds):
        return  # none, botts dots, grass, curb, custom: nothing painted flat on the asphalt
    colour = MARK_YELLOW if mark.color.lower() in ("yellow", "orange") else MARK_WHITE
    s = np.concatenate([[a], road.s[(road.s > a) & (road.s < b)], [b]])
    s = np.unique(np.concatenate([s, np.arange(a, b, 0.5)]))
    _, outer = road.borders(section, s)[lane]
    side = 1.0 if lane >= 0 else -1.0
    shifts = [0.0] if len(kinds) == 1 else [-DOUBLE_GAP * side, DOUBLE_GAP * side]
    for kind, shift in zip(kinds, shifts):
        x, y, _ = road.to_world(s, outer + shift)
        points = np.stack([x, y], axis=1)
        if kind == "solid":
            draw_line(texture, points, grid, colour, max(mark.width, 0.1))
            continue
        on = np.mod(s - a, DASH + GAP) < DASH
        edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2]):
            if stop - start >= 2:
                draw_line(texture, points[start:stop], grid, colour, max(mark.width, 0.1))


def _objects(labels: np.ndarray, grid: VoxelGrid, network: RoadNetwork) -> list[tuple[float, float, float]]:
    """The file's static objects into the voxels; street lamps also as light sources. Returns lamp heads."""
    lamps = []
    for road in network.roads.values():
        for obj in road.record.objects:
            x, y, h = (float(v) for v in road.to_world(obj.s, obj.t))
            height = obj.height or (LAMP_HEIGHT if obj.type == "streetLamp" else 1.0)
            if obj.type in POLE_TYPES:
                stamp_column(labels, grid, np.array([x, y]), 0.0, height, MANMADE, radius=0.0)
                if obj.type == "streetLamp":
                    lamps.append((x, y, height))
            elif obj.type in TREE_TYPES:
                radius = obj.radius or max(obj.width, obj.length, 1.0) / 2
                stamp_column(labels, grid, np.array([x, y]), 0.0, max(height, 2.0), VEGETATION, radius=radius)
            elif obj.type in BOX_TYPES and obj.length > 0 and obj.width > 0:
                _box(labels, grid, (x, y, h + obj.hdg), (obj.length, obj.width, max(height, 0.5)))
    return lamps


def _box(labels: np.ndarray, grid: VoxelGrid, pose: tuple[float, float, float], size: Iterable[float]) -> None:
    """A manmade block (building, wall, barrier) of ``size`` (length, width, height) at ``pose``."""
    length, width, height = size
    mask = raster_mask(box_polygon(*pose, length, width), grid)
    top = min(grid.shape[2], GROUND_LAYER + 1 + int(np.ceil(height / grid.voxel_size)))
    labels[mask, GROUND_LAYER + 1 : top] = MANMADE


def _scenery_road(road: NetworkRoad) -> Road:
    """A two-lane OccSim road along the OpenDRIVE road as wide as its widest side, to line with buildings."""
    right, left = np.empty_like(road.s), np.empty_like(road.s)
    for index in range(len(road.section_starts)):
        lo, hi = road.section_range(index)
        mask = (road.s >= lo) & (road.s <= hi)
        right[mask], left[mask] = road.extent(index, road.s[mask])
    half = float(max(np.abs(right).max(), np.abs(left).max(), 2.0))
    keep = np.concatenate([[True], np.diff(road.s) > 1e-3])
    return Road(-1, road.xy[keep], 1, 1, half, start=0.0, end_run_out=0.0, extrapolate=False)
