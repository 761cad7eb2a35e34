"""Training the reinforcement-learning baseline: ``train-rl`` and its model card, ``rl-card``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from occsim.cli.common import app, defaults_of, fail, key_value_options, out
from occsim.training.configs import RlConfig

RL = defaults_of(RlConfig)


@app.command("train-rl")
def train_rl_command(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for logs, curve, checkpoint and weights/.")] = Path(
        "runs/rl"
    ),
    scenarios: Annotated[
        str, typer.Option(help="builtin (the suite), longtail-train (the benchmark's train split) or both.")
    ] = RL.scenarios,
    steps: Annotated[int, typer.Option(min=1, help="Env steps over all worlds.")] = RL.total_steps,
    envs: Annotated[int, typer.Option(min=1, help="Worlds in the batched vector env.")] = RL.num_envs,
    n_steps: Annotated[int, typer.Option(min=2, help="Steps per world between PPO updates.")] = RL.n_steps,
    batch_size: Annotated[int, typer.Option(min=2)] = RL.batch_size,
    epochs: Annotated[int, typer.Option(min=1)] = RL.epochs,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = RL.learning_rate,
    ent_coef: Annotated[float, typer.Option(min=0.0)] = RL.ent_coef,
    stack: Annotated[int, typer.Option(min=1, help="Bird's-eye images stacked.")] = RL.stack,
    seed: Annotated[int, typer.Option()] = RL.seed,
    weather: Annotated[str | None, typer.Option(help="Override every scenario's weather.")] = RL.weather,
    reward: Annotated[
        list[str] | None, typer.Option(help="A reward weight TERM=VALUE (repeatable), e.g. --reward offroad=2.")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Go on from this ppo.zip (your own file: SB3 checkpoints are pickles).")
    ] = None,
    checkpoint_steps: Annotated[
        int, typer.Option(min=1, help="Save ppo.zip and weights/ this often.")
    ] = RL.checkpoint_steps,
) -> None:
    """Train PPO on the bird's-eye occupancy observation in the batched env; Ctrl-C stops and saves."""
    from occsim.training.rl import train_rl, write_rl_card

    try:
        config = RlConfig(
            out_dir=out_dir,
            scenarios=scenarios,
            total_steps=steps,
            num_envs=envs,
            n_steps=n_steps,
            batch_size=batch_size,
            epochs=epochs,
            learning_rate=learning_rate,
            ent_coef=ent_coef,
            stack=stack,
            seed=seed,
            reward=key_value_options(reward, "--reward"),
            weather=weather,
            resume=resume,
            checkpoint_steps=checkpoint_steps,
        )
        summary = train_rl(config)
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e)) from None
    card = write_rl_card(out_dir / "weights", out_dir)
    note = " (stopped early)" if summary["interrupted"] else ""
    out.print(
        f"{summary['env_steps']:,} env steps, {summary['episodes']:,} episodes in {summary['seconds']:.0f} s{note}; "
        f"policy in {out_dir / 'weights'} (planner rl:{out_dir / 'weights'}), {card.name} and learning_curve.png"
    )


@app.command("rl-card")
def rl_card(
    weights: Annotated[Path, typer.Argument(help="A train-rl weights folder.")],
    training: Annotated[Path | None, typer.Option(help="The train-rl --out folder it came from.")] = None,
    suite: Annotated[
        Path | None, typer.Option(help="An `occsim suite --out` folder with the rl planner's runs.")
    ] = None,
) -> None:
    """Write the rl policy's MODEL_CARD.md: training, size and the suite table per planner and weather."""
    from occsim.training.rl import write_rl_card

    try:
        path = write_rl_card(weights, training, suite)
    except FileNotFoundError as e:
        raise fail(str(e)) from None
    out.print(f"wrote {path}")
