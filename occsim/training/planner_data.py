"""The vision planner's training data in memory: collected episodes, their future boxes, splits and batches."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from occsim.metrics.open_loop import VAD_COLLISION_CLASSES
from occsim.planners.vision import ego_motion
from occsim.training.episodes import episode_files, split_episodes
from occsim.types import WAYPOINTS


@dataclass
class PlannerDataset:
    """Every sample of a collection, in memory."""

    images: np.ndarray  # (N, V, h, w, 3) uint8: the six cameras (and the zoom view)
    intrinsics: np.ndarray  # (N, V, 3, 3) float32, for images of size (h, w)
    cam2ego: np.ndarray  # (N, V, 4, 4) float32
    ego: np.ndarray  # (N, 4) float32
    command: np.ndarray  # (N,) int64
    plan: np.ndarray  # (N, 6, 2) float32, the expert's waypoints, ego frame [m]
    bev: np.ndarray  # (N, 3, cells, cells) bool
    future_boxes: np.ndarray  # (N, 6, A, 5) agent boxes at the waypoint times, current ego frame
    future_valid: np.ndarray  # (N, 6, A) bool, boxes of the classes VAD's metric counts
    episode: np.ndarray  # (N,) int, index into ``episodes``
    ego_pose: np.ndarray  # (N, 3) world x, y, yaw of the ego [m, m, rad]: its localisation, for the BEV memory
    hidden: np.ndarray  # (N,) bool: an actor was left out of this frame's pictures (``collect --hide``)
    episodes: list[str]
    zoom: float = 1.0  # the zoom view's magnification (``VisionConfig.zoom``; 1: none)

    def __len__(self) -> int:
        return len(self.plan)

    def subset(self, index: np.ndarray) -> PlannerDataset:
        """The samples at ``index``."""
        fields = {k: v[index] for k, v in asdict(self).items() if isinstance(v, np.ndarray)}
        return PlannerDataset(**fields, episodes=self.episodes, zoom=self.zoom)


def load_dataset(data_dir: str | Path, *more: str | Path) -> PlannerDataset:
    """Read every ``*.npz`` episode of one or more collection folders (episodes named ``<folder>/<file stem>``).

    Raises:
        FileNotFoundError: a folder holds no episodes.
        ValueError: the episodes differ in their views (some with a zoom view, some without or another zoom).
    """
    files = [f for folder in (data_dir, *more) for f in episode_files(folder, command="collect")]
    parts: dict[str, list[np.ndarray]] = {}
    zooms: dict[float, Path] = {}
    for index, path in enumerate(tqdm(files, desc="load", unit="episode", leave=False)):
        with np.load(path) as data:
            n = len(data["plan"])
            zooms.setdefault(float(data["zoom"]) if "zoom" in data else 1.0, path)
            boxes, valid = _future_boxes(data["agents"], data["ego_pose"])
            episode = {
                "images": data["images"],
                "intrinsics": np.broadcast_to(data["intrinsics"], (n, *data["intrinsics"].shape)),
                "cam2ego": np.broadcast_to(data["cam2ego"], (n, *data["cam2ego"].shape)),
                "ego": data["ego"],
                "command": data["command"].astype(np.int64),
                "plan": data["plan"],
                "bev": data["bev"],
                "future_boxes": boxes,
                "future_valid": valid,
                "episode": np.full(n, index),
                "ego_pose": data["ego_pose"].astype(np.float64),
                "hidden": data["hidden"].astype(bool) if "hidden" in data else np.zeros(n, dtype=bool),
            }
        for key, value in episode.items():
            parts.setdefault(key, []).append(value)
    if len(zooms) > 1:
        found = ", ".join(f"{z:g} ({p})" for z, p in zooms.items())
        raise ValueError(f"the episodes were collected with different zoom views: {found}; collect them again alike")
    names = [f"{f.parent.name}/{f.stem}" for f in files]
    return PlannerDataset(**{k: np.concatenate(v) for k, v in parts.items()}, episodes=names, zoom=next(iter(zooms)))


def _future_boxes(agents: np.ndarray, ego_pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Agent boxes 0.5 s, 1 s, ... 3 s after each step (one env step each), in that step's ego frame.

    Args:
        agents: (T + 1, A, 6) world x, y, yaw, length, width, class per step (class -1 pads).
        ego_pose: (T, 3) world x, y, yaw of the ego per step.
    """
    steps = len(ego_pose)
    count = agents.shape[1]
    boxes = np.zeros((steps, WAYPOINTS, count, 5), dtype=np.float32)
    valid = np.zeros((steps, WAYPOINTS, count), dtype=bool)
    counted = np.array(sorted(VAD_COLLISION_CLASSES))
    for k in range(steps):
        x, y, yaw = (float(v) for v in ego_pose[k])
        c, s = np.cos(yaw), np.sin(yaw)
        for i in range(WAYPOINTS):
            future = k + 1 + i
            if future >= len(agents):
                break
            a = agents[future]
            dx, dy = a[:, 0] - x, a[:, 1] - y
            boxes[k, i] = np.stack([c * dx + s * dy, -s * dx + c * dy, a[:, 2] - yaw, a[:, 3], a[:, 4]], axis=1)
            valid[k, i] = np.isin(a[:, 5], counted)
    return boxes, valid


