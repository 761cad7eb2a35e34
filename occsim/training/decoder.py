"""``occsim tune-decoder``: train a small model's autoencoder decoder longer, its encoder (and so its latents) frozen.

The small SyntheOcc and OccScene models decode through an autoencoder trained for a few hundred steps; its round trip
alone blurs away the small and distant objects a planner must see (measured: the perception meter's mIoU falls from
0.67 on raster views to 0.51 on their round trip). Stable Diffusion's ft-MSE decoders are the precedent: with the
encoder frozen the latent space does not move, so a diffusion model trained on it stays valid while the decoder
learns to draw its latents sharper. Pixels of the object classes weigh more, so small things are not averaged away.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from tqdm.auto import tqdm

from occsim.generative.models.images import to_signed, to_uint8
from occsim.generative.models.perception import PerceptionMeter
from occsim.generative.models.pixel_space import latent_factor
from occsim.training.configs import DecoderTuning
from occsim.training.episodes import episode_files, read_episodes, split_episodes
from occsim.training.fidelity import perceived_miou, pick_samples
from occsim.training.reweighing import FOREGROUND_CLASSES


def foreground_mask(nearest: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """(N, H, W) bool: pixels whose latent cell's nearest surface is an object class, at the images' size."""
    fg = np.isin(nearest, list(FOREGROUND_CLASSES))
    fy, fx = image_hw[0] // nearest.shape[-2], image_hw[1] // nearest.shape[-1]
    return fg.repeat(fy, axis=-2).repeat(fx, axis=-1)


def tune_decoder(vae: AutoencoderKL, images: np.ndarray, nearest: np.ndarray, tuning: DecoderTuning) -> list[float]:
    """Fit ``vae``'s decoder to (N, H, W, 3) uint8 views from their frozen encodings; returns the loss curve.

    Args:
        vae: the autoencoder, changed in place (decoder only).
        images: single views.
        nearest: (N, h, w) their nearest-surface labels at latent resolution (the foreground weights).
        tuning: steps, batch, learning rate, foreground weight, seed.
    """
    vae.requires_grad_(False)
    vae.decoder.requires_grad_(True)
    vae.post_quant_conv.requires_grad_(True)
    params = [*vae.decoder.parameters(), *vae.post_quant_conv.parameters()]
    optimiser = torch.optim.AdamW(params, lr=tuning.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, tuning.steps)
    rng = np.random.default_rng(tuning.seed)
    generator = torch.Generator().manual_seed(tuning.seed)
    weights = foreground_mask(nearest, images.shape[1:3])
    losses: list[float] = []
    vae.train()
    for _ in (bar := tqdm(range(tuning.steps), desc="decoder")):
        pick = rng.integers(len(images), size=tuning.batch_size)
        x = to_signed(torch.from_numpy(images[pick]).permute(0, 3, 1, 2))
        with torch.no_grad():  # the latents the diffusion model was trained on, sampled as in its training
            z = vae.encode(x).latent_dist.sample(generator)
        reconstruction = vae.decode(z).sample
        w = 1.0 + (tuning.foreground_weight - 1.0) * torch.from_numpy(weights[pick]).float()[:, None]
        error = reconstruction - x
        loss = ((error.abs() + error**2) * w).mean() / w.mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
    vae.eval().requires_grad_(False)
    return losses


@torch.no_grad()
def round_trip(vae: AutoencoderKL, images: np.ndarray, batch: int = 64) -> np.ndarray:
    """(N, H, W, 3) uint8: ``images`` encoded (posterior mean) and decoded."""
    out = []
    for i in range(0, len(images), batch):
        x = to_signed(torch.from_numpy(images[i : i + batch]).permute(0, 3, 1, 2))
        out.append(to_uint8(vae.decode(vae.encode(x).latent_dist.mean).sample))
    return np.concatenate(out)


def same_autoencoder(folders: list[Path]) -> bool:
    """Whether every model folder holds byte-identical autoencoder weights (so one tuning serves them all)."""
    blobs = [(Path(f) / "vae" / "diffusion_pytorch_model.safetensors").read_bytes() for f in folders]
    return all(b == blobs[0] for b in blobs)


def measure_round_trip(vae: AutoencoderKL, files: list[Path], meter, samples: int = 24, seed: int = 0) -> dict:
    """The autoencoder's round trip on six-view samples of collect-render ``files``: what it costs a perceiver.

    Returns:
        ``l1``: mean absolute error on the [0, 255] scale; ``foreground_l1``: the same on object-class pixels;
        ``perceived_miou``: the meter's occupancy mIoU on the round trips; ``raster_perceived_miou``: on the views.
    """
    data = read_episodes(files, ("images", "nearest"), coarse=tuple(meter.model.config.coarse))
    picks = pick_samples(data, samples, seed)
    views = data["images"][picks]
    hw = views.shape[2:4]
    back = round_trip(vae, views.reshape(-1, *views.shape[2:])).reshape(views.shape)
    error = np.abs(back.astype(np.float32) - views.astype(np.float32)).mean(axis=-1)
    fg = foreground_mask(data["nearest"][picks], hw)
    return {
        "samples": len(picks),
        "l1": round(float(error.mean()), 3),
        "foreground_l1": round(float(error[fg].mean()), 3) if fg.any() else float("nan"),
        "perceived_miou": round(perceived_miou(meter, list(back), data, picks), 4),
        "raster_perceived_miou": round(perceived_miou(meter, list(views), data, picks), 4),
    }


def card_section(record: dict) -> str:
    """The model card's section on the tuned decoder (replaced, not repeated, on a later tuning)."""
    cfg, before, after = record["config"], record["before"], record["after"]
    return f"""{CARD_HEADER}
The autoencoder's decoder was trained further with the encoder frozen (the latents, and so the diffusion model, are
unchanged): `occsim tune-decoder {record["data_dir"]} --steps {cfg["steps"]} --batch-size {cfg["batch_size"]}`
({cfg["steps"]} steps of {cfg["batch_size"]} views, L1 + MSE, object pixels weighted {cfg["foreground_weight"]}x;
{record["seconds"]:.0f} s).
Round trip of {after["samples"]} six-view samples from {record["evaluated_on"]}:

| decoder | L1 [0-255] | L1 on objects | perceived mIoU (raster views: {after["raster_perceived_miou"]:.3f}) |
|---|---|---|---|
| before | {before["l1"]:.2f} | {before["foreground_l1"]:.2f} | {before["perceived_miou"]:.3f} |
| after | {after["l1"]:.2f} | {after["foreground_l1"]:.2f} | {after["perceived_miou"]:.3f} |
"""


