"""``occsim train-syntheocc``: train the SyntheOcc renderer on accelerate, then measure it and write a model card.

One script for one CPU, one GPU or many (``accelerate launch``). Two bases:

- a local Stable Diffusion directory (``--base``): its VAE, text encoder and UNet stay frozen; the MPI ControlNet
  (copied from the UNet) and the cross-view attention layers are trained, as in the paper;
- the small default (no ``--base``): a small KL autoencoder (trained first, on the same views), a small UNet and a
  character-level text encoder, built here; the UNet and text encoder train from scratch together with the ControlNet
  and cross-view layers, since there is no pretrained base to keep. ``pixel_space`` swaps the autoencoder for a
  lossless 4 x 4 space-to-depth (no first stage, but far more steps before the low-noise steps denoise cleanly).

``format="official"`` trains the released SyntheOcc's layout instead (``--base`` SD 2.1, data collected with
``--layout official``): its 257-channel position-encoder ControlNet and the norm4 / attn4 / connector blocks, only
those and the ControlNet trained (the release's ``trainable_state="only_new"``), optionally from the released
weights (``init_from``), and saved as the release saves them (``unet/``, ``controlnet/``), with gradient
checkpointing and bitsandbytes' 8-bit AdamW on a GPU where it imports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from diffusers import (
    AutoencoderKL,
    DDPMScheduler,
    UNet2DConditionModel,
    UniPCMultistepScheduler,
)
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import CLIPTextModel, CLIPTokenizer

from occsim.generative.models.controlnet import MPIControlNet
from occsim.generative.models.cross_view import install_cross_view
from occsim.generative.models.images import to_signed
from occsim.generative.models.official import OfficialControlNet, install_official_cross_view
from occsim.generative.models.pixel_space import PixelSpace, encode_images, latent_factor
from occsim.generative.models.small import small_text, small_unet, small_vae
from occsim.generative.models.text import token_ids
from occsim.generative.pipelines.official import official_parts, save_official
from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline
from occsim.training.configs import SyntheOccTrainConfig
from occsim.training.episodes import (
    RenderPairs,
    class_balanced_sampler,
    episode_files,
    near_lane,
    split_episodes,
)
from occsim.training.run import TrainingRun
from occsim.training.syntheocc_loss import (
    OFFICIAL_CROSS_VIEW_PARTS,
    SyntheOccBatch,
    trainable_parameters,
    training_loss,
)


@dataclass
class _Components:
    vae: AutoencoderKL | PixelSpace
    tokenizer: CLIPTokenizer
    text_encoder: CLIPTextModel
    unet: UNet2DConditionModel
    train_base: bool  # the UNet and text encoder train too (small default)
    vae_losses: list[float]  # the small default's autoencoder stage (empty otherwise)
    controlnet: MPIControlNet | None = None  # a saved model's, when training goes on from it


def train_syntheocc(config: SyntheOccTrainConfig) -> tuple[OccSimSyntheOccPipeline, dict]:
    """Train on ``config.data_dir``; writes the pipeline into ``config.out_dir`` and returns it with a record.

    Raises:
        FileNotFoundError: no collect-render data, or no Stable Diffusion model in ``config.base``.
        ValueError: the data's latent factor does not match the base's VAE.
    """
    run = TrainingRun("train-syntheocc", config)
    accelerator = Accelerator(mixed_precision=config.mixed_precision)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = data_meta(config.data_dir)
    train_files, held_files = split_episodes(episode_files(config.data_dir), config.held_out, config.seed)
    pairs = RenderPairs(config.data_dir, train_files)
    torch.manual_seed(config.seed)
    official = _check_format(config, meta)
    parts = _components(config, pairs, out, meta["latent_factor"])
    if latent_factor(parts.vae) != meta["latent_factor"]:
        raise ValueError(
            f"{config.data_dir} was collected with --latent-factor {meta['latent_factor']} but the base's VAE "
            f"downsamples by {latent_factor(parts.vae)}; collect again with --latent-factor {latent_factor(parts.vae)}"
        )
    device = accelerator.device
    frozen_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(accelerator.mixed_precision, torch.float32)
    # (a float32 cast would only draw diffusers' keep-in-float32 warning)
    keep = isinstance(parts.vae, PixelSpace) or frozen_dtype == torch.float32
    vae = parts.vae.to(device) if keep else parts.vae.to(device, frozen_dtype)
    latents = encode_all(vae, pairs.images, device)
    unet, controlnet, text_encoder, params = _trainable_models(config, parts, meta["planes"], official)
    lr = config.learning_rate or (3e-4 if parts.train_base else 1e-5)
    optimiser = adamw(params, lr, device)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / 200))  # linear warm-up
    noise_scheduler, sampler = _schedulers(config.base, parts.vae)
    boost = 1.0 + (config.near_lane_boost - 1.0) * near_lane(train_files) if config.near_lane_boost != 1.0 else None
    index_sampler = class_balanced_sampler(pairs, config.steps * config.batch_size, seed=config.seed, boost=boost)
    loader = DataLoader(range(len(pairs)), batch_size=config.batch_size, sampler=index_sampler, drop_last=True)
    unet, controlnet, optimiser, loader, schedule = accelerator.prepare(unet, controlnet, optimiser, loader, schedule)
    # a frozen module cannot be wrapped for data parallelism; it only moves
    text_encoder = accelerator.prepare(text_encoder) if parts.train_base else text_encoder.to(device, frozen_dtype)
    prompt_ids = token_ids(parts.tokenizer, pairs.prompts)
    empty_ids = token_ids(parts.tokenizer, [""])[0]
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    losses: list[float] = []
    settings = {key: meta[key] for key in ("image_hw", "planes", "max_depth", "latent_factor")}
    if official:
        settings["format"] = "official"

    def pipeline() -> OccSimSyntheOccPipeline:
        modules = (text_encoder, unet, controlnet)
        return _pipeline(parts, *(accelerator.unwrap_model(m) for m in modules), sampler, settings)

    unet.train()
    controlnet.train()
    text_encoder.train(parts.train_base)
    with run.stoppable():
        bar = run.progress(loader, disable=not accelerator.is_local_main_process)
        for step, index in enumerate(bar):
            index = index.cpu().numpy()
            ids = prompt_ids[index].clone()
            ids[rng.random(len(index)) < config.prompt_dropout] = empty_ids
            with accelerator.accumulate(unet, controlnet):
                text = text_encoder(ids.to(device)).last_hidden_state.repeat_interleave(6, dim=0)
                batch = SyntheOccBatch(
                    latents=latents[index].flatten(0, 1).to(device),
                    text=text,
                    mpi=torch.from_numpy(pairs.mpi[index]).flatten(0, 1).long().to(device),
                    nearest=torch.from_numpy(pairs.nearest[index]).flatten(0, 1).long().to(device),
                    depth=torch.from_numpy(pairs.depth[index]).flatten(0, 1).to(device),
                )
                with accelerator.autocast():
                    loss = training_loss(
                        unet, controlnet, noise_scheduler, batch, step, config.steps, generator, config.foreground_gain
                    )
                accelerator.backward(loss)
                accelerator.clip_grad_norm_(params, 1.0)
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
            losses.append(accelerator.gather(loss.detach()).mean().item())
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
            if accelerator.is_main_process and (step + 1) % config.save_every == 0:
                _save(pipeline(), out, settings, official)
    accelerator.wait_for_everyone()
    pipe = pipeline()
    if accelerator.is_main_process:
        _save(pipe, out, settings, official)
    record = run.record(
        data={**meta, "train_episodes": len(train_files), "train_samples": len(pairs)},
        held_out_episodes=[f.name for f in held_files],
        losses=losses,
        vae_losses=parts.vae_losses,
        parameters={
            name: sum(p.numel() for p in getattr(pipe, name).parameters())
            for name in ("unet", "controlnet", "text_encoder")
        },
    )
    return pipe.to(torch.device("cpu")), record


def _trainable_models(
    config: SyntheOccTrainConfig, parts, planes: int, official: bool
) -> tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module, list[torch.nn.Parameter]]:
    """The UNet, the MPI ControlNet and the text encoder to train, and the parameters the optimiser moves.

    The official layout's models, a saved model's ControlNet and cross-view layers to go on from, or a new
    ControlNet beside cross-view attention installed in the base UNet.
    """
    if official:
        unet, controlnet = _official_models(parts.unet, config.init_from)
        params = trainable_parameters(unet, controlnet, cross_view_parts=OFFICIAL_CROSS_VIEW_PARTS)
    elif parts.controlnet is not None:  # going on from a saved model: its ControlNet and cross-view layers
        unet, controlnet = parts.unet, parts.controlnet
        params = trainable_parameters(unet, controlnet, train_base=parts.train_base)
    else:
        unet = parts.unet
        controlnet = MPIControlNet.from_unet(unet, planes=planes, hidden=64 if parts.train_base else 128)
        install_cross_view(unet)
        params = trainable_parameters(unet, controlnet, train_base=parts.train_base)
    if config.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
        controlnet.enable_gradient_checkpointing()
    text_encoder = parts.text_encoder.requires_grad_(parts.train_base)
    if parts.train_base:
        params += list(text_encoder.parameters())
    return unet, controlnet, text_encoder, params


def _check_format(config: SyntheOccTrainConfig, meta: dict) -> bool:
    """Whether the run trains the official layout; ValueError if its base or data do not fit it."""
    if config.format not in ("occsim", "official"):
        raise ValueError(f"format must be occsim or official, got {config.format!r}")
    if config.format == "occsim":
        return False
    if config.base is None:
        raise ValueError("format official needs --base: the local Stable Diffusion 2.1 folder")
    if meta.get("layout") != "official":
        raise ValueError(
            f"{config.data_dir} holds {meta.get('layout', 'occsim')}-layout MPIs; collect with --layout official"
        )
    return True


def _official_models(unet: UNet2DConditionModel, init_from: Path | None):
    """The release's ControlNet and cross-view UNet: from ``init_from``'s weights, or built on the base UNet."""
    if init_from is not None:
        return official_parts(init_from)
    controlnet = OfficialControlNet.from_unet(unet)
    install_official_cross_view(unet)
    return unet, controlnet


def adamw(params: list[nn.Parameter], lr: float, device: torch.device) -> torch.optim.Optimizer:
    """AdamW; bitsandbytes' 8-bit AdamW on a GPU where it imports (a quarter of the optimiser state's memory)."""
    if device.type == "cuda":
        try:
            import bitsandbytes

            return bitsandbytes.optim.AdamW8bit(params, lr=lr, weight_decay=1e-2)
        except ImportError:
            pass
    return torch.optim.AdamW(params, lr=lr, weight_decay=1e-2)


def _save(pipe: OccSimSyntheOccPipeline, out: Path, settings: dict, official: bool) -> None:
    """A checkpoint: the whole pipeline, or only the release-layout UNet and ControlNet (the base is the user's)."""
    if official:
        save_official(out, pipe.unet, pipe.controlnet)
    else:
        pipe.save(out, **settings)


def _pipeline(parts, text_encoder, unet, controlnet, sampler, settings: dict) -> OccSimSyntheOccPipeline:
    """The pipeline of the modules as trained so far (what a checkpoint saves)."""
    pipe = OccSimSyntheOccPipeline(
        vae=parts.vae,
        text_encoder=text_encoder,
        tokenizer=parts.tokenizer,
        unet=unet,
        controlnet=controlnet,
        scheduler=sampler,
    )
    pipe.settings = settings
    return pipe


def _schedulers(base: Path | None, vae) -> tuple[DDPMScheduler, UniPCMultistepScheduler]:
    """The training schedule (SD 2.1's, or the base's own) and the sampler the saved pipeline uses."""
    # SD 2.1's schedule and target; predicting v keeps x0 well-conditioned at high noise
    noise_scheduler = DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        prediction_type="v_prediction",
    )
    if base is not None:
        noise_scheduler = DDPMScheduler.from_pretrained(base / "scheduler", local_files_only=True)
    # Imagen's dynamic thresholding keeps guided pixels in range (pixel space only: SD's latents are unbounded)
    thresholds = {"thresholding": True, "sample_max_value": vae.config.scaling_factor}
    sampler = UniPCMultistepScheduler.from_config(
        noise_scheduler.config, **(thresholds if isinstance(vae, PixelSpace) else {})
    )
    return noise_scheduler, sampler


