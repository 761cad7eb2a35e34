"""Making data and training models: ``collect``, ``collect-render`` and the ``train-*`` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from occsim.cli.common import (
    WEATHER_HELP,
    app,
    check_choices,
    err,
    fail,
    key_value_options,
    out,
    parse_hw,
    scenario_option,
)

# The vision planner's zoom view (``VisionConfig.zoom``), recorded by both collect and dagger.
ZoomOption = Annotated[
    float,
    typer.Option(
        min=1.0, help="Also store the vision planner's zoom view: the front camera's centre, this much larger."
    ),
]


@app.command()
def collect(
    scenarios: Annotated[
        list[str] | None,
        typer.Option("--scenarios", help="Scenario names, YAML files or folders (repeatable); default the built-ins."),
    ] = None,
    planner: Annotated[str, typer.Option(help="The labelling planner (privileged).")] = "expert",
    weather: Annotated[
        str | None,
        typer.Option(
            help=WEATHER_HELP + " 'own' keeps each scenario's; default clear, or with --benchmark the split's "
            "weathers in turn (a comma-separated list is also taken in turn)."
        ),
    ] = None,
    episodes: Annotated[
        int | None,
        typer.Option(
            min=1, help="Jittered episodes per scenario (default 20); with --benchmark, instances per family."
        ),
    ] = None,
    benchmark: Annotated[
        str | None, typer.Option(help="Collect on a benchmark split's instances instead (e.g. longtail).")
    ] = None,
    split: Annotated[str, typer.Option(help="The benchmark's split; collect on train, evaluate on test.")] = "train",
    start: Annotated[
        int, typer.Option(min=0, help="With --benchmark: skip each family's first instances (DAgger round k: 10k).")
    ] = 0,
    driver: Annotated[
        str | None,
        typer.Option(help="A learned planner that drives while the expert labels (DAgger), e.g. vision:weights/v1."),
    ] = None,
    expert_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="With --driver: chance per step the expert's plan is executed.")
    ] = 0.5,
    background_seeds: Annotated[
        bool, typer.Option("--background-seeds", help="Give each episode its own buildings and trees.")
    ] = False,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the episode .npz files and meta.json.")] = Path(
        "data"
    ),
    workers: Annotated[int, typer.Option(min=1, help="Episodes in parallel (processes).")] = 1,
    camera_hw: Annotated[str, typer.Option("--camera-hw", help="Rendered HEIGHTxWIDTH.")] = "128x224",
    image_hw: Annotated[str, typer.Option("--image-hw", help="Stored HEIGHTxWIDTH (the network's input).")] = "64x112",
    perturb: Annotated[float, typer.Option(min=0.0, max=1.0, help="Chance per step of a perturbation.")] = 0.1,
    zoom: ZoomOption = 1.0,
) -> None:
    """Imitation data for `occsim train-planner`: expert rollouts with DAgger-style perturbations."""
    from occsim.suite.splits import BenchmarkError, load_split, split_slice
    from occsim.training.collect import CollectConfig, Perturbation, split_jobs
    from occsim.training.collect import collect as run_collect

    if planner != "expert":
        raise fail(f"--planner: only the privileged 'expert' labels data, got {planner!r}")
    weathers = [w for w in (weather or "").split(",") if w and w != "own"]
    for checked in weathers or [None]:
        check_choices([planner, *([driver] if driver else [])], checked, "raster", {})
    jobs = None
    if benchmark is not None:
        if scenarios:
            raise fail("give --scenarios or --benchmark, not both")
        try:
            whole = load_split(benchmark, split)
            jobs = split_jobs(split_slice(whole, start, start + episodes if episodes else None), None, weathers or None)
        except BenchmarkError as e:
            raise fail(str(e)) from None
        if not jobs:
            shortest = min(len(f.seeds) for f in whole.families.values())
            raise fail(f"--start {start}: {whole.label} has {shortest} instances per family")
        loaded = []
    else:
        if start:
            raise fail("--start takes a --benchmark")
        loaded = scenario_option(scenarios)
        if len(weathers) > 1:
            raise fail("--weather takes one weather without --benchmark")
    config = CollectConfig(
        out_dir=out_dir,
        weather=None if weather == "own" else (weathers[0] if weathers else "clear"),
        episodes_per_scenario=episodes or 20,
        camera_hw=parse_hw(camera_hw),
        image_hw=parse_hw(image_hw, "--image-hw"),
        workers=workers,
        perturbation=Perturbation(probability=perturb),
        driver=driver,
        expert_share=expert_share if driver else 1.0,
        background_seeds=background_seeds,
        zoom=zoom,
    )
    meta = run_collect(loaded, config, console=err, jobs=jobs)
    out.print(
        f"{meta['episodes']} episodes, {meta['samples']} samples in {out_dir} ({len(meta['errors'])} failed episodes)"
    )


@app.command()
def dagger(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for every round's data, weights and evaluation.")
    ] = Path("runs/dagger"),
    benchmark: Annotated[str, typer.Option(help="Benchmark (name or folder): train split in, test split out.")] = (
        "longtail"
    ),
    rounds: Annotated[int, typer.Option(min=1, help="Collect-train-evaluate rounds.")] = 3,
    episodes: Annotated[int, typer.Option(min=1, help="Train instances per family collected each round.")] = 10,
    expert_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="DAgger's β in round 1; round k uses β^k.")
    ] = 0.5,
    epochs: Annotated[int, typer.Option(min=1, help="Round 0's epochs.")] = 6,
    fine_tune_epochs: Annotated[int, typer.Option(min=1, help="Each later round's epochs.")] = 3,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 2e-3,
    init_from: Annotated[Path | None, typer.Option(help="Vision weights round 0 starts from.")] = None,
    eval_instances: Annotated[int, typer.Option(min=1, help="Test instances per family scored each round.")] = 3,
    eval_weather: Annotated[str, typer.Option(help="Comma-separated weathers of each round's evaluation.")] = (
        "clear,fog"
    ),
    workers: Annotated[int, typer.Option(min=1, help="Processes for collection and evaluation.")] = 2,
    seed: Annotated[int, typer.Option()] = 0,
    object_pos_weight: Annotated[
        float, typer.Option(min=1.0, help="BCE weight of an occupied cell of the BEV objects channel.")
    ] = 20.0,
    zoom: ZoomOption = 1.0,
) -> None:
    """Closed-loop DAgger for the vision planner: collect (learner drives, expert labels), train, score held out."""
    from occsim.suite.splits import BenchmarkError
    from occsim.training.dagger import DaggerConfig, run_dagger

    config = DaggerConfig(
        out_dir=out_dir,
        benchmark=benchmark,
        rounds=rounds,
        episodes_per_round=episodes,
        expert_share=expert_share,
        epochs=epochs,
        fine_tune_epochs=fine_tune_epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        init_from=init_from,
        eval_instances=eval_instances,
        eval_weathers=tuple(w for w in eval_weather.split(",") if w),
        workers=workers,
        seed=seed,
        object_pos_weight=object_pos_weight,
        zoom=zoom,
    )
    try:
        records = run_dagger(config, console=err)
    except (BenchmarkError, ValueError, FileNotFoundError) as e:
        raise fail(str(e)) from None
    table = Table(title="held-out score after each round (test split slice)")
    for column in ("round", "planner", "β", "episodes", "learner-driven", "weather", "NCAP", "coll.", "route"):
        table.add_column(column)
    for r in records:
        for row in r.scores or [
            {"weather": "-", "ncap": float("nan"), "collision_rate": float("nan"), "route_completion": float("nan")}
        ]:
            beta = "-" if r.expert_share is None else f"{r.expert_share:.2f}"
            table.add_row(
                str(r.round),
                r.planner,
                beta,
                str(r.episodes),
                f"{r.driven_share:.2f}",
                row["weather"],
                f"{row['ncap']:.2f}",
                f"{row['collision_rate']:.2f}",
                f"{row['route_completion']:.2f}",
            )
    out.print(table)
    out.print(f"dagger.json and dagger.png in {out_dir}")


@app.command("train-planner")
def train_planner(
    data_dir: Annotated[Path, typer.Argument(help="A folder written by `occsim collect`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the weights, metrics and model card.")] = Path(
        "weights/vision"
    ),
    epochs: Annotated[int, typer.Option(min=1)] = 6,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 2e-3,
    val_fraction: Annotated[float, typer.Option(min=0.0, max=0.9, help="Fraction of episodes held out.")] = 0.15,
    seed: Annotated[int, typer.Option()] = 0,
    threads: Annotated[int | None, typer.Option(min=1, help="torch threads; default all cores.")] = None,
    more_data: Annotated[
        list[Path] | None,
        typer.Option(help="Another `occsim collect` folder to train on too (repeatable; DAgger's earlier rounds)."),
    ] = None,
    init_from: Annotated[
        Path | None, typer.Option(help="Start from these vision weights (a train-planner --out folder).")
    ] = None,
    augment: Annotated[
        bool, typer.Option("--augment", help="Colour and exposure jitter on the training views.")
    ] = False,
    object_pos_weight: Annotated[
        float, typer.Option(min=1.0, help="BCE weight of an occupied cell of the BEV objects channel.")
    ] = 20.0,
) -> None:
    """Train the vision planner on collected data; report VAD's L2 and collision rate at 1/2/3 s."""
    from occsim.training.planner import TrainConfig, train, write_model_card

    config = TrainConfig(
        data_dir=data_dir,
        out_dir=out_dir,
        more_data=tuple(more_data or ()),
        init_from=init_from,
        augment=augment,
        object_pos_weight=object_pos_weight,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        val_fraction=val_fraction,
        seed=seed,
        threads=threads,
    )
    try:
        summary = train(config)
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e)) from None
    card = write_model_card(out_dir, summary)
    best = summary["best"]
    table = Table(title=f"validation, best epoch {summary['best_epoch']} ({summary['val_samples']} samples)")
    for column in ("", "1 s", "2 s", "3 s"):
        table.add_column(column)
    table.add_row("L2 [m]", *(f"{best.get(f'val_L2_{h}s', float('nan')):.3f}" for h in (1, 2, 3)))
    table.add_row("collision [%]", *(f"{100 * best.get(f'val_collision_{h}s', float('nan')):.2f}" for h in (1, 2, 3)))
    out.print(table)
    if "val_objects_recall" in best:
        out.print(
            f"BEV objects: IoU {best['val_bev_iou_objects']:.3f}, precision {best['val_objects_precision']:.3f}, "
            f"recall {best['val_objects_recall']:.3f}"
        )
    out.print(f"{summary['samples']} samples, {summary['seconds']:.0f} s; weights and {card.name} in {out_dir}")


