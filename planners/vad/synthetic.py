"""Seeded stand-in weights for VAD: to run the pipeline, the tests and the oracle without the released checkpoints.

The draws depend only on the seed, each key's name and its shape (numpy's PCG64, stable across versions), so two
programs that build the same model get the same weights. They are not trained: plans from them are noise.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch

from occsim.planners.vad.config import VADConfig
from occsim.planners.vad.model import VAD


def seeded_tensor(name: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """One tensor, drawn from the seed and the key: He-scaled weights, small biases, unit-ish batch-norm stats."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return torch.zeros(shape, dtype=torch.int64)
    if leaf in ("running_var",) or (leaf == "weight" and len(shape) == 1):
        values = rng.uniform(0.5, 1.5, shape)  # norm scales and variances
    elif leaf in ("bias", "running_mean") or len(shape) <= 1:
        values = rng.normal(0.0, 0.05, shape)
    else:
        fan_in = int(np.prod(shape[1:]))
        values = rng.normal(0.0, np.sqrt(1.0 / max(fan_in, 1)), shape)
    return torch.from_numpy(values.astype(np.float32))


def synthetic_state(cfg: VADConfig, seed: int = 0, keys: set[str] | None = None) -> dict[str, torch.Tensor]:
    """Seeded weights for every key of ``VAD(cfg)`` (or only ``keys``), in the checkpoints' names and shapes."""
    with torch.device("meta"):  # names and shapes only: no 40-60 M parameters to allocate and initialise
        shapes = {k: tuple(v.shape) for k, v in VAD(cfg).state_dict().items()}
    return {k: seeded_tensor(k, s, seed) for k, s in shapes.items() if keys is None or k in keys}


def write_synthetic_checkpoint(cfg: VADConfig, path: str | Path, seed: int = 0) -> Path:
    """A ``.pth`` in the released layout (``{'meta', 'state_dict'}``, ``module.``-free) with seeded weights."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = synthetic_state(cfg, seed)
    torch.save({"meta": {"epoch": 0, "synthetic_seed": seed}, "state_dict": state}, path)
    return path
