"""Training pairs for the diffusion renderers from OccSim itself: no download needed.

Each env step of an expert rollout under a random weather gives one sample: the six raster views (the target), the
semantic MPI of the occupancy window at latent resolution (the condition), the nearest surface's label and depth at
latent resolution (for the reweighing of eq. 6), and the weather prompt. One ``.npz`` per episode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import track

from occsim.envs.occsim_env import OccSimEnv
from occsim.planners import make_planner
from occsim.scenario import Scenario
from occsim.sensors import WEATHERS
from occsim.sensors.mpi import build_mpi
from occsim.suite.tasks import derive_seed
from occsim.types import CameraRig

RENDER_BASE_SEED = 2_000_003  # keeps these seeds apart from the suite's and the planner collection's
LATENT_FACTOR = 8  # image pixels per latent pixel, as Stable Diffusion's VAE


@dataclass(frozen=True)
class RenderCollectConfig:
    """A collect-render run."""

    out_dir: Path
    episodes_per_scenario: int = 4
    image_hw: tuple[int, int] = (64, 112)  # target views; the latent is image_hw / 8
    planes: int = 32  # MPI depth planes
    max_depth: float = 51.2  # [m] of the farthest plane
    every: int = 2  # keep every n-th env step (consecutive steps are near duplicates)


def plane_depths(planes: int, max_depth: float) -> np.ndarray:
    """``planes`` depths evenly spaced up to ``max_depth`` (SyntheOcc's d_min..d_max, eq. 1)."""
    return np.linspace(max_depth / planes, max_depth, planes)


def collect_render(scenarios: list[Scenario], config: RenderCollectConfig) -> dict:
    """Roll the expert out under random weathers and write the pairs; returns what ``meta.json`` records."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weathers = sorted(WEATHERS)
    latent_hw = (config.image_hw[0] // LATENT_FACTOR, config.image_hw[1] // LATENT_FACTOR)
    latent_rig = CameraRig.nuscenes(latent_hw)
    depths = plane_depths(config.planes, config.max_depth)
    jobs = [(s, i) for s in scenarios for i in range(config.episodes_per_scenario)]
    samples = 0
    for scenario, i in track(jobs, description="collect-render"):
        seed = derive_seed(RENDER_BASE_SEED, scenario.name, i)
        path = out / f"{scenario.name}__{seed}.npz"
        if path.exists():
            with np.load(path) as done:
                samples += len(done["images"])
            continue
        weather = weathers[np.random.default_rng(seed).integers(len(weathers))]
        rows = _rollout(scenario, seed, weather, config, latent_rig, depths)
        np.savez_compressed(path, **rows, weather=np.array(weather), depths=depths)
        samples += len(rows["images"])
    meta = {"episodes": len(jobs), "samples": samples, "image_hw": list(config.image_hw), "planes": config.planes}
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta


def _rollout(scenario, seed, weather, config, latent_rig, depths) -> dict[str, np.ndarray]:
    env = OccSimEnv(scenario, weather=weather, camera_hw=config.image_hw, privileged=True)
    expert = make_planner("expert")
    obs, info = env.reset(seed=seed)
    expert.reset(info)
    rows: dict[str, list] = {"images": [], "mpi": [], "nearest": [], "depth": []}
    step, done = 0, False
    while not done:
        if step % config.every == 0:
            frames = env.sim.frames
            mpi = build_mpi(obs["occupancy"], latent_rig.intrinsics, latent_rig.cam2ego, latent_rig.hw, depths)
            rows["images"].append(obs["images"])
            rows["mpi"].append(mpi.numpy())
            rows["nearest"].append(_pool_mode(frames.semantic))
            rows["depth"].append(_pool_min(frames.depth))
        obs, _, terminated, truncated, _ = env.step(expert.plan(obs))
        done = terminated or truncated
        step += 1
    return {k: np.stack(v) for k, v in rows.items()}


def _blocks(a: np.ndarray) -> np.ndarray:
    n, h, w = a.shape
    f = LATENT_FACTOR
    return a.reshape(n, h // f, f, w // f, f).transpose(0, 1, 3, 2, 4).reshape(n, h // f, w // f, f * f)


def _pool_mode(semantic: np.ndarray) -> np.ndarray:
    """The most frequent label in each latent pixel's block: (6, h/8, w/8) uint8."""
    blocks = _blocks(semantic)
    counts = np.stack([(blocks == c).sum(axis=-1) for c in range(18)], axis=-1)
    return counts.argmax(axis=-1).astype(np.uint8)


def _pool_min(depth: np.ndarray) -> np.ndarray:
    """The nearest depth in each latent pixel's block [m]: (6, h/8, w/8) float32, capped at 1000 for sky."""
    return np.minimum(_blocks(depth).min(axis=-1), 1000.0).astype(np.float32)