@app.command("train-rl")
def train_rl_command(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for logs, curve, checkpoint and weights/.")] = Path(
        "runs/rl"
    ),
    scenarios: Annotated[
        str, typer.Option(help="builtin (the suite), longtail-train (the benchmark's train split) or both.")
    ] = "builtin",
    steps: Annotated[int, typer.Option(min=1, help="Env steps over all worlds.")] = 200_000,
    envs: Annotated[int, typer.Option(min=1, help="Worlds in the batched vector env.")] = 8,
    n_steps: Annotated[int, typer.Option(min=2, help="Steps per world between PPO updates.")] = 128,
    batch_size: Annotated[int, typer.Option(min=2)] = 256,
    epochs: Annotated[int, typer.Option(min=1)] = 4,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 3e-4,
    ent_coef: Annotated[float, typer.Option(min=0.0)] = 0.01,
    stack: Annotated[int, typer.Option(min=1, help="Bird's-eye images stacked.")] = 3,
    seed: Annotated[int, typer.Option()] = 0,
    weather: Annotated[str | None, typer.Option(help="Override every scenario's weather.")] = None,
    reward: Annotated[
        list[str] | None, typer.Option(help="A reward weight TERM=VALUE (repeatable), e.g. --reward offroad=2.")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Go on from this ppo.zip (your own file: SB3 checkpoints are pickles).")
    ] = None,
    checkpoint_steps: Annotated[int, typer.Option(min=1, help="Save ppo.zip and weights/ this often.")] = 20_000,
) -> None:
    """Train PPO on the bird's-eye occupancy observation in the batched env; Ctrl-C stops and saves."""
    from occsim.training.rl import RlConfig, train_rl, write_rl_card

    weights = key_value_options(reward, "--reward")
    for term, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(f"--reward {term} takes a number, got {value!r}")
        weights[term] = float(value)
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
        reward=weights,
        weather=weather,
        resume=resume,
        checkpoint_steps=checkpoint_steps,
    )
    try:
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


