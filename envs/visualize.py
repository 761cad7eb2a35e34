"""Pictures for people: the six views as a mosaic beside a bird's-eye view of the scene."""

from __future__ import annotations

import cv2
import numpy as np

from occsim.classes import CLASS_COLORS
from occsim.types import COMMANDS, Trajectory
from occsim.world.boxes import box_corners
from occsim.world.ego import footprint_corners
from occsim.world.world import World

COMMAND_NAMES = {code: name for name, code in COMMANDS.items()}


def mosaic(images: np.ndarray) -> np.ndarray:
    """Six views (6, H, W, 3) as a 2 x 3 grid: front-left, front, front-right over back-right, back, back-left."""
    return np.concatenate([np.concatenate(list(images[:3]), 1), np.concatenate(list(images[3:]), 1)], 0)


def bev_image(world: World, plan: Trajectory | None, size: int, extent: float = 40.0) -> np.ndarray:
    """A (size, size, 3) uint8 top view centred on the ego (heading up): road, lanes, actors, ego and plan."""
    img = np.full((size, size, 3), 235, dtype=np.uint8)
    ego = world.ego.pose
    scale = size / (2 * extent)

    def px(points: np.ndarray) -> np.ndarray:
        local = ego.to_local(np.asarray(points))
        return np.round(np.stack([size / 2 - local[:, 1] * scale, size / 2 - local[:, 0] * scale], 1) * 16).astype(
            np.int32
        )

    for geom in getattr(world.road_map.drivable, "geoms", [world.road_map.drivable]):
        cv2.fillPoly(img, [px(np.asarray(geom.exterior.coords))], (90, 90, 95), cv2.LINE_AA, 4)
    for lane in world.road_map.lanes():
        cv2.polylines(img, [px(lane.centreline(spacing=2.0))], False, (150, 150, 155), 1, cv2.LINE_AA, 4)
    for crosswalk in world.road_map.crosswalks:
        cv2.fillPoly(img, [px(crosswalk.outline())], (200, 200, 200), cv2.LINE_AA, 4)
    route = world.route
    cv2.polylines(img, [px(route.centreline())], False, (90, 160, 255), 3, cv2.LINE_AA, 4)
    for a in world.actors:
        color = tuple(int(c) for c in CLASS_COLORS[a.cls])
        cv2.fillPoly(img, [px(box_corners(a.x, a.y, a.yaw, a.size[0], a.size[1]))], color, cv2.LINE_AA, 4)
    cv2.fillPoly(img, [px(footprint_corners(ego))], (40, 200, 40), cv2.LINE_AA, 4)
    if plan is not None:
        path = ego.to_parent(np.vstack([[0.0, 0.0], plan.points]))
        cv2.polylines(img, [px(path)], False, (255, 60, 200), 2, cv2.LINE_AA, 4)
    gx, gy = world.route.goal
    centre = px(np.array([[gx, gy]]))[0] // 16
    cv2.drawMarker(img, (int(centre[0]), int(centre[1])), (255, 200, 0), cv2.MARKER_STAR, max(8, size // 30), 2)
    command = COMMAND_NAMES[route.command_at(world.ego)]
    scale = max(0.35, size / 700)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, f"command: {command}", (6, size - 8), font, scale, (40, 40, 40), 1, cv2.LINE_AA)
    return img


def frame_image(images: np.ndarray, world: World, plan: Trajectory | None, caption: str = "") -> np.ndarray:
    """The mosaic beside a bird's-eye view as tall as the mosaic, with an optional caption."""
    grid = mosaic(images)
    bev = bev_image(world, plan, grid.shape[0])
    out = np.concatenate([grid, bev], 1)
    if caption:
        scale = max(0.4, out.shape[0] / 600)
        cv2.putText(out, caption, (8, int(24 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(
            out, caption, (8, int(24 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA
        )
    return out
