"""Training the vision planner on data from ``occsim collect``: imitation of the expert's plan plus BEV occupancy.

The split is by episode (no frame of a validation episode is seen in training). Each epoch ends with VAD's
open-loop planning metrics on the validation episodes; the weights with the lowest mean L2 are kept, and a model
card, ``metrics.json`` and a plot of the curves are written beside them.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from occsim.metrics.open_loop import HORIZONS, planner_metrics
from occsim.planners.vision import (
    BEV_CHANNELS,
    VisionConfig,
    VisionPlannerNet,
    load_vision,
    save_vision,
    waypoints_from_preds,
)
from occsim.training.configs import TrainConfig
from occsim.training.planner_data import (
    PlannerDataset,
    batch_inputs,
    ego_motions,
    load_dataset,
    split_by_episode,
    tiled_window_count,
    tiled_windows,
)
from occsim.training.run import TrainingRun, write_metrics
from occsim.types import WAYPOINTS


def losses(
    net: VisionPlannerNet,
    dataset: PlannerDataset,
    index: np.ndarray,
    bev_weight: float,
    rng: np.random.Generator | None = None,
    object_pos_weight: float = 1.0,
    hidden_weight: float = 1.0,
) -> dict:
    """L1 on the command's waypoints (VAD's planning loss) and BCE on the BEV targets (views jittered with ``rng``).

    Occupied cells of the objects channel weigh ``object_pos_weight`` in the BCE, and the BEV of a frame drawn with
    an actor hidden (``dataset.hidden``) weighs ``hidden_weight``.
    """
    return _losses_and_outputs(net, dataset, index, bev_weight, rng, object_pos_weight, hidden_weight)[0]


def _losses_and_outputs(
    net, dataset, index, bev_weight, rng, object_pos_weight, hidden_weight=1.0, memory=None
) -> tuple[dict, dict]:
    """``losses`` and the network's outputs (a temporal network's ``bev_features`` among them)."""
    inputs = batch_inputs(dataset, index, net.config.views, rng)
    out = net(*inputs, memory=memory)
    waypoints = waypoints_from_preds(out["ego_fut_preds"], inputs[-1])
    plan = F.l1_loss(waypoints, torch.from_numpy(dataset.plan[index]))
    pos_weight = torch.ones(len(BEV_CHANNELS), 1, 1)
    pos_weight[BEV_CHANNELS.index("objects")] = object_pos_weight
    per_frame = F.binary_cross_entropy_with_logits(
        out["bev_logits"], torch.from_numpy(dataset.bev[index]).float(), pos_weight=pos_weight, reduction="none"
    ).mean(dim=(1, 2, 3))
    frame_weight = torch.from_numpy(np.where(dataset.hidden[index], hidden_weight, 1.0)).float()
    bev = (per_frame * frame_weight).mean()
    return {"plan": plan, "bev": bev, "total": plan + bev_weight * bev}, out


def sequence_losses(
    net: VisionPlannerNet,
    dataset: PlannerDataset,
    starts: np.ndarray,
    length: int,
    bev_weight: float,
    rng: np.random.Generator | None = None,
    object_pos_weight: float = 1.0,
    hidden_weight: float = 1.0,
) -> dict:
    """``losses`` of a temporal network averaged over windows of ``length`` frames from ``starts``.

    The BEV memory runs through the window from empty, so gradients flow back through ``length`` steps
    (truncated backpropagation through time) and the network learns what the memory is for.
    """
    memory, total = None, {"plan": 0.0, "bev": 0.0, "total": 0.0}
    for k in range(length):
        index = starts + k
        if k:
            memory = (memory, ego_motions(dataset, index))
        # A window's first frame has no memory: its hidden actor is in no input, so it teaches nothing but imagining.
        weight = hidden_weight if k else 0.0
        step, out = _losses_and_outputs(net, dataset, index, bev_weight, rng, object_pos_weight, weight, memory)
        memory = out["bev_features"]
        total = {key: total[key] + step[key] / length for key in total}
    return total


@torch.inference_mode()
def predict(net: VisionPlannerNet, dataset: PlannerDataset, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(N, 6, 2) planned waypoints and (N, 3, cells, cells) bool BEV predictions (probability > 0.5).

    A temporal network runs through each episode in step order, its memory carried as in closed loop.
    """
    net.eval()
    if net.config.temporal:
        return _predict_in_order(net, dataset)
    plans, bevs = [], []
    for start in range(0, len(dataset), batch_size):
        index = np.arange(start, min(start + batch_size, len(dataset)))
        inputs = batch_inputs(dataset, index, net.config.views)
        out = net(*inputs)
        plans.append(waypoints_from_preds(out["ego_fut_preds"], inputs[-1]).numpy())
        bevs.append((out["bev_logits"] > 0).numpy())
    if not plans:
        return np.zeros((0, WAYPOINTS, 2)), np.zeros((0, len(BEV_CHANNELS), 0, 0), dtype=bool)
    return np.concatenate(plans), np.concatenate(bevs)


