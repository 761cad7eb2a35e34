"""Joint training of OccScene (paper 000, Algorithm 1, eq. 1): L = L_LDM + sqrt(alpha_bar_t) * L_p, in two stages.

Stage I keeps the perception model f_delta frozen and trains the generator (the alignment module, the cross-frame
attention, the ControlNet and the UNet); stage II trains f_delta as well, on the views decoded from the noisy
latents, its MonoScene loss weighted by sqrt(alpha_bar_t) so nearly pure noise teaches it little. Samples are pairs of
consecutive collect-render frames: the earlier one is the context (clean, through the context pass and the
alignment's temporal scan), the later one is noised. Some steps drop the context, so first frames are learned too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import DDPMScheduler

from occsim.generative.models.cross_view import set_video_mode
from occsim.generative.models.images import to_signed
from occsim.generative.models.perception import perception_loss
from occsim.generative.models.pixel_space import decode_latents, encode_images
from occsim.generative.models.text import token_ids
from occsim.generative.pipelines.occscene import FrameCondition, OccScenePipeline
from occsim.generative.pipelines.prompts import weather_prompt
from occsim.training.episodes import read_episodes
from occsim.training.reweighing import loss_weights, weighted_noise_loss
from occsim.training.syntheocc_loss import add_training_noise, training_target


@dataclass
class FrameSamples:
    """Collect-render episodes as consecutive frames: views, condition, labels, poses and cameras per sample."""

    images: np.ndarray  # (N, 6, H, W, 3) uint8
    mpi: np.ndarray  # (N, 6, D, h, w) uint8
    nearest: np.ndarray  # (N, 6, h, w) uint8
    depth: np.ndarray  # (N, 6, h, w) float32 [m]
    labels: np.ndarray  # (N, X, Y, Z) uint8 coarse occupancy
    ego_pose: np.ndarray  # (N, 3) world x, y, yaw
    intrinsics: np.ndarray  # (N, 6, 3, 3) for images of (H, W)
    cam2ego: np.ndarray  # (N, 6, 4, 4)
    prompts: list[str]
    weather: np.ndarray  # (N,) str
    episode: np.ndarray  # (N,) episode index: a pair never spans two episodes

    @classmethod
    def load(cls, files: list[Path], coarse: tuple[int, int, int] = (4, 4, 2)) -> FrameSamples:
        """Read collect-render episode files (with ``occupancy`` and ``ego_pose``)."""
        keys = ("images", "mpi", "nearest", "depth", "ego_pose")
        arrays = read_episodes(files, keys, coarse)
        prompts = [weather_prompt(str(w)) for w in arrays["weather"]]
        return cls(**{k: arrays[k] for k in cls.__dataclass_fields__ if k != "prompts"}, prompts=prompts)

    def pairs(self) -> np.ndarray:
        """Indices i whose predecessor i - 1 is in the same episode."""
        i = np.arange(1, len(self.images))
        return i[self.episode[i] == self.episode[i - 1]]

    def condition(self, i: int) -> FrameCondition:
        """Sample ``i``'s world condition."""
        return FrameCondition(
            torch.from_numpy(self.mpi[i].astype(np.int64)),
            torch.from_numpy(self.nearest[i].astype(np.int64)),
            tuple(float(v) for v in self.ego_pose[i]),
        )

    def views(self, index: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
        """(B * 6, 3, H, W) views of ``index`` in [-1, 1]."""
        images = torch.from_numpy(self.images[index]).flatten(0, 1).permute(0, 3, 1, 2)
        return to_signed(images).to(device)


def noise_scheduler_of(pipe: OccScenePipeline) -> DDPMScheduler:
    """The training scheduler matching the pipeline's sampler (betas and prediction type)."""
    return DDPMScheduler.from_config(pipe.scheduler.config)


def joint_losses(
    pipe: OccScenePipeline,
    noise_scheduler: DDPMScheduler,
    samples: FrameSamples,
    index: np.ndarray,
    class_weights: torch.Tensor,
    step: int,
    total_steps: int,
    use_context: bool = True,
    train_perception: bool = False,
    prompt_dropout: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_LDM, sqrt(alpha_bar_t)-weighted L_p) of one batch of frame pairs (``index``: the later frames).

    Args:
        pipe: the model; its VAE and text encoder are used frozen.
        noise_scheduler: ``noise_scheduler_of(pipe)``.
        samples: the frames.
        index: (B,) later frames of the pairs (their predecessors are the context).
        class_weights: MonoScene class weights for L_p.
        step: this optimiser step, for eq. 6's progressive reweighing.
        total_steps: all optimiser steps.
        use_context: condition on the previous frame (False: learn first frames).
        train_perception: stage II: L_p trains f_delta (stage I returns L_p = 0 and f_delta stays frozen).
        prompt_dropout: share of samples trained with the empty prompt (classifier-free guidance).
        generator: seeds noise, timesteps and prompt dropout.
    """
    device = pipe.device
    b, v = len(index), samples.mpi.shape[1]
    with torch.no_grad():
        latents = encode_images(pipe.vae, samples.views(index, device))
        previous = encode_images(pipe.vae, samples.views(index - 1, device)) if use_context else None
        keep = torch.rand(b, generator=generator) >= prompt_dropout
        prompts = [samples.prompts[i] if k else "" for i, k in zip(index, keep.tolist(), strict=True)]
        ids = token_ids(pipe.tokenizer, prompts).to(device)
        text = pipe.text_encoder(ids).last_hidden_state.repeat_interleave(v, dim=0)
    noisy, noise, per_view, timesteps = add_training_noise(noise_scheduler, latents, v, generator)
    k = torch.from_numpy(samples.intrinsics[index]).float().to(device)
    t_cam = torch.from_numpy(samples.cam2ego[index]).float().to(device)

    perception_term = latents.new_zeros(())
    logits = [None] * b
    context_logits = [None] * b
    if pipe.joint:
        pipe.perception.requires_grad_(train_perception)
        with torch.no_grad():
            noisy_views = decode_latents(pipe.vae, noisy).float().clamp(-1, 1).unflatten(0, (b, v))
            if use_context:
                clean_views = decode_latents(pipe.vae, previous).float().clamp(-1, 1).view(noisy_views.shape)
                context_logits = list(pipe.perception(clean_views, k, t_cam).split(1))
        with torch.set_grad_enabled(train_perception):
            predicted = pipe.perception(noisy_views, k, t_cam)
        logits = list(predicted.split(1))
        if train_perception:
            alpha_bar = noise_scheduler.alphas_cumprod[timesteps].to(device)
            labels = torch.from_numpy(samples.labels[index].astype(np.int64)).to(device)
            terms = [perception_loss(predicted[i : i + 1], labels[i : i + 1], class_weights) for i in range(b)]
            perception_term = (alpha_bar.sqrt() * torch.stack(terms)).mean()  # eq. 1

    slot = pipe.mda.config.frames - 1
    residuals = []
    for i in range(b):
        current = samples.condition(index[i])
        points = pipe.frustum(k[i], t_cam[i], tuple(pipe.settings["image_hw"]))
        frames = [samples.condition(index[i] - 1), current] if use_context else [current]
        cameras = pipe.cameras(frames, k[i], t_cam[i])
        rows = slice(i * v, (i + 1) * v)
        features = [pipe.mda.frame_features(pipe.occupancy_volume(current, logits[i], points), cameras[:, -1], slot)]
        sequence = [noisy[rows]]
        if use_context:
            volume = pipe.occupancy_volume(frames[0], context_logits[i], points)
            features.insert(0, pipe.mda.frame_features(volume, cameras[:, 0], slot - 1))
            sequence.insert(0, previous[rows])
        residuals.append(pipe.mda.align(torch.stack(features, dim=1), torch.stack(sequence, dim=1)))
    residual = torch.cat(residuals)

    mpi = torch.from_numpy(samples.mpi[index].astype(np.int64)).flatten(0, 1).to(device)
    nearest = torch.from_numpy(samples.nearest[index].astype(np.int64)).flatten(0, 1).to(device)
    try:
        pipe.record_context(previous, text)  # the previous frame's features, or cross-frame attention off
        down, mid = pipe.controlnet(noisy, per_view, text, mpi, nearest, condition_residual=residual)
        prediction = pipe.unet(
            noisy, per_view, text, down_block_additional_residuals=down, mid_block_additional_residual=mid
        ).sample
    finally:
        set_video_mode(pipe.unet, "off")
    target = training_target(noise_scheduler, latents, noise, per_view)
    depth = torch.from_numpy(samples.depth[index]).flatten(0, 1).to(device)
    weights = loss_weights(nearest, depth, step, total_steps).to(device)
    return weighted_noise_loss(prediction, target, weights), perception_term