def data_meta(data_dir: Path) -> dict:
    """A collect-render folder's meta.json (image size, planes, latent factor...).

    Raises:
        FileNotFoundError: no meta.json: not a collect-render folder.
    """
    path = Path(data_dir) / "meta.json"
    if not path.is_file():
        raise FileNotFoundError(f"{data_dir}: no meta.json; run `occsim collect-render --out {data_dir}` first")
    return json.loads(path.read_text())


def _components(config: SyntheOccTrainConfig, pairs: RenderPairs, out: Path, factor: int) -> _Components:
    if config.init_from is not None and config.format == "occsim":
        return _saved_components(Path(config.init_from), pairs, config.base is None)
    if config.base is None:
        tokenizer, text_encoder = small_text(out / "tokenizer")
        pick = np.random.default_rng(config.seed).permutation(len(pairs))[:256]
        sample = to_signed(torch.from_numpy(pairs.images[pick]).flatten(0, 1).permute(0, 3, 1, 2))
        if config.pixel_space:
            pixels = PixelSpace(factor=factor)
            vae, vae_losses = PixelSpace(pixels.config.factor, 1.0 / float(pixels.fold(sample).std())), []
        else:
            vae, vae_losses = _train_vae(small_vae(), pairs.images, config.vae_steps, config.seed)
            with torch.no_grad():
                latents = torch.cat([vae.encode(chunk).latent_dist.mean for chunk in sample.split(64)])
            vae.register_to_config(scaling_factor=1.0 / float(latents.std()))  # unit-variance latents, as SD's
        unet = small_unet(vae.latent_channels if isinstance(vae, PixelSpace) else vae.config.latent_channels)
        return _Components(vae, tokenizer, text_encoder, unet, True, vae_losses)
    base = Path(config.base)
    for part in ("vae", "text_encoder", "tokenizer", "unet", "scheduler"):
        if not (base / part).is_dir():
            raise FileNotFoundError(f"--base {base}: no {part}/ folder; expected a Stable Diffusion directory")
    return _Components(
        vae=AutoencoderKL.from_pretrained(base / "vae", local_files_only=True).requires_grad_(False),
        tokenizer=CLIPTokenizer.from_pretrained(base / "tokenizer", local_files_only=True),
        text_encoder=CLIPTextModel.from_pretrained(base / "text_encoder", local_files_only=True),
        unet=UNet2DConditionModel.from_pretrained(base / "unet", local_files_only=True),
        train_base=False,
        vae_losses=[],
    )


