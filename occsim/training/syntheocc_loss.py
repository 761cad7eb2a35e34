"""One SyntheOcc training step (paper 001, eq. 7): reweighed noise prediction with the base model frozen.

Trainable: the MPI ControlNet (its encoder copy, MPI encoder and zero convolutions) and the UNet's cross-view
attention layers; the base UNet, the VAE and the text encoder stay frozen. The batch is whole groups of six views.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import DDPMScheduler

from occsim.generative.models.controlnet import MPIControlNet
from occsim.training.reweighing import MAX_WEIGHT, loss_weights, weighted_noise_loss


@dataclass
class SyntheOccBatch:
    """Six views per sample, flattened: (B * 6, ...) everywhere."""

    latents: torch.Tensor  # (N, 4, h, w) VAE latents of the target views (already scaled)
    text: torch.Tensor  # (N, L, C) text-encoder states of the prompts
    mpi: torch.Tensor  # (N, D, h, w) labels per plane at latent resolution
    nearest: torch.Tensor  # (N, h, w) nearest-surface labels
    depth: torch.Tensor  # (N, h, w) nearest-surface depth [m] for the depth-aware weight


# Where the cross-view layers sit in a UNet's parameter names: OccSim's attention processors, or the released
# SyntheOcc's norm4 / attn4 / connector (its ``trainable_state="only_new"``).
CROSS_VIEW_PARTS = (".processor.",)
OFFICIAL_CROSS_VIEW_PARTS = (".norm4.", ".attn4.", ".connector.")


def trainable_parameters(
    unet: torch.nn.Module,
    controlnet: torch.nn.Module,
    train_base: bool = False,
    cross_view_parts: tuple[str, ...] = CROSS_VIEW_PARTS,
) -> list[torch.nn.Parameter]:
    """Freeze the base UNet except its cross-view layers; return those and the ControlNet's parameters.

    ``train_base`` trains the whole UNet instead: the small default has no pretrained base to keep.
    ``cross_view_parts`` name the cross-view layers' parameters.
    """
    for name, parameter in unet.named_parameters():
        parameter.requires_grad_(train_base or any(part in name for part in cross_view_parts))
    controlnet.requires_grad_(True)
    return [p for p in unet.parameters() if p.requires_grad] + list(controlnet.parameters())


def training_loss(
    unet: torch.nn.Module,
    controlnet: MPIControlNet,
    noise_scheduler: DDPMScheduler,
    batch: SyntheOccBatch,
    step: int,
    total_steps: int,
    generator: torch.Generator | None = None,
    foreground_gain: float = MAX_WEIGHT,
) -> torch.Tensor:
    """Eq. 7 on ``batch``: noise at a random timestep per six-view sample, reweighed by eq. 6 (progressive x depth).

    ``foreground_gain`` is eq. 6's m, the largest weight of each factor (the paper's 2).

    The target is what the scheduler's ``prediction_type`` says: the noise (epsilon, SD 1.x and the paper) or the
    velocity (v_prediction, SD 2.1 768 and OccSim's small pixel-space model).
    """
    latents = batch.latents
    noisy, noise, steps, _ = add_training_noise(noise_scheduler, latents, 6, generator)
    down, mid = controlnet(noisy, steps, batch.text, batch.mpi, batch.nearest)
    prediction = unet(
        noisy, steps, batch.text, down_block_additional_residuals=down, mid_block_additional_residual=mid
    ).sample
    weights = loss_weights(batch.nearest, batch.depth, step, total_steps, m=foreground_gain).to(latents.device)
    return weighted_noise_loss(prediction, training_target(noise_scheduler, latents, noise, steps), weights)


def add_training_noise(
    noise_scheduler: DDPMScheduler, latents: torch.Tensor, views: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(noisy latents, noise, timestep per view, timestep per sample): one random timestep per group of ``views``.

    The views of a sample share their timestep, as they are denoised together.
    """
    noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype).to(latents.device)
    per_sample = torch.randint(
        0, noise_scheduler.config.num_train_timesteps, (latents.shape[0] // views,), generator=generator
    )
    steps = per_sample.repeat_interleave(views).to(latents.device)
    return noise_scheduler.add_noise(latents, noise, steps), noise, steps, per_sample


def training_target(
    noise_scheduler: DDPMScheduler, latents: torch.Tensor, noise: torch.Tensor, steps: torch.Tensor
) -> torch.Tensor:
    """What the model learns to predict, by the scheduler's ``prediction_type``: the noise or the velocity.

    Raises:
        ValueError: another prediction type.
    """
    prediction_type = noise_scheduler.config.prediction_type
    if prediction_type == "epsilon":
        return noise
    if prediction_type == "v_prediction":
        return noise_scheduler.get_velocity(latents, noise, steps)
    raise ValueError(f"prediction_type {prediction_type!r} is not supported; use epsilon or v_prediction")
