"""Train and score the occupancy perception model on collect-render episodes (raster views, privileged occupancy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from occsim.generative.models.images import to_signed
from occsim.generative.models.perception import OccupancyPerception, class_weights, perception_loss
from occsim.metrics.occupancy import occupancy_iou
from occsim.training.configs import PerceptionTrainConfig
from occsim.training.episodes import episode_files, read_episodes, split_episodes
from occsim.training.evaluate import save_loss_curve
from occsim.training.run import TrainingRun, write_metrics


@dataclass
class OccupancySamples:
    """Collect-render samples as the perception model reads them."""

    images: np.ndarray  # (N, 6, H, W, 3) uint8
    labels: np.ndarray  # (N, X, Y, Z) uint8 coarse Occ3D labels
    intrinsics: np.ndarray  # (N, 6, 3, 3) for images of (H, W)
    cam2ego: np.ndarray  # (N, 6, 4, 4)
    weather: np.ndarray  # (N,) str

    @classmethod
    def load(cls, files: list[Path], coarse: tuple[int, int, int]) -> OccupancySamples:
        """Read episode files (they must hold ``occupancy``: collected by this version of collect-render)."""
        arrays = read_episodes(files, ("images",), coarse)
        return cls(**{k: arrays[k] for k in ("images", "labels", "intrinsics", "cam2ego", "weather")})

    def batch(self, index: np.ndarray, device: torch.device | str = "cpu") -> tuple[torch.Tensor, ...]:
        """(images in [-1, 1] (B, 6, 3, H, W), intrinsics, cam2ego, labels) tensors for ``index``."""
        images = to_signed(torch.from_numpy(self.images[index]).permute(0, 1, 4, 2, 3))
        return (
            images.to(device),
            torch.from_numpy(self.intrinsics[index]).float().to(device),
            torch.from_numpy(self.cam2ego[index]).float().to(device),
            torch.from_numpy(self.labels[index]).long().to(device),
        )


@torch.no_grad()
def predict(model: OccupancyPerception, samples: OccupancySamples, batch: int = 16) -> np.ndarray:
    """(N, X, Y, Z) uint8 predicted labels."""
    model.eval()
    out = []
    for i in range(0, len(samples.images), batch):
        images, k, t, _ = samples.batch(np.arange(i, min(i + batch, len(samples.images))), model.device)
        out.append(model(images, k, t).argmax(dim=1).to(torch.uint8).cpu().numpy())
    return np.concatenate(out)


def score(model: OccupancyPerception, samples: OccupancySamples) -> dict:
    """Occupancy mIoU and IoU on ``samples``, over all of them and per weather."""
    predicted = predict(model, samples)
    figures = {"all": _summary(occupancy_iou(predicted, samples.labels), len(predicted))}
    for weather in sorted(set(samples.weather.tolist())):
        mask = samples.weather == weather
        figures[weather] = _summary(occupancy_iou(predicted[mask], samples.labels[mask]), int(mask.sum()))
    return figures


def _summary(iou: dict, n: int) -> dict:
    return {"miou": round(iou["miou"], 4), "iou": round(iou["iou"], 4), "samples": n}


def train_perception(config: PerceptionTrainConfig) -> tuple[OccupancyPerception, dict]:
    """Train on the training episodes, score on the held-out ones, save the model and ``metrics.json``."""
    run = TrainingRun("train-perception", config)
    torch.manual_seed(config.seed)
    model = OccupancyPerception()
    coarse = tuple(model.config.coarse)
    train_files, held_files = split_episodes(episode_files(config.data_dir), config.held_out, config.seed)
    train = OccupancySamples.load(train_files, coarse)
    weights = class_weights(train.labels)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.learning_rate, total_steps=config.steps)
    rng = np.random.default_rng(config.seed)
    losses = []
    model.train()
    with run.stoppable():
        for _ in (bar := run.progress(range(config.steps))):
            images, k, t, labels = train.batch(rng.integers(len(train.images), size=config.batch_size))
            loss = perception_loss(model(images, k, t), labels, weights)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
    model.eval()
    out = Path(config.out_dir)
    model.save_pretrained(out, safe_serialization=True)
    record = run.record(
        train_samples=len(train.images),
        held_out_episodes=[f.name for f in held_files],
        held_out=score(model, OccupancySamples.load(held_files, coarse)) if held_files else {},
        losses=losses,
    )
    write_metrics(out, record)
    return model, record


def write_card(out_dir: str | Path, record: dict) -> Path:
    """``MODEL_CARD.md`` and ``training.png`` for a trained perception model, from its ``metrics.json`` record."""
    out = Path(out_dir)
    save_loss_curve(out / "training.png", record["losses"], ylabel="MonoScene loss (eq. 2)")
    config = record["config"]
    model = OccupancyPerception.from_pretrained(out, local_files_only=True)
    params = sum(p.numel() for p in model.parameters())
    size = sum(f.stat().st_size for f in out.glob("*.safetensors")) / 1e6
    rows = [
        f"| {name} | {weather} | {f['samples']} | {f['miou']:.3f} | {f['iou']:.3f} |"
        for name, figures in [("held-out episodes", record["held_out"]), *record.get("evaluation", {}).items()]
        for weather, f in figures.items()
    ]
    evaluate = "".join(f" --evaluate {name}" for name in record.get("evaluation", {}))
    command = (
        f"occsim train-perception {config['data_dir']} --out {config['out_dir']} --steps {config['steps']} "
        f"--batch-size {config['batch_size']}{evaluate}"
    )
    text = f"""# OccSim occupancy perception model (f_delta)

Six camera views in, semantic occupancy out over the Occ3D window at 1.6 m x 1.6 m x 0.8 m cells
({" x ".join(map(str, model.grid_shape))}): a shared 2D encoder, MonoScene's FLoSP lifting through the cameras and a
bird's-eye head, trained with the MonoScene losses (OccScene eq. 2). OccSim uses it as its fidelity meter
(`perceived_occupancy_miou`) and as OccScene's perception model.

## How it was made
- Command: `{command}`
- Data: raster views ({" x ".join(map(str, model.config.image_hw))} px) from `occsim collect-render`, labels the
  privileged occupancy window; {record["train_samples"]} training samples, {len(record["held_out_episodes"])}
  episodes held out.
- Training: {config["steps"]} AdamW steps of {config["batch_size"]} samples, one-cycle learning rate
  {config["learning_rate"]}: {record["train_seconds"]:.0f} s on the CPU.
- Parameters: {params:,}; {size:.1f} MB of safetensors.

## What it sees (occupied-class mIoU and occupied/free IoU on coarse cells)

| set | weather | samples | mIoU | IoU |
|---|---|---|---|---|
{chr(10).join(rows)}

Views are raster renders of OccSim's own scenes; on camera images of the real world it has not been measured.
"""
    (out / "MODEL_CARD.md").write_text(text)
    return out / "MODEL_CARD.md"