@app.command("eval-planner")
def eval_planner(
    data_dir: Annotated[Path, typer.Argument(help="Held-out episodes from `occsim collect --split test`.")],
    weights: Annotated[list[Path], typer.Option(help="A vision weights folder (repeatable: models side by side).")],
) -> None:
    """Open-loop scores of vision planners on held-out episodes: VAD's L2 and collision at 1/2/3 s, BEV IoU."""
    from occsim.training.planner import evaluate_weights, load_dataset

    try:
        rows = evaluate_weights(list(weights), load_dataset(data_dir))
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e)) from None
    table = Table(title=f"open loop on {data_dir} ({rows[0]['samples']} samples)")
    for column in ("weights", "L2 1/2/3 s [m]", "collision 1/2/3 s [%]", "BEV IoU objects/static/road", "objects P/R"):
        table.add_column(column)
    for row in rows:
        folder = Path(row["weights"])
        table.add_row(
            f"{folder.parent.name}/{folder.name}",
            " / ".join(f"{row[f'L2_{h}s']:.2f}" for h in (1, 2, 3)),
            " / ".join(f"{100 * row[f'collision_{h}s']:.2f}" for h in (1, 2, 3)),
            " / ".join(f"{row[f'bev_iou_{c}']:.2f}" for c in ("objects", "static", "driveable")),
            f"{row['objects_precision']:.2f} / {row['objects_recall']:.2f}",
        )
    out.print(table)