def split_by_episode(dataset: PlannerDataset, held_out: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample indices of the training and validation episodes (``split_episodes`` over the episode indices)."""
    _, held = split_episodes(list(range(len(dataset.episodes))), held_out, seed)
    val = np.isin(dataset.episode, held)
    return np.flatnonzero(~val), np.flatnonzero(val)


def jitter_views(images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Colour and exposure jitter of (B, V, 3, h, w) views in [0, 1].

    Each sample gets an exposure gain (0.6-1.4), a contrast (0.8-1.2) and a white balance (0.9-1.1 per channel);
    each camera's exposure differs from the sample's by up to 10 %, as auto-exposure does.
    """
    b, n = images.shape[:2]
    gain = rng.uniform(0.6, 1.4, (b, 1)) * rng.uniform(0.9, 1.1, (b, n))
    contrast = rng.uniform(0.8, 1.2, (b, 1))
    balance = rng.uniform(0.9, 1.1, (b, 1, 3))

    def as_tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32))

    mean = images.mean(dim=(2, 3, 4), keepdim=True)
    out = (images - mean) * as_tensor(contrast)[..., None, None, None] + mean
    out = out * as_tensor(gain)[..., None, None, None] * as_tensor(balance)[..., None, None]
    return out.clamp(0.0, 1.0)


def batch_inputs(
    dataset: PlannerDataset, index: np.ndarray, views: int, rng: np.random.Generator | None = None
) -> tuple[torch.Tensor, ...]:
    """Inputs of a network that sees ``views`` views for the samples at ``index``; with ``rng``, jittered views.

    A network without the zoom view reads zoom data's first six views, so old and new weights can be compared on
    the same held-out episodes.

    Raises:
        ValueError: the data hold fewer views than the network sees.
    """
    if dataset.images.shape[1] < views:
        raise ValueError(f"the network sees {views} views (a zoom view); these data hold {dataset.images.shape[1]}")
    images = torch.from_numpy(dataset.images[index, :views]).permute(0, 1, 4, 2, 3).float() / 255.0
    if rng is not None:
        images = jitter_views(images, rng)
    return (
        images,
        torch.from_numpy(np.ascontiguousarray(dataset.intrinsics[index, :views])),
        torch.from_numpy(np.ascontiguousarray(dataset.cam2ego[index, :views])),
        torch.from_numpy(dataset.ego[index]),
        torch.from_numpy(dataset.command[index]),
    )


def tiled_windows(dataset: PlannerDataset, length: int, rng: np.random.Generator) -> np.ndarray:
    """Starts of non-overlapping ``length``-frame windows tiling each episode from a random offset in 0..length-1.

    One epoch over them passes over each frame once (overlapping windows at every frame would pass
    ``length`` times), and a new offset each epoch puts every frame at every place of a window over the epochs.
    """
    starts = []
    for episode in np.unique(dataset.episode):
        frames = np.flatnonzero(dataset.episode == episode)  # stored in step order, contiguous
        first = frames[0] + int(rng.integers(length))
        starts.append(np.arange(first, frames[-1] - length + 2, length))
    return np.concatenate(starts) if starts else np.zeros(0, dtype=int)


def tiled_window_count(dataset: PlannerDataset, length: int) -> int:
    """How many windows ``tiled_windows`` gives at least, whatever the offsets."""
    counts = np.bincount(dataset.episode)
    return int(np.sum(np.maximum(counts[counts > 0] - length + 1, 0) // length))


def ego_motions(dataset: PlannerDataset, index: np.ndarray) -> torch.Tensor:
    """(B, 3) each sample's ego motion since the sample before it (``ego_motion``), for a BEV memory."""
    return torch.from_numpy(np.stack([ego_motion(dataset.ego_pose[i - 1], dataset.ego_pose[i]) for i in index])).float()
