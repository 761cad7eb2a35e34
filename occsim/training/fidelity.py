"""Sampling settings side by side on held-out samples: layout (probe), perceived occupancy (meter) and speed.

Used to compare a model at its full step count, the same model at few steps, and its consistency-distilled student
at few steps: the fidelity a few-step sampler keeps, measured with the same samples and seeds for every setting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from occsim.generative.models.perception import PerceptionMeter
from occsim.generative.pipelines.prompts import weather_prompt
from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline
from occsim.metrics.occupancy import occupancy_iou
from occsim.training.episodes import read_episodes
from occsim.training.probe import SegmentationProbe, layout_agreement
from occsim.types import CAMERA_NAMES, CameraRig


@dataclass(frozen=True)
class Sampling:
    """One way of sampling a model."""

    name: str
    pipe: OccSimSyntheOccPipeline
    steps: int
    guidance: float


def pick_samples(data: dict, samples: int, seed: int) -> np.ndarray:
    """Indices of up to ``samples`` distinct samples of ``read_episodes``' ``data``, drawn with ``seed``."""
    n = len(data["images"])
    return np.random.default_rng(seed).choice(n, size=min(samples, n), replace=False)


def perceived_miou(meter: PerceptionMeter, views: list[np.ndarray], data: dict, picks: np.ndarray) -> float:
    """The meter's occupancy mIoU on six-view ``views`` (one per pick), averaged over the samples.

    Each is scored against its sample's coarsened window (``read_episodes(..., coarse=...)``' labels).
    """
    hw = data["images"].shape[2:4]
    scores = [
        occupancy_iou(
            meter.perceive(v, CameraRig(CAMERA_NAMES, data["intrinsics"][i], data["cam2ego"][i], hw)),
            data["labels"][i],
        )["miou"]
        for v, i in zip(views, picks, strict=True)
    ]
    return float(np.nanmean(scores))


def compare_sampling(
    settings: list[Sampling],
    held_out: list[Path],
    probe: SegmentationProbe,
    meter: PerceptionMeter,
    samples: int = 12,
    seed: int = 0,
) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Every setting on the same ``samples`` held-out samples with the same seeds.

    Returns:
        One row per setting (and ``raster`` first, the ceiling): probe pixel accuracy and mIoU against the world's
        nearest-surface labels, the meter's perceived-occupancy mIoU against the coarsened window, seconds per
        six-view sample; and the first sample's views per setting, for a picture.
    """
    coarse = tuple(meter.model.config.coarse)
    data = read_episodes(held_out, ("images", "mpi", "nearest"), coarse=coarse)
    picks = pick_samples(data, samples, seed)
    views: dict[str, list[np.ndarray]] = {"raster": [data["images"][i] for i in picks]}
    seconds: dict[str, list[float]] = {}
    for s in settings:
        s.pipe.set_progress_bar_config(disable=True)
    for i in tqdm(picks, desc="compare sampling"):
        for s in settings:
            started = time.perf_counter()
            images = s.pipe(
                torch.from_numpy(data["mpi"][i].astype(np.int64)),
                torch.from_numpy(data["nearest"][i].astype(np.int64)),
                weather_prompt(str(data["weather"][i])),
                num_inference_steps=s.steps,
                guidance_scale=s.guidance,
                generator=torch.Generator().manual_seed(seed + int(i)),
            )
            seconds.setdefault(s.name, []).append(time.perf_counter() - started)
            views.setdefault(s.name, []).append(images)
    truth = data["nearest"][picks]
    rows = []
    for name, generated in views.items():
        labels = probe.labels(np.concatenate(generated))
        layout = layout_agreement(labels, truth.reshape(labels.shape))
        rows.append(
            {
                "setting": name,
                "probe_pixel_accuracy": round(layout["pixel_accuracy"], 4),
                "probe_miou": round(layout["miou"], 4),
                "perceived_miou": round(perceived_miou(meter, generated, data, picks), 4),
                "seconds_per_sample": round(float(np.mean(seconds[name])), 3) if name in seconds else None,
            }
        )
    return rows, {name: v[0] for name, v in views.items()}