@app.command("planner-card")
def planner_card(
    weights: Annotated[Path, typer.Argument(help="The vision weights folder the card is written into.")],
    training: Annotated[
        Path | None, typer.Option(help="The final training's --out folder (metrics.json); default WEIGHTS.")
    ] = None,
    dagger: Annotated[Path | None, typer.Option(help="The `occsim dagger` folder the model came from.")] = None,
    suite: Annotated[Path | None, typer.Option(help="A suite folder with this model on the test split.")] = None,
    baseline_suite: Annotated[
        Path | None, typer.Option(help="A suite folder with the model it replaces on the same split.")
    ] = None,
    open_loop_data: Annotated[
        Path | None, typer.Option(help="Held-out episodes (`occsim collect --split test`) for L2 and bev.png.")
    ] = None,
    baseline: Annotated[Path | None, typer.Option(help="The weights it replaces, scored open loop beside it.")] = None,
) -> None:
    """Write a vision planner's MODEL_CARD.md and bev.png from its DAgger rounds, suites and held-out episodes."""
    from occsim.training.planner_card import CardInputs, plan_milliseconds, write_planner_card

    try:
        card = write_planner_card(
            CardInputs(
                weights=weights,
                training=training or weights,
                dagger=dagger,
                suite=suite,
                baseline_suite=baseline_suite,
                baseline=baseline,
                open_loop_data=open_loop_data,
                plan_ms=plan_milliseconds(weights),
            )
        )
    except (FileNotFoundError, ValueError, KeyError) as e:
        raise fail(str(e)) from None
    out.print(f"wrote {card}")


