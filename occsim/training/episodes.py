"""Training pairs from ``occsim collect-render`` as a torch dataset, with CBGS-style class-balanced sampling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from occsim.generative.models.images import to_signed
from occsim.generative.models.perception import coarsen_occupancy
from occsim.generative.pipelines.prompts import weather_prompt
from occsim.training.reweighing import FOREGROUND_CLASSES
from occsim.types import OCC3D_GRID


def episode_files(folder: str | Path, command: str = "collect-render") -> list[Path]:
    """The episode files (``<scenario>__<seed>.npz``) of a folder that ``occsim COMMAND`` wrote, sorted.

    Raises:
        FileNotFoundError: the folder holds none.
    """
    files = sorted(p for p in Path(folder).glob("*__*.npz") if not p.name.endswith(".tmp.npz"))
    if not files:
        raise FileNotFoundError(f"{folder}: no episode files (*.npz); run `occsim {command} --out {folder}` first")
    return files


def write_episode(path: Path, **arrays) -> None:
    """One episode's arrays, compressed, written whole.

    A temporary file is renamed into place, so an interrupted collection never leaves a torn episode behind for
    the readers (or a resumed collection) to trip on.
    """
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


# What collect-render keeps per sample, from the simulator or from logged nuScenes keyframes alike.
RENDER_ROW_KEYS = ("images", "mpi", "nearest", "depth", "occupancy", "ego_pose")


def write_render_meta(out: Path, config, **counts) -> dict:
    """``meta.json`` of a collect-render folder: ``counts`` and the condition's geometry from ``config``."""
    meta = {
        **counts,
        "image_hw": list(config.image_hw),
        "latent_factor": config.latent_factor,
        "planes": config.planes,
        "max_depth": config.max_depth,
        "layout": config.layout,
    }
    (Path(out) / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta


def split_episodes(files: list, held_out: float, seed: int = 0) -> tuple[list, list]:
    """(train, held-out) episodes: whole episodes, so no held-out step has a near-duplicate in training."""
    order = np.random.default_rng(seed).permutation(len(files))
    n_held = max(1, round(held_out * len(files))) if held_out > 0 and len(files) > 1 else 0
    held = sorted(files[i] for i in order[:n_held])
    return [f for f in files if f not in held], held


def read_episodes(files: list[Path], keys: tuple[str, ...], coarse: tuple[int, int, int] | None = None) -> dict:
    """Per-sample arrays of collect-render episode files, concatenated over the episodes.

    Args:
        files: episode files.
        keys: arrays stored per sample to read (``images``, ``mpi``, ``nearest``, ``depth``, ``ego_pose``, ...).
        coarse: also give ``labels``, the occupancy window coarsened by these factors (the perception model's cells).

    Returns:
        ``keys`` (and ``labels``), plus per sample: the episode's ``intrinsics`` and ``cam2ego``, its ``weather``
        and ``episode``, the index of its file in ``files``.

    Raises:
        ValueError: a file lacks an array asked for (collected by an older collect-render).
    """
    stored = (*keys, "occupancy") if coarse else keys
    parts: dict[str, list] = {k: [] for k in (*keys, "intrinsics", "cam2ego", "weather", "episode")}
    if coarse:
        parts["labels"] = []
    for index, path in enumerate(files):
        with np.load(path) as data:
            missing = [k for k in stored if k not in data]
            if missing:
                raise ValueError(
                    f"{path}: no {' or '.join(missing)}; collect again with this version of `occsim collect-render`"
                )
            n = len(data[stored[0]])
            for key in keys:
                parts[key].append(data[key])
            if coarse:
                parts["labels"].append(coarsen_occupancy(data["occupancy"], coarse))
            if "intrinsics" in data:
                parts["intrinsics"].append(np.repeat(data["intrinsics"][None], n, axis=0))
                parts["cam2ego"].append(np.repeat(data["cam2ego"][None], n, axis=0))
            parts["weather"].append(np.full(n, str(data["weather"])))
            parts["episode"].append(np.full(n, index))
    return {k: np.concatenate(v) for k, v in parts.items() if v}


class RenderPairs(Dataset):
    """Every env step of a collect-render folder: six views, their latent-resolution MPIs, labels, depths, prompt."""

    def __init__(self, folder: str | Path, files: list[Path] | None = None):
        files = episode_files(folder) if files is None else files
        if not files:
            raise ValueError(f"{folder}: no episodes selected")
        arrays = read_episodes(files, ("images", "mpi", "nearest", "depth"))
        self.images, self.mpi, self.nearest, self.depth = (arrays[k] for k in ("images", "mpi", "nearest", "depth"))
        self.prompts = [weather_prompt(str(w)) for w in arrays["weather"]]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        """One sample: images (6, 3, H, W) in [-1, 1], mpi (6, D, h, w), nearest and depth (6, h, w), prompt."""
        return {
            "images": to_signed(torch.from_numpy(self.images[i]).permute(0, 3, 1, 2)),
            "mpi": torch.from_numpy(self.mpi[i].astype(np.int64)),
            "nearest": torch.from_numpy(self.nearest[i].astype(np.int64)),
            "depth": torch.from_numpy(self.depth[i]),
            "prompt": self.prompts[i],
        }

    def classes_present(self) -> list[set[int]]:
        """The foreground classes each sample's views show."""
        return [set(np.unique(n).tolist()) & set(FOREGROUND_CLASSES) for n in self.nearest]


def class_balanced_weights(present: list[set[int]]) -> np.ndarray:
    """CBGS-style sampling weights: each foreground class gets the same expected share of the draws.

    A sample's weight is the sum, over the classes it shows, of 1 / (number of samples showing that class); samples
    with no foreground class count as one more class, 1 / (number of such samples). Normalised to sum 1.
    """
    counts: dict[int, int] = {}
    for classes in present:
        for c in classes:
            counts[c] = counts.get(c, 0) + 1
    empty = sum(1 for classes in present if not classes)
    weights = np.array(
        [sum(1.0 / counts[c] for c in classes) if classes else 1.0 / empty for classes in present], dtype=np.float64
    )
    return weights / weights.sum()


def class_balanced_sampler(
    dataset: RenderPairs, num_samples: int, seed: int = 0, boost: np.ndarray | None = None
) -> WeightedRandomSampler:
    """A sampler drawing ``num_samples`` indices with ``class_balanced_weights``, times ``boost`` per sample."""
    weights = class_balanced_weights(dataset.classes_present())
    weights = torch.as_tensor(weights if boost is None else weights * boost)
    return WeightedRandomSampler(weights, num_samples, generator=torch.Generator().manual_seed(seed))


# The ego's corridor in the occupancy window: 0-40 m ahead, within 4 m of its centreline (a lane and its edges).
CORRIDOR_AHEAD, CORRIDOR_HALF_WIDTH = (0.0, 40.0), 4.0  # [m]


def near_lane(files: list[Path]) -> np.ndarray:
    """Per sample of ``files`` (RenderPairs' order), whether an object voxel lies in the ego's corridor ahead.

    Read from the stored occupancy one episode at a time, so the windows never sit in memory together.
    """
    lower, size = np.array(OCC3D_GRID.lower), OCC3D_GRID.voxel_size
    x0, x1 = ((np.array(CORRIDOR_AHEAD) - lower[0]) / size).astype(int)
    y0, y1 = ((np.array([-CORRIDOR_HALF_WIDTH, CORRIDOR_HALF_WIDTH]) - lower[1]) / size).astype(int)
    flags = []
    for path in files:
        with np.load(path) as data:
            corridor = data["occupancy"][:, x0:x1, y0:y1]
        flags.append(np.isin(corridor, FOREGROUND_CLASSES).any(axis=(1, 2, 3)))
    return np.concatenate(flags)
