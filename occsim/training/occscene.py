"""Train OccScene on collect-render episodes and measure it: perceived occupancy, temporal consistency, speed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from occsim.classes import CLASS_NAMES
from occsim.generative.models.perception import SMALL_PERCEPTION, PerceptionMeter, class_weights
from occsim.generative.pipelines.conditioning import SKY_DEPTH
from occsim.generative.pipelines.occscene import ContextFrame, OccScenePipeline, ego_motion
from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline
from occsim.generative.renderers.syntheocc import SMALL_WEIGHTS
from occsim.metrics.occupancy import occupancy_iou
from occsim.metrics.temporal import reprojection_errors
from occsim.training.configs import OccSceneTrainConfig
from occsim.training.episodes import episode_files, split_episodes
from occsim.training.evaluate import save_examples, save_loss_curve
from occsim.training.occscene_loss import FrameSamples, joint_losses, noise_scheduler_of
from occsim.training.run import TrainingRun, write_metrics
from occsim.types import CAMERA_NAMES, CameraRig

RELIABLE = 10.0  # [0, 255]: pixels where the raster views differ less after reprojection are scored
MOVING = tuple(CLASS_NAMES.index(n) for n in ("bicycle", "bus", "car", "motorcycle", "pedestrian", "truck"))


def train_occscene(config: OccSceneTrainConfig) -> tuple[OccScenePipeline, dict]:
    """Both stages of Algorithm 1; the model and ``metrics.json`` (losses, time, split) land in ``out_dir``.

    Ctrl-C stops training early and still saves what was learned.
    """
    run = TrainingRun("train-occscene", config)
    torch.manual_seed(config.seed)
    pipe = OccScenePipeline.from_syntheocc(
        config.syntheocc or SMALL_WEIGHTS,
        config.perception or SMALL_PERCEPTION,
        joint=config.joint,
        mixer=config.mixer,
        camera_encoding=config.camera_encoding,
        patch=config.patch,
    ).to(config.device)
    train_files, held_files = split_episodes(episode_files(config.data_dir), config.held_out, config.seed)
    samples = FrameSamples.load(train_files)
    weights = class_weights(samples.labels)
    pairs = samples.pairs()
    noise_scheduler = noise_scheduler_of(pipe)
    pipe.vae.requires_grad_(False)
    pipe.text_encoder.requires_grad_(False)
    new = [p for n, p in pipe.unet.named_parameters() if ".processor.frame_" in n] + list(pipe.mda.parameters())
    known = {id(p) for p in new}
    base = [p for p in [*pipe.unet.parameters(), *pipe.controlnet.parameters()] if id(p) not in known]
    groups = [{"params": new, "lr": config.new_learning_rate}, {"params": base, "lr": config.learning_rate}]
    if config.joint:
        groups.append({"params": list(pipe.perception.parameters()), "lr": config.learning_rate})
    optimiser = torch.optim.AdamW(groups, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    stage_two_from = config.steps - round(config.stage_two * config.steps) if config.joint else config.steps
    losses: dict[str, list[float]] = {"ldm": [], "perception": []}
    pipe.unet.train()
    pipe.controlnet.train()
    pipe.mda.train()
    with run.stoppable():
        for step in (bar := run.progress(range(config.steps))):
            stage_two = step >= stage_two_from
            pipe.perception.train(stage_two)
            index = rng.choice(pairs, size=config.batch_size)
            ldm, perception = joint_losses(
                pipe,
                noise_scheduler,
                samples,
                index,
                weights,
                step,
                config.steps,
                use_context=bool(rng.random() >= config.context_dropout),
                train_perception=stage_two,
                prompt_dropout=config.prompt_dropout,
                generator=generator,
            )
            optimiser.zero_grad()
            (ldm + perception).backward()
            optimiser.step()
            losses["ldm"].append(ldm.item())
            losses["perception"].append(perception.item())
            bar.set_postfix(stage="II" if stage_two else "I", ldm=f"{np.mean(losses['ldm'][-50:]):.4f}")
    for module in (pipe.unet, pipe.controlnet, pipe.mda, pipe.perception):
        module.eval()
    out = Path(config.out_dir)
    pipe.save(out)
    record = run.record(
        train_pairs=len(pairs),
        steps_done=len(losses["ldm"]),
        stage_two_from=stage_two_from,
        held_out_episodes=[f.name for f in held_files],
        losses=losses,
    )
    write_metrics(out, record)
    return pipe, record


Generate = Callable[[FrameSamples, int, object, int], tuple[np.ndarray, object]]


def raster_frames(samples: FrameSamples, i: int, state: object, seed: int) -> tuple[np.ndarray, object]:
    """The training views themselves: the reference every learned renderer is compared with."""
    return samples.images[i], None


def syntheocc_frames(pipe: OccSimSyntheOccPipeline, steps: int) -> Generate:
    """Frames from SyntheOcc: each one drawn on its own."""

    def generate(samples: FrameSamples, i: int, state: object, seed: int) -> tuple[np.ndarray, object]:
        c = samples.condition(i)
        images = pipe(
            c.mpi,
            c.nearest,
            samples.prompts[i],
            num_inference_steps=steps,
            generator=torch.Generator().manual_seed(seed),
        )
        return images, None

    return generate


def occscene_frames(pipe: OccScenePipeline, steps: int) -> Generate:
    """Frames from OccScene: each one conditioned on the previous one generated."""

    def generate(samples: FrameSamples, i: int, state: object, seed: int) -> tuple[np.ndarray, ContextFrame]:
        out = pipe(
            samples.condition(i),
            samples.intrinsics[i],
            samples.cam2ego[i],
            samples.prompts[i],
            context=state,
            num_inference_steps=steps,
            generator=torch.Generator().manual_seed(seed),
        )
        return out.images, out.context

    return generate


def evaluate_video(
    generate: Generate, samples: FrameSamples, starts: list[int], length: int, meter: PerceptionMeter
) -> dict:
    """Roll ``generate`` over ``length`` consecutive frames from each start; score every frame and every pair.

    Returns:
        ``perceived_miou`` (mean over frames of the meter's occupied-class mIoU against the world), ``reprojection``
        (mean photometric error [0, 255] between consecutive frames after reprojection), ``seconds_per_frame``.
    """
    mious, errors, seconds = [], [], []
    for start in tqdm(starts, desc="evaluate", leave=False):
        state, previous = None, None
        for offset in range(length):
            i = start + offset
            began = time.perf_counter()
            images, state = generate(samples, i, state, seed=i)
            seconds.append(time.perf_counter() - began)
            rig = CameraRig(CAMERA_NAMES, samples.intrinsics[i], samples.cam2ego[i], tuple(images.shape[1:3]))
            mious.append(occupancy_iou(meter.perceive(images, rig), samples.labels[i])["miou"])
            if previous is not None:
                errors.append(reprojection(samples, i, previous, images))
            previous = images
    return {
        "perceived_miou": round(float(np.nanmean(mious)), 4),
        "reprojection": round(float(np.nanmean(errors)), 2) if errors else float("nan"),
        "seconds_per_frame": round(float(np.mean(seconds)), 3),
        "frames": len(mious),
    }


def reprojection(samples: FrameSamples, i: int, previous: np.ndarray, current: np.ndarray) -> float:
    """Mean reprojection error of frame ``i`` against frame ``i - 1`` on the pixels where the raster views agree.

    Static surfaces with a depth, where the raster views of the two frames differ by less than ``RELIABLE`` after
    reprojection (so the coarse depth reprojects them correctly); views of another size are compared after
    resizing the reference's depth and labels.
    """
    h, w = current.shape[1:3]
    factor = h // samples.depth.shape[2]
    depth = samples.depth[i].repeat(factor, axis=1).repeat(factor, axis=2)
    nearest = samples.nearest[i].repeat(factor, axis=1).repeat(factor, axis=2)
    compare = (depth < SKY_DEPTH) & ~np.isin(nearest, MOVING)
    motion = ego_motion(tuple(samples.ego_pose[i]), tuple(samples.ego_pose[i - 1])).numpy().astype(np.float64)
    k, t = samples.intrinsics[i], samples.cam2ego[i]
    reference = reprojection_errors(samples.images[i - 1], samples.images[i], depth, compare, k, t, motion)
    reliable = reference < RELIABLE
    if not reliable.any():
        return float("nan")
    return float(np.nanmean(reprojection_errors(previous, current, depth, reliable, k, t, motion)[reliable]))


def clip_starts(samples: FrameSamples, clips: int, length: int) -> list[int]:
    """The first frame of up to ``clips`` clips of ``length`` frames, one per episode, from the episodes' starts."""
    starts = []
    for episode in np.unique(samples.episode):
        first = int(np.flatnonzero(samples.episode == episode)[0])
        if first + length <= len(samples.episode) and (samples.episode[first : first + length] == episode).all():
            starts.append(first)
    return starts[:clips]


def document(
    folder: str | Path, sets: list[tuple[str, FrameSamples]], clips: int = 4, length: int = 3, steps: int = 12
) -> dict:
    """Score a trained model on clips of each set, then write ``MODEL_CARD.md``, ``samples.png``, ``training.png``.

    Args:
        folder: a folder written by ``train_occscene`` (``metrics.json`` is updated with the scores).
        sets: (name, frames) to score on, e.g. the held-out episodes and other collect-render folders.
        clips: clips per set (one per episode, from its first frame).
        length: frames per clip; the first one has no previous frame.
        steps: denoising steps (the renderer's CPU default).
    """
    folder = Path(folder)
    record = json.loads((folder / "metrics.json").read_text())
    pipe = OccScenePipeline.load(folder)
    pipe.set_progress_bar_config(disable=True)
    meter = PerceptionMeter.load()
    generate = occscene_frames(pipe, steps)
    scores = {}
    for name, samples in sets:
        starts = clip_starts(samples, clips, length)
        scores[name] = {
            "occscene": evaluate_video(generate, samples, starts, length, meter),
            "raster": evaluate_video(raster_frames, samples, starts, length, meter),
        }
    record["evaluation"] = {"clips": clips, "length": length, "steps": steps, "sets": scores}
    (folder / "metrics.json").write_text(json.dumps(record, indent=1))
    name, samples = sets[0]
    start = clip_starts(samples, 1, length)[0]
    rows, state = {}, None
    for offset in range(length):
        images, state = generate(samples, start + offset, state, seed=start + offset)
        rows[f"raster t{offset}"] = samples.images[start + offset]
        rows[f"occscene t{offset}"] = images
    save_examples(folder / "samples.png", rows, f"a clip of {name}: raster views and OccScene's, frame by frame")
    save_loss_curve(folder / "training.png", record["losses"]["ldm"])
    (folder / "MODEL_CARD.md").write_text(_card(pipe, record))
    return record


def _card(pipe: OccScenePipeline, record: dict) -> str:
    config = record["config"]
    evaluation = record["evaluation"]
    rows = [
        f"| {name} | {which} | {r['perceived_miou']:.3f} | {r['reprojection']:.2f} | {r['seconds_per_frame']:.2f} |"
        for name, per in evaluation["sets"].items()
        for which, r in per.items()
    ]
    parameters = {n: sum(p.numel() for p in getattr(pipe, n).parameters()) for n in ("mda", "perception")}
    flags = "" if config["joint"] else " --no-joint"
    flags += "" if config["camera_encoding"] else " --no-camera-encoding"
    return f"""# OccSim OccScene renderer

Joint perception-generation video diffusion (OccScene, paper 000) on OccSim's small SyntheOcc model: the perception
model f_delta reads the views decoded at every denoising step and its occupancy conditions the UNet through the
Mamba-based Dual Alignment module; each frame attends to the previous generated frame. Render with it in the env:
`renderer="occscene"`.

## How it was made
- Command: `occsim train-occscene {config["data_dir"]} --out {config["out_dir"]} --steps {config["steps"]} \
--mixer {config["mixer"]}{flags}`
- Start: the shipped `syntheocc-small` and `perception-small`; the alignment module ({parameters["mda"]:,}
  parameters, {config["mixer"]} mixer, camera encoding {"on" if config["camera_encoding"] else "off"}) and the
  cross-frame attention start at zero, so step 0 draws what SyntheOcc draws.
- Training: {record["steps_done"]} steps of {config["batch_size"]} consecutive-frame pairs from {record["train_pairs"]}
  ({record["stage_two_from"]} in stage I with f_delta frozen, the rest in stage II with L = L_LDM + sqrt(alpha_bar_t)
  L_p), context dropped on {config["context_dropout"]:.0%} of steps: {record["train_seconds"]:.0f} s on the CPU.

## What it draws
Clips of {evaluation["length"]} consecutive frames (every second env step), {evaluation["steps"]} UniPC steps,
guidance 7.5; each frame after the first is conditioned on the one before. Perceived mIoU: what the shipped
perception model sees in the views against the world's occupancy (coarse cells). Reprojection error: mean absolute
RGB difference [0, 255] between consecutive frames after warping with the known ego motion and depth, on static
pixels where the raster views themselves agree after warping.

| set | views | perceived mIoU | reprojection error | s / frame |
|---|---|---|---|---|
{chr(10).join(rows)}

![a clip](samples.png)

Trained and measured on OccSim's raster views only; a model for camera images of the real world needs real data
and a Stable Diffusion base (`--syntheocc` with a SyntheOcc model trained with `--base`).
"""