def _predict_in_order(net: VisionPlannerNet, dataset: PlannerDataset) -> tuple[np.ndarray, np.ndarray]:
    """``predict`` for a temporal network: one step at a time, every episode side by side, memory carried."""
    plans = np.zeros((len(dataset), WAYPOINTS, 2), dtype=np.float32)
    bevs = np.zeros((len(dataset), len(BEV_CHANNELS), net.config.bev_cells, net.config.bev_cells), dtype=bool)
    episodes = [np.flatnonzero(dataset.episode == e) for e in np.unique(dataset.episode)]
    episodes.sort(key=len, reverse=True)  # the episodes still running at any step are then the first rows
    memory = None
    for t in range(max((len(e) for e in episodes), default=0)):
        live = [e for e in episodes if len(e) > t]
        index = np.array([e[t] for e in live])
        if t:
            memory = (memory[: len(live)], ego_motions(dataset, index))
        inputs = batch_inputs(dataset, index, net.config.views)
        out = net(*inputs, memory=memory)
        memory = out["bev_features"]
        plans[index] = waypoints_from_preds(out["ego_fut_preds"], inputs[-1]).numpy()
        bevs[index] = (out["bev_logits"] > 0).numpy()
    return plans, bevs


def bev_scores(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """IoU per BEV channel, and the objects channel's precision and recall, of bool (N, 3, cells, cells) maps.

    A channel empty in both maps has IoU 1.
    """
    scores = {}
    for channel, name in enumerate(BEV_CHANNELS):
        p, t = predicted[:, channel], truth[:, channel]
        union = (p | t).sum()
        scores[f"bev_iou_{name}"] = float((p & t).sum() / union) if union else 1.0
    p, t = predicted[:, BEV_CHANNELS.index("objects")], truth[:, BEV_CHANNELS.index("objects")]
    hits = (p & t).sum()
    # Undefined (nan) where nothing was predicted or nothing was there to find.
    scores["objects_precision"] = float(hits / p.sum()) if p.sum() else float("nan")
    scores["objects_recall"] = float(hits / t.sum()) if t.sum() else float("nan")
    return scores


def evaluate(net: VisionPlannerNet, dataset: PlannerDataset) -> dict[str, float]:
    """VAD's open-loop metrics of the network's plans against the expert's on ``dataset``, and ``bev_scores``."""
    plans, bev = predict(net, dataset)
    metrics = planner_metrics(plans, dataset.plan, dataset.future_boxes, dataset.future_valid)
    return {**metrics, **bev_scores(bev, dataset.bev)}


def evaluate_weights(weights: list[str | Path], dataset: PlannerDataset) -> list[dict]:
    """``evaluate`` for each weights folder on ``dataset`` (held-out episodes): one row per folder."""
    return [
        {"weights": str(folder), "samples": len(dataset), **evaluate(load_vision(folder), dataset)}
        for folder in tqdm(weights, desc="weights", unit="model", leave=False)
    ]


def warmup_fraction(total_steps: int) -> float:
    """OneCycleLR's ``pct_start``: about a tenth of the steps, never landing the warm-up's end on a whole step.

    OneCycleLR divides by (pct_start · total − 1) and by (total − pct_start · total): a whole number of warm-up
    steps equal to 1 or to total would divide by zero, as a 10-step run with 0.1 did.
    """
    if total_steps < 3:
        return 0.3
    return (max(1, round(0.1 * total_steps)) + 0.5) / total_steps


def train(config: TrainConfig, vision: VisionConfig | None = None) -> dict:
    """Train, validate each epoch, keep the best weights; returns the summary written to ``metrics.json``."""
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    run = TrainingRun("train-planner", config)
    dataset = load_dataset(config.data_dir, *config.more_data)
    start = load_vision(config.init_from) if config.init_from else None
    vision = _network_config(config, dataset, start, vision)
    train_index, val_index = split_by_episode(dataset, config.val_fraction, config.seed)
    train_set, val_set = dataset.subset(train_index), dataset.subset(val_index)
    net = _network(start, vision)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    # A temporal network learns on windows of consecutive frames; the others on single frames.
    # Each epoch tiles every episode into windows afresh, so each frame is passed over once per epoch.
    length = config.sequence if vision.temporal else 1
    per_epoch = tiled_window_count(train_set, length) if vision.temporal else len(train_set)
    if not per_epoch:
        raise ValueError(f"no training episode holds {length} consecutive frames (--sequence {length})")
    steps_per_epoch = max(1, per_epoch // config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, config.learning_rate, total_steps=total_steps, pct_start=warmup_fraction(total_steps)
    )
    rng = np.random.default_rng(config.seed)
    # A network without memory cannot know a hidden actor: such frames weigh 0 (``TrainConfig``).
    hidden = config.hidden_weight if vision.temporal else 0.0
    weights = (config.bev_weight, rng if config.augment else None, config.object_pos_weight, hidden)
    history, best = [], None
    with run.stoppable():
        for epoch in range(config.epochs):
            net.train()
            samples = tiled_windows(train_set, length, rng) if vision.temporal else np.arange(len(train_set))
            order = samples[rng.permutation(len(samples))[: steps_per_epoch * config.batch_size]]
            sums = {"plan": 0.0, "bev": 0.0}
            bar = run.progress(
                order.reshape(steps_per_epoch, -1), desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch"
            )
            for i, index in enumerate(bar):
                if vision.temporal:
                    loss = sequence_losses(net, train_set, np.sort(index), length, *weights)
                else:
                    loss = losses(net, train_set, np.sort(index), *weights)
                optimiser.zero_grad(set_to_none=True)
                loss["total"].backward()
                optimiser.step()
                schedule.step()
                for key in sums:
                    sums[key] += loss[key].item()
                bar.set_postfix(plan=f"{sums['plan'] / (i + 1):.3f}", bev=f"{sums['bev'] / (i + 1):.3f}")
            metrics = evaluate(net, val_set) if len(val_set) else {}
            record = {
                "epoch": epoch + 1,
                "train_plan_l1": sums["plan"] / steps_per_epoch,
                "train_bev_bce": sums["bev"] / steps_per_epoch,
                **{f"val_{k}": v for k, v in metrics.items()},
            }
            history.append(record)
            line = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items())
            tqdm.write(line)
            score = np.mean([metrics[f"L2_{h}s"] for h in HORIZONS]) if metrics else -epoch
            if best is None or score < best[0]:
                best = (score, record)
                save_vision(net, config.out_dir)
    if best is None:  # stopped before the first epoch ended: keep the weights as they are
        save_vision(net, config.out_dir)
        best = (float("nan"), {"epoch": 0})
    summary = _summary(config, vision, dataset, (train_set, val_set), run, best, history)
    out = Path(config.out_dir)
    write_metrics(out, summary, indent=2)
    if history:
        _plot(history, out / "training.png")
    return summary