@app.command("collect-render")
def collect_render(
    scenarios: Annotated[
        list[str] | None,
        typer.Option("--scenarios", help="Scenario names, YAML files or folders (repeatable); default the built-ins."),
    ] = None,
    episodes: Annotated[int, typer.Option(min=1, help="Episodes per scenario, each under a random weather.")] = 4,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the episode .npz files.")] = Path("data/render"),
    image_hw: Annotated[
        str, typer.Option("--image-hw", help="Target views HEIGHTxWIDTH (multiples of the latent factor).")
    ] = "64x112",
    latent_factor: Annotated[
        int, typer.Option(min=1, help="Image pixels per latent pixel: 4 for the small default, 8 for Stable Diffusion.")
    ] = 4,
    planes: Annotated[
        int | None, typer.Option(min=1, help="MPI depth planes; default 32 (the release's 256 with --layout official).")
    ] = None,
    weather: Annotated[
        str | None, typer.Option(help="One weather for every episode; default a random one each.")
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed offset: another value gives other jitters (for evaluation sets).")
    ] = 0,
    layout: Annotated[
        str, typer.Option(help="MPI encoding: occsim, or official (the released SyntheOcc's 256 planes and ids).")
    ] = "occsim",
    nuscenes: Annotated[
        Path | None,
        typer.Option(help="A nuScenes dataroot: pair its real camera JPEGs with MPIs from Occ3D labels instead."),
    ] = None,
    version: Annotated[str, typer.Option(help="With --nuscenes: the metadata version folder.")] = "v1.0-trainval",
    occ3d: Annotated[
        Path | None, typer.Option(help="With --nuscenes: the Occ3D gts folder (<scene>/<token>/labels.npz).")
    ] = None,
    scenes: Annotated[
        list[str] | None, typer.Option("--scenes", help="With --nuscenes: scene names (repeatable); default all.")
    ] = None,
) -> None:
    """Training pairs for the diffusion renderers: raster (or real nuScenes) views, latent MPIs, occupancy, prompts."""
    from occsim.data.nuscenes import NuScenesError
    from occsim.training.collect_nuscenes import NuScenesRenderConfig, collect_nuscenes
    from occsim.training.collect_render import RenderCollectConfig
    from occsim.training.collect_render import collect_render as run

    hw = parse_hw(image_hw, "--image-hw")
    if hw[0] % latent_factor or hw[1] % latent_factor:
        raise fail(f"--image-hw must be multiples of --latent-factor {latent_factor}, got {image_hw!r}")
    if layout not in ("occsim", "official"):
        raise fail(f"--layout must be occsim or official, got {layout!r}")
    if layout == "official" and planes not in (None, 256):
        raise fail(f"--layout official has the release's 256 planes, not --planes {planes}")
    planes = planes or (256 if layout == "official" or nuscenes is not None else 32)
    if nuscenes is not None:
        config = NuScenesRenderConfig(
            nuscenes, out_dir, version, occ3d, tuple(scenes or ()), hw, latent_factor, planes, layout=layout
        )
        try:
            meta = collect_nuscenes(config)
        except NuScenesError as e:
            raise fail(str(e)) from None
        out.print(f"{meta['episodes']} scenes, {meta['samples']} keyframes in {out_dir}")
        return
    check_choices([], weather, "raster", {})
    loaded = scenario_option(scenarios)
    config = RenderCollectConfig(
        out_dir, episodes, hw, latent_factor, planes, weather=weather, seed=seed, layout=layout
    )
    meta = run(loaded, config)
    out.print(f"{meta['episodes']} episodes, {meta['samples']} samples in {out_dir}")


