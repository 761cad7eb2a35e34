"""Training pairs from ``occsim collect-render`` as a torch dataset, with CBGS-style class-balanced sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from occsim.generative.prompts import weather_prompt
from occsim.generative.reweighing import FOREGROUND_CLASSES


def episode_files(folder: str | Path) -> list[Path]:
    """The episode files of a collect-render folder, sorted.

    Raises:
        FileNotFoundError: the folder holds none.
    """
    files = sorted(Path(folder).glob("*__*.npz"))
    if not files:
        raise FileNotFoundError(f"{folder}: no episode files; run `occsim collect-render --out {folder}` first")
    return files


def split_episodes(files: list[Path], held_out: float, seed: int = 0) -> tuple[list[Path], list[Path]]:
    """(train, held-out) episode files: whole episodes, so no held-out step has a near-duplicate in training."""
    order = np.random.default_rng(seed).permutation(len(files))
    n_held = max(1, round(held_out * len(files))) if held_out > 0 and len(files) > 1 else 0
    held = sorted(files[i] for i in order[:n_held])
    return [f for f in files if f not in held], held


class RenderPairs(Dataset):
    """Every env step of a collect-render folder: six views, their latent-resolution MPIs, labels, depths, prompt."""

    def __init__(self, folder: str | Path, files: list[Path] | None = None):
        files = episode_files(folder) if files is None else files
        if not files:
            raise ValueError(f"{folder}: no episodes selected")
        parts: dict[str, list[np.ndarray]] = {"images": [], "mpi": [], "nearest": [], "depth": []}
        self.prompts: list[str] = []
        for path in files:
            with np.load(path) as data:
                for key in parts:
                    parts[key].append(data[key])
                self.prompts += [weather_prompt(str(data["weather"]))] * len(data["images"])
        self.images, self.mpi, self.nearest, self.depth = (np.concatenate(parts[k]) for k in parts)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        """One sample: images (6, 3, H, W) in [-1, 1], mpi (6, D, h, w), nearest and depth (6, h, w), prompt."""
        return {
            "images": torch.from_numpy(self.images[i]).permute(0, 3, 1, 2).float() / 127.5 - 1.0,
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


def class_balanced_sampler(dataset: RenderPairs, num_samples: int, seed: int = 0) -> WeightedRandomSampler:
    """A sampler drawing ``num_samples`` indices with ``class_balanced_weights``."""
    weights = torch.as_tensor(class_balanced_weights(dataset.classes_present()))
    return WeightedRandomSampler(weights, num_samples, generator=torch.Generator().manual_seed(seed))