def _network_config(
    config: TrainConfig, dataset: PlannerDataset, start: VisionPlannerNet | None, vision: VisionConfig | None
) -> VisionConfig:
    """The network's shape: the starting weights', the one asked for, or one fitting the data; checked against it.

    Raises:
        ValueError: the starting weights or the data do not fit the network asked for.
    """
    if start is not None and vision is not None and start.config != replace(vision, zoom=start.config.zoom):
        raise ValueError(f"--init-from {config.init_from} holds a network of another shape than the one asked for")
    vision = start.config if start is not None else vision or VisionConfig(input_hw=tuple(dataset.images.shape[2:4]))
    vision = replace(vision, temporal=vision.temporal or config.temporal)
    # The zoom view adds no weights (the cameras share the backbone and the lift), so the data decide whether the
    # network sees one: weights trained without it learn to use it, and the other way round.
    vision = replace(vision, zoom=dataset.zoom)
    if tuple(dataset.images.shape[2:4]) != tuple(vision.input_hw):
        raise ValueError(f"data images are {dataset.images.shape[2:4]} but the network expects {vision.input_hw}")
    if dataset.images.shape[1] != vision.views:
        raise ValueError(f"data hold {dataset.images.shape[1]} views per sample, the network expects {vision.views}")
    if dataset.bev.shape[-1] != vision.bev_cells:
        raise ValueError(f"data BEV targets are {dataset.bev.shape[-1]} cells wide, the network {vision.bev_cells}")
    return vision