@app.command("train-syntheocc")
def train_syntheocc(
    data_dir: Annotated[Path, typer.Argument(help="A folder written by `occsim collect-render`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the pipeline, metrics and model card.")] = Path(
        "weights/syntheocc"
    ),
    base: Annotated[
        Path | None,
        typer.Option(help="Local Stable Diffusion directory (vae/, unet/, ...); default the small model built here."),
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps of the diffusion stage.")] = 4000,
    vae_steps: Annotated[int, typer.Option(min=1, help="Small default: steps of its autoencoder stage.")] = 600,
    pixel_space: Annotated[
        bool, typer.Option(help="Small default: lossless 4x4 pixel folding instead of a trained autoencoder.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Six-view samples per step and process.")] = 4,
    learning_rate: Annotated[
        float | None, typer.Option(min=0.0, help="Default 3e-4 (small model) or 1e-5 (with --base).")
    ] = None,
    mixed_precision: Annotated[str, typer.Option(help="no, fp16 or bf16 (accelerate's).")] = "no",
    held_out: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of episodes held out.")] = 0.1,
    eval_samples: Annotated[int, typer.Option(min=1, help="Held-out samples generated for the model card.")] = 24,
    save_every: Annotated[int, typer.Option(min=1, help="Steps between checkpoints.")] = 1000,
    seed: Annotated[int, typer.Option()] = 0,
    format: Annotated[  # noqa: A002 - the option's documented name
        str,
        typer.Option(help="occsim, or official: the released SyntheOcc's layout on an SD 2.1 --base."),
    ] = "occsim",
    init_from: Annotated[
        Path | None,
        typer.Option(help="Go on training a model: a train-syntheocc folder, or (--format official) a release."),
    ] = None,
    foreground_gain: Annotated[
        float, typer.Option(min=1.0, help="Eq. 6's m: the largest weight of object pixels (paper: 2).")
    ] = 2.0,
    near_lane_boost: Annotated[
        float, typer.Option(min=1.0, help="Sampling weight x this for frames with an object in the ego's corridor.")
    ] = 1.0,
    gradient_checkpointing: Annotated[
        bool, typer.Option(help="Recompute activations in the backward pass (full-size models on a GPU).")
    ] = False,
) -> None:
    """Train the SyntheOcc renderer (also under `accelerate launch`), then measure it and write its model card."""
    from occsim.training.card import document
    from occsim.training.syntheocc import SyntheOccTrainConfig
    from occsim.training.syntheocc import train_syntheocc as run

    if mixed_precision not in ("no", "fp16", "bf16"):
        raise fail(f"--mixed-precision must be no, fp16 or bf16, got {mixed_precision!r}")
    config = SyntheOccTrainConfig(
        data_dir=data_dir,
        out_dir=out_dir,
        base=base,
        steps=steps,
        vae_steps=vae_steps,
        pixel_space=pixel_space,
        batch_size=batch_size,
        learning_rate=learning_rate,
        mixed_precision=mixed_precision,
        held_out=held_out,
        save_every=save_every,
        seed=seed,
        format=format,
        init_from=init_from,
        foreground_gain=foreground_gain,
        near_lane_boost=near_lane_boost,
        gradient_checkpointing=gradient_checkpointing,
    )
    try:
        pipe, record = run(config)
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e)) from None
    if not record["held_out_episodes"]:
        out.print(f"trained in {record['train_seconds']:.0f} s; no held-out episodes, so no evaluation")
        return
    result = document(pipe, record, data_dir, out_dir, samples=eval_samples, seed=seed)
    table = Table(title=f"layout agreement on {result['evaluation']['samples']} held-out samples (segmentation probe)")
    for column in ("views", "pixel accuracy", "mIoU"):
        table.add_column(column)
    for name in ("raster", "syntheocc", "empty_mpi", "shuffled_mpi"):
        figures = result["evaluation"][name]
        table.add_row(name, f"{figures['pixel_accuracy']:.3f}", f"{figures['miou']:.3f}")
    out.print(table)
    out.print(f"trained in {record['train_seconds']:.0f} s; model card: {out_dir / 'MODEL_CARD.md'}")


