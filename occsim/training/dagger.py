"""Closed-loop DAgger for the vision planner on a benchmark's train split, judged on its val split after each round.

Round 0 collects expert rollouts (with perturbations) on the first ``episodes_per_round`` train instances of every
family and trains a planner. Round k ≥ 1 collects on the next slice of train instances with round k−1's planner
driving and the expert labelling every step, executing the expert's plan with probability β_k =
``expert_share`` ** k, then trains on every round's data so far, starting from round k−1's weights. After each
round the planner runs a slice of the val split in closed loop, so the gain per round is measured, not asserted.
The learner that drives and is scored is the network alone (``vision-net``): the occupancy guard is a separate
layer, chosen afterwards on val, so DAgger sees, and is judged on, the network's own mistakes.

Everything lives under ``out_dir`` (``round_<k>/data``, ``round_<k>/weights``, ``round_<k>/eval``) and a rerun
resumes: collected episodes, finished trainings and recorded evaluation runs are kept. ``dagger.json`` and
``dagger.png`` summarise the rounds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console

from occsim.suite.runner import SuiteConfig, run_suite
from occsim.suite.splits import load_split, split_slice, split_tasks
from occsim.suite.summary import summarise
from occsim.training.collect import collect, split_jobs
from occsim.training.configs import CollectConfig, DaggerConfig, TrainConfig
from occsim.training.planner import train, write_model_card


@dataclass
class RoundRecord:
    """What one round did and how its planner scored on the val slice."""

    round: int
    planner: str
    expert_share: float | None = None
    episodes: int = 0
    samples: int = 0
    driven_share: float = 0.0  # of the collected steps, the fraction the learner drove
    train_seconds: float = 0.0
    val: dict = field(default_factory=dict)  # open-loop metrics of the best epoch
    scores: list[dict] = field(default_factory=list)  # summary rows per weather on the val slice
    interrupted: bool = False


def round_dir(config: DaggerConfig, k: int) -> Path:
    """``out_dir/round_<k>``."""
    return Path(config.out_dir) / f"round_{k}"


def run_dagger(config: DaggerConfig, console: Console | None = None) -> list[RoundRecord]:
    """Run (or resume) every round; returns their records, also in ``dagger.json``. Ctrl-C ends after saving."""
    console = console or Console(stderr=True)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_split = load_split(config.benchmark, "train")
    eval_split = load_split(config.benchmark, config.eval_split)
    needed = config.rounds * config.episodes_per_round
    shortest = min(len(f.seeds) for f in train_split.families.values())
    if needed > shortest:
        raise ValueError(
            f"{config.rounds} rounds of {config.episodes_per_round} need {needed} train instances per "
            f"family; {train_split.label} has {shortest}"
        )
    records: list[RoundRecord] = []
    try:
        if config.evaluate_start:
            start = f"vision-net:{config.init_from}" if config.init_from else "vision-net"
            records.append(RoundRecord(-1, start, scores=_evaluate(config, eval_split, start, out / "start_eval")))
            _save(config, records)
        previous: Path | None = config.init_from
        for k in range(config.rounds):
            record = _round(config, train_split, eval_split, k, previous, console)
            records.append(record)
            _save(config, records)
            if record.interrupted:
                break
            previous = round_dir(config, k) / "weights"
    except KeyboardInterrupt:
        console.print("dagger: stopped by Ctrl-C; every finished step is kept, rerun to resume", markup=False)
    _save(config, records)
    return records


def _round(config, train_split, eval_split, k: int, previous: Path | None, console: Console) -> RoundRecord:
    folder = round_dir(config, k)
    beta = 1.0 if k == 0 else config.expert_share**k
    collect_config = CollectConfig(
        out_dir=folder / "data",
        camera_hw=config.collect_camera_hw,
        workers=config.workers,
        driver=None if k == 0 else f"vision-net:{previous}",
        expert_share=beta,
        background_seeds=config.background_seeds,
        zoom=config.zoom,
    )
    part = split_slice(train_split, k * config.episodes_per_round, (k + 1) * config.episodes_per_round)
    first, last = k * config.episodes_per_round, (k + 1) * config.episodes_per_round - 1
    console.print(f"round {k}: {part.label} instances {first}-{last}, expert share {beta:.2f}", markup=False)
    meta = collect([], collect_config, console=console, jobs=split_jobs(part))
    weights = folder / "weights"
    record = RoundRecord(k, f"vision-net:{weights}", beta, meta["episodes"], meta["samples"])
    record.driven_share = round(meta["driven_steps"] / meta["samples"], 3) if meta["samples"] else 0.0
    done = weights / "metrics.json"
    summary = json.loads(done.read_text()) if done.exists() else None
    if summary is None or summary.get("interrupted"):
        summary = train(
            TrainConfig(
                data_dir=round_dir(config, 0) / "data",
                more_data=tuple(round_dir(config, j) / "data" for j in range(1, k + 1)),
                out_dir=weights,
                init_from=previous,
                augment=config.augment,
                object_pos_weight=config.object_pos_weight,
                epochs=config.epochs if k == 0 else config.fine_tune_epochs,
                batch_size=config.batch_size,
                learning_rate=config.learning_rate,
                seed=config.seed,
                threads=config.threads,
                temporal=config.temporal,
                sequence=config.sequence,
            )
        )
        write_model_card(weights, summary)
    record.train_seconds, record.val = summary["seconds"], summary["best"]
    record.interrupted = bool(summary.get("interrupted"))
    if not record.interrupted:
        record.scores = _evaluate(config, eval_split, record.planner, folder / "eval")
    return record


def _evaluate(config: DaggerConfig, split, planner: str, out: Path) -> list[dict]:
    """The planner on the first ``eval_instances`` instances per family of ``split``, per weather (summary rows)."""
    tasks = split_tasks(split, [planner], list(config.eval_weathers), config.eval_instances)
    suite = SuiteConfig(
        out_dir=out, workers=config.workers, camera_hw=config.eval_camera_hw, no_video=True, resume=out.exists()
    )
    outcome = run_suite(tasks, suite)
    if outcome.interrupted:
        raise KeyboardInterrupt
    keys = {t.key for t in tasks}
    return summarise([r for r in outcome.records if r.key in keys])


def _save(config: DaggerConfig, records: list[RoundRecord]) -> None:
    out = Path(config.out_dir)
    body = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "rounds": [asdict(r) for r in records],
    }
    (out / "dagger.json").write_text(json.dumps(body, indent=2, default=str))
    if any(r.scores for r in records):
        _plot(records, out / "dagger.png")


def _plot(records: list[RoundRecord], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [r for r in records if r.scores]
    weathers = sorted({row["weather"] for r in scored for row in r.scores})
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.3))
    for weather in weathers:
        for ax, key in zip(axes, ("ncap", "collision_rate")):
            points = [(r.round, row[key]) for r in scored for row in r.scores if row["weather"] == weather]
            ax.plot(*zip(*points), marker="o", label=weather)
    for ax, label in zip(axes, ("mean NCAP", "collision rate")):
        ax.set_xlabel("round (-1: the starting planner)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("the vision network (no guard) on val instances after each DAgger round", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