def _network(start: VisionPlannerNet | None, vision: VisionConfig) -> VisionPlannerNet:
    """The network to train: a new one, the starting weights, or those weights in a network with a BEV memory.

    From non-temporal weights, every trained layer is kept and only the fusion layers start fresh.
    """
    if start is None:
        return VisionPlannerNet(vision)
    if vision.temporal and not start.config.temporal:
        net = VisionPlannerNet(vision)
        missing, unexpected = net.load_state_dict(start.state_dict(), strict=False)
        assert not unexpected and all(k.startswith("temporal_") for k in missing), (missing, unexpected)
        return net.train()
    net = start.train()
    net.config = vision
    return net


def _summary(config, vision, dataset, sets, run, best, history) -> dict:
    """What ``metrics.json`` records of a training run."""
    train_set, val_set = sets
    return {
        "command": " ".join(["occsim", *sys.argv[1:]]) if sys.argv and "occsim" in sys.argv[0] else None,
        "data_dir": str(config.data_dir),
        "more_data": [str(p) for p in config.more_data],
        "episodes": len(dataset.episodes),
        "samples": len(dataset),
        "train_samples": len(train_set),
        "val_samples": len(val_set),
        "seconds": run.record()["train_seconds"],
        "interrupted": run.interrupted,
        "best_epoch": best[1]["epoch"],
        "best": best[1],
        "history": history,
        "config": {
            **asdict(config),
            "data_dir": str(config.data_dir),
            "out_dir": str(config.out_dir),
            "more_data": [str(p) for p in config.more_data],
            "init_from": str(config.init_from) if config.init_from else None,
        },
        "vision": asdict(vision),
        "bev_channels": list(BEV_CHANNELS),
    }


def _plot(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    axes[0].plot(epochs, [h["train_plan_l1"] for h in history], label="train plan L1 [m]")
    axes[0].plot(epochs, [h["train_bev_bce"] for h in history], label="train BEV BCE")
    for seconds in HORIZONS:
        key = f"val_L2_{seconds}s"
        if key in history[0]:
            axes[1].plot(epochs, [h[key] for h in history], label=f"val L2 @ {seconds} s")
            axes[2].plot(epochs, [100 * h[f"val_collision_{seconds}s"] for h in history], label=f"@ {seconds} s")
    axes[1].set_ylabel("L2 [m]")
    axes[2].set_ylabel("collision [%]")
    for ax in axes:
        ax.set_xlabel("epoch")
        if ax.get_legend_handles_labels()[0]:  # no validation set: the validation panels stay empty
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_model_card(out_dir: str | Path, summary: dict) -> Path:
    """``MODEL_CARD.md`` beside the weights: how they were made and what they score."""
    best = summary["best"]
    rows = "\n".join(
        f"| {h} s | {best.get(f'val_L2_{h}s', float('nan')):.3f} | {100 * best.get(f'val_collision_{h}s', 0.0):.2f} |"
        for h in HORIZONS
    )
    config = summary["config"]
    views = VisionConfig.from_dict(summary["vision"]).describe_views()
    text = f"""# OccSim vision planner (VAD-style, camera only)

A small VAD-style network (`planners/vision.py`, imported as `occsim.planners.vision`): a shared CNN over the
{views}, a Simple-BEV-style lift to a {summary["vision"]["bev_cells"]} x {summary["vision"]["bev_cells"]} BEV grid
with the observation's camera geometry, an auxiliary BEV-occupancy head
({", ".join(summary["bev_channels"])}), and an ego query that outputs `ego_fut_preds` (3 commands x 6 steps x 2),
decoded as VAD does (command row, cumulative sum).

## How it was made
- Command: `{summary["command"] or "occsim train-planner " + config["data_dir"]}`
- Data: `{config["data_dir"]}`: {summary["episodes"]} expert episodes, {summary["samples"]} samples
  ({summary["train_samples"]} train / {summary["val_samples"]} validation, split by episode), images
  {summary["vision"]["input_hw"][0]} x {summary["vision"]["input_hw"][1]}; see the collection's `meta.json`.
- Training: {config["epochs"]} epochs, batch {config["batch_size"]}, AdamW lr {config["learning_rate"]}, one-cycle
  schedule, seed {config["seed"]}; {summary["seconds"]:.0f} s on this machine's CPU. Best epoch:
  {summary["best_epoch"]}.

## Validation (VAD's `compute_planner_metric_stp3` definitions, against the expert's plans)
| horizon | L2 [m] | collision [%] |
|---|---|---|
{rows}

## Limits
Trained on OccSim raster renders only; it has never seen a real camera image. See the repository README for how it
does in closed loop.
"""
    path = Path(out_dir) / "MODEL_CARD.md"
    path.write_text(text)
    return path