@app.command("train-perception")
def train_perception(
    data_dir: Annotated[Path, typer.Argument(help="A folder written by `occsim collect-render`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the model and metrics.json.")] = Path(
        "weights/perception"
    ),
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps.")] = 3000,
    batch_size: Annotated[int, typer.Option(min=1, help="Six-view samples per step.")] = 8,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 1e-3,
    held_out: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of episodes held out.")] = 0.1,
    evaluate: Annotated[
        list[Path] | None, typer.Option(help="Another collect-render folder to score on (repeatable).")
    ] = None,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train the camera-based occupancy perception model; report its mIoU on held-out episodes per weather."""
    from occsim.training.episodes import episode_files
    from occsim.training.perception import OccupancySamples, PerceptionTrainConfig, score, write_card
    from occsim.training.perception import train_perception as run

    config = PerceptionTrainConfig(data_dir, out_dir, steps, batch_size, learning_rate, held_out, seed)
    try:
        model, record = run(config)
        extra = {
            str(f): score(model, OccupancySamples.load(episode_files(f), model.config.coarse)) for f in evaluate or []
        }
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e)) from None
    if extra:
        record["evaluation"] = extra
        (out_dir / "metrics.json").write_text(json.dumps(record, indent=1))
    write_card(out_dir, record)
    table = Table(title="occupancy perception (coarse 1.6 x 1.6 x 0.8 m cells)")
    for column in ("set", "weather", "samples", "mIoU", "IoU"):
        table.add_column(column)
    for name, figures in [("held-out", record["held_out"]), *extra.items()]:
        for weather, f in figures.items():
            table.add_row(name, weather, str(f["samples"]), f"{f['miou']:.3f}", f"{f['iou']:.3f}")
    out.print(table)
    out.print(f"trained in {record['train_seconds']:.0f} s; model and metrics in {out_dir}")


@app.command("train-occscene")
def train_occscene(
    data_dir: Annotated[Path, typer.Argument(help="A folder written by `occsim collect-render`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the pipeline, metrics and model card.")] = Path(
        "weights/occscene"
    ),
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps, both stages.")] = 400,
    stage_two: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the steps in stage II (f_delta trains too).")
    ] = 0.5,
    batch_size: Annotated[int, typer.Option(min=1, help="Consecutive-frame pairs per step.")] = 2,
    mixer: Annotated[str, typer.Option(help="The alignment's sequence mixer: mamba or attention.")] = "mamba",
    camera_encoding: Annotated[
        bool, typer.Option("--camera-encoding/--no-camera-encoding", help="The camera parameter encoder (eq. 3).")
    ] = True,
    joint: Annotated[
        bool, typer.Option("--joint/--no-joint", help="Condition on f_delta's perceived occupancy (Algorithm 2).")
    ] = True,
    context_dropout: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of steps without context.")] = 0.2,
    syntheocc: Annotated[
        Path | None, typer.Option(help="The SyntheOcc model to start from; default the shipped small one.")
    ] = None,
    perception: Annotated[
        Path | None, typer.Option(help="f_delta's starting weights; default the shipped perception model.")
    ] = None,
    evaluate: Annotated[
        list[Path] | None, typer.Option(help="Another collect-render folder to score on (repeatable).")
    ] = None,
    clips: Annotated[int, typer.Option(min=1, help="Clips scored per set for the model card.")] = 4,
    length: Annotated[int, typer.Option(min=2, help="Frames per clip.")] = 3,
    device: Annotated[str, typer.Option(help="torch device.")] = "cpu",
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train the OccScene renderer (two stages, joint perception-generation), then measure it and write its card."""
    from occsim.training.episodes import episode_files, split_episodes
    from occsim.training.occscene import FrameSamples, OccSceneTrainConfig, document
    from occsim.training.occscene import train_occscene as run

    if mixer not in ("mamba", "attention"):
        raise fail(f"--mixer must be mamba or attention, got {mixer!r}")
    config = OccSceneTrainConfig(
        data_dir,
        out_dir,
        syntheocc=syntheocc,
        perception=perception,
        steps=steps,
        stage_two=stage_two,
        batch_size=batch_size,
        context_dropout=context_dropout,
        joint=joint,
        mixer=mixer,
        camera_encoding=camera_encoding,
        device=device,
        seed=seed,
    )
    try:
        run(config)
        _, held = split_episodes(episode_files(data_dir), config.held_out, seed)
        sets = [("held-out episodes", FrameSamples.load(held))] if held else []
        sets += [(str(folder), FrameSamples.load(episode_files(folder))) for folder in evaluate or []]
        if sets:
            record = document(out_dir, sets, clips, length)
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e)) from None
    if sets:
        table = Table(title="OccScene on held-out clips (perceived mIoU; reprojection error [0-255]; s / frame)")
        for column in ("set", "views", "mIoU", "reproj.", "s/frame"):
            table.add_column(column)
        for name, per in record["evaluation"]["sets"].items():
            for which, r in per.items():
                table.add_row(
                    name,
                    which,
                    f"{r['perceived_miou']:.3f}",
                    f"{r['reprojection']:.2f}",
                    f"{r['seconds_per_frame']:.2f}",
                )
        out.print(table)
    out.print(f"model, metrics and model card in {out_dir}")


