"""Is a trained SyntheOcc renderer conditioned on the world? Layout agreement on held-out episodes, and pictures.

A segmentation probe trained on raster views labels the generated views; its labels are compared with the world's
nearest-surface labels. The same model with an empty MPI (the occupancy of an empty world) and with another
sample's MPI are the controls: if the images follow the condition, agreement falls in both.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from occsim.classes import FREE
from occsim.generative.pipelines.syntheocc import DEFAULT_GUIDANCE, DEFAULT_STEPS, OccSimSyntheOccPipeline
from occsim.training.episodes import RenderPairs
from occsim.training.probe import SegmentationProbe, layout_agreement


def evaluate_layout(
    pipe: OccSimSyntheOccPipeline,
    held_out: RenderPairs,
    probe: SegmentationProbe,
    samples: int = 24,
    seed: int = 0,
    steps: int = DEFAULT_STEPS,
    guidance: float = DEFAULT_GUIDANCE,
) -> tuple[dict, dict[str, np.ndarray]]:
    """Probe agreement of raster views and of generated views (conditioned, empty MPI, another sample's MPI).

    Returns:
        The figures per source ({pixel_accuracy, miou}, plus seconds per six-view sample for generation and the
        first sample's prompt), and the views of the first sample per source, (6, H, W, 3) uint8, for a picture.
    """
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(held_out), size=min(samples, len(held_out)), replace=False)
    truth = held_out.nearest[picks]
    views: dict[str, list[np.ndarray]] = {"raster": [held_out.images[i] for i in picks]}
    seconds = []
    pipe.set_progress_bar_config(disable=True)
    for n, i in enumerate(tqdm(picks, desc="evaluate")):
        other = picks[(n + 1) % len(picks)]
        mpi, nearest = held_out.mpi[i], held_out.nearest[i]
        conditions = {
            "syntheocc": (mpi, nearest),
            "empty_mpi": (np.full_like(mpi, FREE), np.full_like(nearest, FREE)),
            "shuffled_mpi": (held_out.mpi[other], held_out.nearest[other]),
        }
        for name, (m, near) in conditions.items():
            started = time.perf_counter()
            images = pipe(
                torch.from_numpy(m.astype(np.int64)),
                torch.from_numpy(near.astype(np.int64)),
                held_out.prompts[i],
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=torch.Generator().manual_seed(seed + int(i)),
            )
            if name == "syntheocc":
                seconds.append(time.perf_counter() - started)
            views.setdefault(name, []).append(images)
    figures = {}
    for name, generated in views.items():
        labels = probe.labels(np.concatenate(generated))
        figures[name] = layout_agreement(labels, truth.reshape(labels.shape))
    figures["seconds_per_sample"] = float(np.mean(seconds))
    figures["samples"] = len(picks)
    figures["example_prompt"] = held_out.prompts[picks[0]]
    return figures, {name: v[0] for name, v in views.items()}


def save_examples(path: str | Path, examples: dict[str, np.ndarray], title: str = "") -> Path:
    """One row per source, the six views side by side in camera order."""
    fig = Figure(figsize=(12, 1.1 * len(examples) + 0.4))
    axes = fig.subplots(len(examples), 1, squeeze=False)
    for ax, (name, views) in zip(axes[:, 0], examples.items(), strict=True):
        ax.imshow(np.concatenate(list(views), axis=1))
        ax.set_ylabel(name.replace("_", " "), rotation=0, ha="right", va="center", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)


def save_loss_curve(
    path: str | Path, losses: list[float], window: int = 50, ylabel: str = "reweighed noise MSE (eq. 7)"
) -> Path:
    """The training loss per step and its running mean."""
    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    steps = np.arange(1, len(losses) + 1)
    ax.plot(steps, losses, color="0.8", linewidth=0.6, label="per step")
    if len(losses) >= window:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1 :], smooth, color="C0", label=f"mean of {window}")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)
