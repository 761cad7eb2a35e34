"""The 18 Occ3D-nuScenes semantic classes, their colours, and nuScenes mean object sizes."""

from __future__ import annotations

import numpy as np

CLASS_NAMES: tuple[str, ...] = (
    "others",
    "barrier",
    "bicycle",
    "bus",
    "car",
    "construction_vehicle",
    "motorcycle",
    "pedestrian",
    "traffic_cone",
    "trailer",
    "truck",
    "driveable_surface",
    "other_flat",
    "sidewalk",
    "terrain",
    "manmade",
    "vegetation",
    "free",
)
CLASS_ID: dict[str, int] = {name: i for i, name in enumerate(CLASS_NAMES)}

OTHERS, BARRIER, BICYCLE, BUS, CAR, CONSTRUCTION_VEHICLE, MOTORCYCLE, PEDESTRIAN = range(8)
TRAFFIC_CONE, TRAILER, TRUCK, DRIVEABLE_SURFACE, OTHER_FLAT, SIDEWALK, TERRAIN, MANMADE = range(8, 16)
VEGETATION, FREE = 16, 17

# Classes that lie flat on the ground: driving over them is not a collision.
FLAT_CLASSES: frozenset[int] = frozenset({DRIVEABLE_SURFACE, OTHER_FLAT, SIDEWALK, TERRAIN})

# Occ3D visualisation palette (RGB uint8), one row per class.
CLASS_COLORS: np.ndarray = np.array(
    [
        [0, 0, 0],
        [255, 120, 50],
        [255, 192, 203],
        [255, 255, 0],
        [0, 150, 245],
        [0, 255, 255],
        [200, 180, 0],
        [255, 0, 0],
        [255, 240, 150],
        [135, 60, 0],
        [160, 32, 240],
        [255, 0, 255],
        [139, 137, 137],
        [75, 0, 75],
        [150, 240, 80],
        [230, 230, 250],
        [0, 175, 0],
        [255, 255, 255],
    ],
    dtype=np.uint8,
)

# nuScenes mean box sizes (length, width, height) [m] for the classes actors may take.
ACTOR_SIZES: dict[str, tuple[float, float, float]] = {
    "car": (4.6, 1.9, 1.7),
    "truck": (6.9, 2.5, 2.8),
    "bus": (11.0, 2.9, 3.5),
    "trailer": (12.0, 2.9, 3.9),
    "construction_vehicle": (6.5, 2.8, 3.2),
    "pedestrian": (0.7, 0.7, 1.75),
    "motorcycle": (2.1, 0.8, 1.5),
    "bicycle": (1.7, 0.6, 1.3),
    "traffic_cone": (0.4, 0.4, 0.8),
    "barrier": (0.5, 2.5, 1.0),
}
ACTOR_CLASSES: tuple[str, ...] = tuple(ACTOR_SIZES)