@app.command("distill-syntheocc")
def distill_syntheocc(
    data_dir: Annotated[Path, typer.Argument(help="A collect-render folder matching the teacher's sizes.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the distilled pipeline and its card.")] = Path(
        "weights/syntheocc-lcm"
    ),
    teacher: Annotated[
        Path | None, typer.Option(help="A train-syntheocc folder; default the shipped syntheocc-small.")
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps.")] = 1500,
    batch_size: Annotated[int, typer.Option(min=1, help="Six-view samples per step.")] = 2,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 1e-4,
    guidance: Annotated[float, typer.Option(min=1.0, help="The teacher's guidance, baked into the student.")] = 7.5,
    sample_steps: Annotated[int, typer.Option(min=1, max=50, help="The distilled model's default steps.")] = 4,
    held_out: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of episodes held out.")] = 0.1,
    eval_samples: Annotated[int, typer.Option(min=1, help="Held-out samples for the side-by-side figures.")] = 12,
    eval_dir: Annotated[
        Path | None,
        typer.Option("--eval", help="A collect-render folder for the figures (e.g. --seed 1); default the held-out."),
    ] = None,
    save_every: Annotated[int, typer.Option(min=1, help="Steps between checkpoints.")] = 500,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Consistency-distil a SyntheOcc model for 2-4 step sampling, then compare it with its teacher side by side."""
    from occsim.generative.renderers.syntheocc import SMALL_WEIGHTS
    from occsim.training.distill import DistillConfig, distill_and_compare

    config = DistillConfig(
        data_dir=data_dir,
        out_dir=out_dir,
        teacher=teacher or SMALL_WEIGHTS,
        steps=steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        guidance=guidance,
        sample_steps=sample_steps,
        held_out=held_out,
        save_every=save_every,
        seed=seed,
    )
    try:
        record, rows = distill_and_compare(config, eval_dir, eval_samples)
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e)) from None
    if rows is None:
        out.print(f"distilled in {record['train_seconds']:.0f} s; no evaluation episodes or teacher probe: no figures")
        return
    table = Table(title=f"fidelity on {eval_samples} held-out samples, same seeds")
    for column in ("sampling", "probe mIoU", "perceived mIoU", "s / sample"):
        table.add_column(column)
    for r in rows:
        seconds = "-" if r["seconds_per_sample"] is None else f"{r['seconds_per_sample']:.2f}"
        table.add_row(r["setting"], f"{r['probe_miou']:.3f}", f"{r['perceived_miou']:.3f}", seconds)
    out.print(table)
    out.print(f"distilled in {record['train_seconds']:.0f} s; model card: {out_dir / 'MODEL_CARD.md'}")


@app.command("tune-decoder")
def tune_decoder(
    data_dir: Annotated[Path, typer.Argument(help="A collect-render folder at the models' image size.")],
    weights: Annotated[
        list[Path] | None,
        typer.Option(help="Model folders sharing one autoencoder (repeatable); default the shipped small models."),
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps.")] = 3000,
    batch_size: Annotated[int, typer.Option(min=1, help="Single views per step.")] = 16,
    foreground_weight: Annotated[float, typer.Option(min=1.0, help="Loss weight of object-class pixels.")] = 4.0,
    held_out: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of episodes held out.")] = 0.1,
    eval_dir: Annotated[
        Path | None, typer.Option("--eval", help="A collect-render folder for the figures; default the held-out.")
    ] = None,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train a model's autoencoder decoder further (encoder frozen, so its diffusion model stays valid)."""
    from occsim.generative.renderers.occscene import SMALL_OCCSCENE
    from occsim.generative.renderers.syntheocc import SMALL_WEIGHTS
    from occsim.training.decoder import DecoderTuning, tune_shared_decoder

    folders = weights or [SMALL_WEIGHTS, SMALL_OCCSCENE]
    tuning = DecoderTuning(steps=steps, batch_size=batch_size, foreground_weight=foreground_weight, seed=seed)
    try:
        record = tune_shared_decoder(folders, data_dir, tuning, held_out, eval_dir)
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e)) from None
    before, after, seconds = record["before"], record["after"], record["seconds"]
    table = Table(title="autoencoder round trip before and after")
    for column in ("decoder", "L1 [0-255]", "L1 on objects", "perceived mIoU"):
        table.add_column(column)
    for name, r in (("before", before), ("after", after)):
        table.add_row(name, f"{r['l1']:.2f}", f"{r['foreground_l1']:.2f}", f"{r['perceived_miou']:.3f}")
    out.print(table)
    out.print(
        f"raster views: perceived mIoU {after['raster_perceived_miou']:.3f}; {seconds:.0f} s; saved in "
        + ", ".join(map(str, folders))
    )
