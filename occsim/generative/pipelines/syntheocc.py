"""``OccSimSyntheOccPipeline``: six views from semantic MPIs, camera-consistent through cross-view attention.

UniPC (20 steps by default) with classifier-free guidance (7.5 by default), or, for a consistency-distilled model
(``occsim distill-syntheocc``), diffusers' LCM scheduler in 2-4 unguided steps; the six views and both guidance
halves go through the ControlNet and the UNet in one batch each step: [unconditional views 0..5, conditional views
0..5], which keeps each group of six contiguous for the cross-view attention.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL, DiffusionPipeline, LCMScheduler, UNet2DConditionModel, UniPCMultistepScheduler
from safetensors.torch import load_file
from transformers import CLIPTextModel, CLIPTokenizer

from occsim.classes import FREE
from occsim.generative.models.controlnet import MPIControlNet
from occsim.generative.models.cross_view import NeighbourAttnProcessor, VideoAttnProcessor, install_cross_view
from occsim.generative.models.images import to_signed, to_uint8
from occsim.generative.models.pixel_space import PixelSpace, decode_latents, encode_images, latent_factor
from occsim.generative.models.text import quiet_loading, token_ids
from occsim.generative.pipelines.conditioning import plane_depths
from occsim.sensors.mpi import build_mpi
from occsim.types import scale_intrinsics

DEFAULT_STEPS = 20
DEFAULT_GUIDANCE = 7.5
SETTINGS_FILE = "occsim_syntheocc.json"  # what model_index.json cannot say: cross-view layout, condition geometry
SCHEDULERS = {s.__name__: s for s in (UniPCMultistepScheduler, LCMScheduler)}  # the samplers a saved model may name


class OccSimSyntheOccPipeline(DiffusionPipeline):
    """MPI-conditioned multi-view latent diffusion (SyntheOcc, paper 001)."""

    def __init__(
        self,
        vae: AutoencoderKL | PixelSpace,
        text_encoder: CLIPTextModel,
        tokenizer: CLIPTokenizer,
        unet: UNet2DConditionModel,
        controlnet: MPIControlNet,
        scheduler: UniPCMultistepScheduler | LCMScheduler,
    ):
        super().__init__()
        self.register_modules(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            controlnet=controlnet,
            scheduler=scheduler,
        )

        self.settings: dict = {}

    def save(self, directory: str | Path, **settings) -> Path:
        """``save_pretrained`` plus the UNet's cross-view layout and ``settings`` (the condition's geometry).

        Args:
            directory: where to write.
            settings: JSON values kept with the model and back in ``settings`` after ``load``, e.g. the image size,
                MPI planes and farthest plane depth it was trained with.
        """
        directory = Path(directory)
        self.save_pretrained(directory, safe_serialization=True)
        added = [p for p in self.unet.attn_processors.values() if isinstance(p, NeighbourAttnProcessor)]
        # install_cross_view gives every block the same group and wrap-around, so the first one speaks for all
        self.settings = {
            **self.settings,
            **settings,
            "cross_view_group": added[0].group if added else None,
            "cyclic": added[0].cyclic if added else True,
            "video": bool(added) and isinstance(added[0], VideoAttnProcessor),
        }
        (directory / SETTINGS_FILE).write_text(json.dumps(self.settings, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path, torch_dtype: torch.dtype | None = None):
        """Load what ``save`` wrote (safetensors only; nothing is fetched from a hub).

        Raises:
            FileNotFoundError: ``directory`` was not written by ``save``.
        """
        directory = Path(directory)
        settings = read_settings(directory)
        pipe = cls(**load_parts(directory, settings))
        pipe.settings = settings
        return pipe.to(torch_dtype=torch_dtype) if torch_dtype else pipe

    def mpi_condition(
        self, occupancy: np.ndarray, intrinsics: np.ndarray, cam2ego: np.ndarray, image_hw: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mpi, nearest)`` for ``__call__`` from an occupancy window and camera parameters.

        The MPI uses the planes and farthest depth the model was trained with (``settings``); the nearest-surface
        label is the MPI's first occupied plane (the renderer reads it from a raster pass instead, as training did).

        Args:
            occupancy: (200, 200, 16) Occ3D labels in the ego frame.
            intrinsics: (V, 3, 3) camera matrices for images of ``image_hw``.
            cam2ego: (V, 4, 4) camera-to-ego transforms.
            image_hw: the size of the images ``intrinsics`` describe [px].
        """
        factor = latent_factor(self.vae)
        latent_hw = (image_hw[0] // factor, image_hw[1] // factor)
        depths = plane_depths(self.settings["planes"], self.settings["max_depth"])
        mpi = build_mpi(occupancy, scale_intrinsics(intrinsics, image_hw, latent_hw), cam2ego, latent_hw, depths)
        occupied = mpi != FREE
        first = occupied.to(torch.uint8).argmax(dim=1, keepdim=True)
        nearest = torch.where(occupied.any(dim=1), mpi.gather(1, first)[:, 0], torch.full_like(mpi[:, 0], FREE))
        return mpi.long(), nearest.long()

    @torch.no_grad()
    def encode_prompt(self, prompt: str, negative_prompt: str = "") -> torch.Tensor:
        """(2, L, C) text embeddings: [negative, prompt]."""
        ids = token_ids(self.tokenizer, [negative_prompt, prompt]).to(self.device)
        return self.text_encoder(ids).last_hidden_state

    @torch.no_grad()
    def __call__(
        self,
        mpi: torch.Tensor,
        nearest: torch.Tensor,
        prompt: str,
        negative_prompt: str = "",
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        generator: torch.Generator | None = None,
        init_images: np.ndarray | None = None,
        strength: float = 1.0,
        keep_detail: bool = False,
    ) -> np.ndarray:
        """(V, H, W, 3) uint8 RGB views.

        Args:
            mpi: (V, D, h, w) Occ3D labels per depth plane at latent resolution, one row per camera.
            nearest: (V, h, w) label of the nearest surface per latent pixel.
            prompt: weather and style text (see ``occsim.generative.pipelines.prompts``).
            negative_prompt: the unconditional half of classifier-free guidance (empty: the prompt dropped in training).
            num_inference_steps: sampler steps (None: the model's own, see ``sampling``).
            guidance_scale: classifier-free guidance weight; 1 turns guidance off (one half of the batch).
            generator: seeds the initial noise: the same seed gives the same images.
            init_images: (V, H, W, 3) uint8 views at the model's size to start from (SDEdit), or None.
            strength: how much of the schedule runs from ``init_images``: 0 returns them through the autoencoder,
                1 is pure generation.
            keep_detail: add back what the autoencoder loses of ``init_images`` (``detail_residual``), so strength 0
                returns them exactly and what the model changes is laid over the world's own detail.
        """
        num_inference_steps, guidance_scale = self.sampling(num_inference_steps, guidance_scale)
        text, mpi_in, nearest_in = self.guided_inputs(prompt, negative_prompt, guidance_scale, mpi, nearest)
        start = self.encode_start(init_images, strength, keep_detail)
        latents, timesteps = self.initial_latents(
            mpi.shape[0], mpi.shape[-2:], num_inference_steps, generator, None if start is None else start[1], strength
        )
        for t in self.progress_bar(timesteps):
            latents = self.denoise(latents, t, text, mpi_in, nearest_in, guidance_scale, generator=generator)
        images = decode_latents(self.vae, latents)
        if keep_detail and start is not None:
            images = images.float() + self.detail_residual(*start)
        return to_uint8(images)

    @torch.no_grad()
    def encode_start(
        self, init_images: np.ndarray | None, strength: float, keep_detail: bool
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(views in [-1, 1], their latents) of the (V, H, W, 3) uint8 views to start from; None if nothing uses them.

        Encoded once for both the noised start (``initial_latents``) and the detail residual.
        """
        if init_images is None or (strength >= 1.0 and not keep_detail):
            return None
        images = to_signed(torch.from_numpy(np.ascontiguousarray(init_images)).permute(0, 3, 1, 2)).to(self.device)
        return images, encode_images(self.vae, images.to(self.vae.dtype))

    def detail_residual(self, images: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        """(V, 3, H, W) what the autoencoder loses of ``images``: the views minus their round trip, in [-1, 1].

        A small autoencoder blurs away small and distant objects; laid back over the decoded views, the residual
        keeps the world's detail where the model changed nothing. ``latents``: the views' encoding.
        """
        return images.float() - decode_latents(self.vae, latents).float()

    def sampling(self, steps: int | None = None, guidance: float | None = None) -> tuple[int, float]:
        """The steps and guidance to sample with: those given, else the model's own.

        A consistency-distilled model saves its own (4 steps, guidance 1: baked in); others use UniPC's 20 and 7.5.
        """
        steps = int(self.settings.get("steps", DEFAULT_STEPS)) if steps is None else steps
        guidance = float(self.settings.get("guidance", DEFAULT_GUIDANCE)) if guidance is None else guidance
        return steps, guidance

    def guided_inputs(
        self, prompt: str, negative_prompt: str, guidance_scale: float, mpi: torch.Tensor, nearest: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(text, mpi, nearest) batched as [unconditional views, conditional views].

        Only the conditional views when ``guidance_scale`` <= 1 turns guidance off; the conditional half is last.
        """
        views = mpi.shape[0]
        text = self.encode_prompt(prompt, negative_prompt).to(self.unet.dtype)
        halves = [0, 1] if guidance_scale > 1.0 else [1]
        text = torch.cat([text[h : h + 1].expand(views, -1, -1) for h in halves])
        return (
            text,
            torch.cat([mpi.to(self.device)] * len(halves)),
            torch.cat([nearest.to(self.device)] * len(halves)),
        )

    def initial_latents(
        self,
        views: int,
        latent_hw: tuple[int, int],
        num_inference_steps: int,
        generator: torch.Generator | None,
        init_latents: torch.Tensor | None = None,
        strength: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Starting latents for ``views`` and the timesteps to run from them (the scheduler is set up for those).

        Pure generation starts from seeded noise, drawn on the CPU so a seed gives the same noise on every device.
        With ``init_latents`` (``encode_start``'s) and ``strength`` below 1 (SDEdit, as diffusers' image-to-image
        pipelines): those latents noised to the timestep where the last ``strength`` share of the schedule begins,
        which then runs.
        """
        shape = (views, self.unet.config.in_channels, *latent_hw)
        noise = torch.randn(shape, generator=generator, device="cpu", dtype=torch.float32)
        self.scheduler.set_timesteps(num_inference_steps, device=self.device)
        noise = noise.to(self.device, self.unet.dtype)
        if init_latents is None or strength >= 1.0:
            return noise * self.scheduler.init_noise_sigma, self.scheduler.timesteps
        start = num_inference_steps - min(int(num_inference_steps * strength), num_inference_steps)
        timesteps = self.scheduler.timesteps[start * self.scheduler.order :]
        self.scheduler.set_begin_index(start * self.scheduler.order)
        latents = init_latents.to(self.unet.dtype)
        if len(timesteps):
            latents = self.scheduler.add_noise(latents, noise, timesteps[:1])
        return latents, timesteps

    def denoise(
        self,
        latents: torch.Tensor,
        t: torch.Tensor,
        text: torch.Tensor,
        mpi: torch.Tensor,
        nearest: torch.Tensor,
        guidance_scale: float,
        condition_residual: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """One sampler step: ControlNet and UNet on both guidance halves in one batch (``guided_inputs``' layout).

        ``condition_residual`` (views, C, h, w) enters the ControlNet's condition for both halves; ``generator``
        seeds the noise a stochastic sampler (LCM's multistep sampling) injects, so a seed gives the same images.
        """
        halves = text.shape[0] // latents.shape[0]
        model_in = self.scheduler.scale_model_input(torch.cat([latents] * halves), t)
        residual = None if condition_residual is None else torch.cat([condition_residual] * halves)
        down, mid = self.controlnet(model_in, t, text, mpi, nearest, condition_residual=residual)
        noise = self.unet(
            model_in, t, text, down_block_additional_residuals=down, mid_block_additional_residual=mid
        ).sample
        if halves == 2:
            uncond, cond = noise.chunk(2)
            noise = uncond + guidance_scale * (cond - uncond)
        if "generator" in inspect.signature(self.scheduler.step).parameters:
            return self.scheduler.step(noise, t, latents, generator=generator).prev_sample
        return self.scheduler.step(noise, t, latents).prev_sample


def read_settings(directory: Path) -> dict:
    """The settings ``save`` wrote to ``directory``.

    Raises:
        FileNotFoundError: ``directory`` was not written by ``save``.
    """
    if not (directory / SETTINGS_FILE).is_file():
        raise FileNotFoundError(f"{directory} holds no SyntheOcc pipeline ({SETTINGS_FILE} missing)")
    return json.loads((directory / SETTINGS_FILE).read_text())


def load_parts(directory: Path, settings: dict, video: bool | None = None) -> dict:
    """The SyntheOcc components ``save`` wrote to ``directory``, by name, ready for a pipeline's constructor.

    ``video=True`` on a model saved without it installs cross-frame attention, new weights at zero (OccScene
    starting from a SyntheOcc model).
    """
    saved_video = settings.get("video", False)
    video = saved_video if video is None else video
    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(directory / "unet"))
    if settings["cross_view_group"]:
        install_cross_view(unet, settings["cross_view_group"], settings["cyclic"], video=video)
    missing, unexpected = unet.load_state_dict(
        load_file(str(directory / "unet" / "diffusion_pytorch_model.safetensors")), strict=False
    )
    new = video and not saved_video
    if unexpected or (missing and not (new and all(".processor.frame_" in k for k in missing))):
        raise ValueError(f"{directory / 'unet'}: weights do not match the UNet: missing {missing[:3]}...")
    index = json.loads((directory / "model_index.json").read_text())
    vae_class, scheduler_class = index["vae"][1], index["scheduler"][1]
    if scheduler_class not in SCHEDULERS:
        raise ValueError(f"{directory}: sampler {scheduler_class} is not one of {', '.join(SCHEDULERS)}")
    with quiet_loading():
        text_encoder = CLIPTextModel.from_pretrained(directory / "text_encoder", local_files_only=True)
    return {
        "vae": (PixelSpace if vae_class == PixelSpace.__name__ else AutoencoderKL).from_pretrained(
            directory / "vae", local_files_only=True
        ),
        "text_encoder": text_encoder,
        "tokenizer": CLIPTokenizer.from_pretrained(directory / "tokenizer", local_files_only=True),
        "unet": unet.eval(),
        "controlnet": MPIControlNet.from_pretrained(directory / "controlnet", local_files_only=True),
        "scheduler": SCHEDULERS[scheduler_class].from_pretrained(directory / "scheduler", local_files_only=True),
    }