def _saved_components(folder: Path, pairs: RenderPairs, train_base: bool) -> _Components:
    """A train-syntheocc folder's parts, to go on training (its autoencoder is kept as it is).

    Raises:
        ValueError: the data's views or MPI planes are not the model's.
    """
    saved = OccSimSyntheOccPipeline.load(folder)
    hw, planes = tuple(saved.settings["image_hw"]), saved.settings["planes"]
    if pairs.images.shape[2:4] != hw or pairs.mpi.shape[2] != planes:
        raise ValueError(
            f"{folder} renders {hw[0]}x{hw[1]} views from {planes} planes; the data has "
            f"{pairs.images.shape[2]}x{pairs.images.shape[3]} views and {pairs.mpi.shape[2]} planes"
        )
    return _Components(
        saved.vae.requires_grad_(False),
        saved.tokenizer,
        saved.text_encoder,
        saved.unet,
        train_base,
        vae_losses=[],
        controlnet=saved.controlnet,
    )


def _train_vae(vae: AutoencoderKL, images: np.ndarray, steps: int, seed: int, batch: int = 16) -> tuple:
    """Fit the small autoencoder to single views: L1 + MSE reconstruction and a small KL term (SD's 1e-6)."""
    views = images.reshape(-1, *images.shape[2:])  # (N * 6, H, W, 3)
    rng = np.random.default_rng(seed)
    optimiser = torch.optim.AdamW(vae.parameters(), lr=1e-3)
    losses = []
    vae.train()
    for _ in (bar := tqdm(range(steps), desc="autoencoder")):
        x = to_signed(torch.from_numpy(views[rng.integers(len(views), size=batch)]).permute(0, 3, 1, 2))
        posterior = vae.encode(x).latent_dist
        reconstruction = vae.decode(posterior.sample()).sample
        loss = (reconstruction - x).abs().mean() + ((reconstruction - x) ** 2).mean() + 1e-6 * posterior.kl().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
    return vae.eval().requires_grad_(False), losses


@torch.no_grad()
def encode_all(vae: AutoencoderKL | PixelSpace, images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, 6, C, h, w) latents of every sample's views, kept on the CPU (encoded once: the VAE is frozen)."""
    out = []
    for i in range(0, len(images), 16):
        views = torch.from_numpy(images[i : i + 16]).to(device)
        n = views.shape[0]
        x = to_signed(views.flatten(0, 1).permute(0, 3, 1, 2))
        z = encode_images(vae, x.to(vae.dtype)).float().cpu()
        out.append(z.view(n, 6, *z.shape[1:]))
    return torch.cat(out)