CARD_HEADER = "## Decoder tuned"


def update_card(card: Path, section: str) -> None:
    """Put ``section`` at the end of ``card``, replacing an earlier one with the same header."""
    text = card.read_text() if card.is_file() else ""
    text = text.split(CARD_HEADER)[0].rstrip("\n")
    card.write_text(f"{text}\n\n{section}")


def tune_shared_decoder(
    folders: list[Path], data_dir: Path, tuning: DecoderTuning, held_out: float = 0.1, eval_dir: Path | None = None
) -> dict:
    """``occsim tune-decoder``: tune the autoencoder the model ``folders`` share, measured before and after.

    The tuned decoder is saved into every folder with ``decoder_tuning.json`` and a model-card section.

    Raises:
        ValueError: no autoencoder, different autoencoders, no episodes to measure on, or data of another latent
            factor. FileNotFoundError: no episodes in ``data_dir``.
    """
    missing = [f for f in folders if not (f / "vae" / "diffusion_pytorch_model.safetensors").is_file()]
    if missing:
        raise ValueError(f"no autoencoder (vae/) in {', '.join(map(str, missing))}")
    if not same_autoencoder(folders):
        raise ValueError("the --weights folders hold different autoencoders: tune them one at a time")
    train_files, held_files = split_episodes(episode_files(data_dir), held_out, tuning.seed)
    figures_from = episode_files(eval_dir) if eval_dir else held_files
    if not figures_from:
        raise ValueError("no episodes to measure on: give --eval DIR or a --held-out share above 0")
    vae = AutoencoderKL.from_pretrained(folders[0] / "vae", local_files_only=True).eval()
    data = read_episodes(train_files, ("images", "nearest"))
    images = data["images"].reshape(-1, *data["images"].shape[2:])
    nearest = data["nearest"].reshape(-1, *data["nearest"].shape[2:])
    if images.shape[1] // nearest.shape[1] != latent_factor(vae):
        raise ValueError(f"{data_dir}: its latent factor does not match the autoencoder of {folders[0]}")
    meter = PerceptionMeter.load()
    before = measure_round_trip(vae, figures_from, meter, seed=tuning.seed)
    started = time.perf_counter()
    losses = tune_decoder(vae, images, nearest, tuning)
    seconds = time.perf_counter() - started
    after = measure_round_trip(vae, figures_from, meter, seed=tuning.seed)
    record = {
        "config": tuning.__dict__,
        "data_dir": str(data_dir),
        "evaluated_on": f"{len(figures_from)} episodes of {eval_dir}" if eval_dir else "held-out episodes",
        "seconds": round(seconds, 1),
        "before": before,
        "after": after,
        "final_loss": float(np.mean(losses[-50:])),
    }
    for folder in folders:
        vae.save_pretrained(folder / "vae", safe_serialization=True)
        (folder / "decoder_tuning.json").write_text(json.dumps(record, indent=1))
        update_card(folder / "MODEL_CARD.md", card_section(record))
    return record
