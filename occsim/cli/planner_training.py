"""The vision planner's data and training: ``collect``, ``dagger``, ``train-planner``, ``eval-planner``, its card."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from occsim.cli.common import (
    WEATHER_HELP,
    app,
    check_choices,
    defaults_of,
    err,
    fail,
    hw_text,
    out,
    parse_hw,
    scenario_option,
)
from occsim.training.configs import CollectConfig, DaggerConfig, Perturbation, TrainConfig

COLLECT, DAGGER, TRAIN, PERTURBATION = (
    defaults_of(c) for c in (CollectConfig, DaggerConfig, TrainConfig, Perturbation)
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
            min=1,
            help=f"Jittered episodes per scenario (default {COLLECT.episodes_per_scenario}); with --benchmark, "
            "instances per family.",
        ),
    ] = None,
    benchmark: Annotated[
        str | None, typer.Option(help="Collect on a benchmark split's instances instead (e.g. longtail).")
    ] = None,
    split: Annotated[str, typer.Option(help="The benchmark's split; collect on train, evaluate on test.")] = "train",
    start: Annotated[
        int, typer.Option(min=0, help="With --benchmark: skip each family's first instances (DAgger round k: 10k).")
    ] = 0,
    family: Annotated[
        list[str] | None,
        typer.Option(
            "--family",
            help="With --benchmark: only this family (repeatable), for a lesson aimed at a few families.",
        ),
    ] = None,
    driver: Annotated[
        str | None,
        typer.Option(help="A learned planner that drives while the expert labels (DAgger), e.g. vision:weights/v1."),
    ] = None,
    expert_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="With --driver: chance per step the expert's plan is executed.")
    ] = DAGGER.expert_share,
    background_seeds: Annotated[
        bool, typer.Option("--background-seeds", help="Give each episode its own buildings and trees.")
    ] = COLLECT.background_seeds,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the episode .npz files and meta.json.")] = Path(
        "data"
    ),
    workers: Annotated[int, typer.Option(min=1, help="Episodes in parallel (processes).")] = COLLECT.workers,
    camera_hw: Annotated[str, typer.Option("--camera-hw", help="Rendered HEIGHTxWIDTH.")] = hw_text(COLLECT.camera_hw),
    image_hw: Annotated[str, typer.Option("--image-hw", help="Stored HEIGHTxWIDTH (the network's input).")] = hw_text(
        COLLECT.image_hw
    ),
    perturb: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Chance per step of a perturbation.")
    ] = PERTURBATION.probability,
    zoom: ZoomOption = COLLECT.zoom,
    hide: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Chance per step that an actor within 30 m is left out of the pictures for --hide-steps steps, "
            "while it stays in the BEV targets: the lesson a BEV memory learns from.",
        ),
    ] = COLLECT.hide,
    hide_steps: Annotated[int, typer.Option(min=1, help="Steps (0.5 s each) a hidden actor stays hidden.")] = (
        COLLECT.hide_steps
    ),
    hide_max_speed: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Hide only actors at most this fast [m/s] (default: any). A hidden moving car teaches the memory "
            "to keep it where it no longer is.",
        ),
    ] = COLLECT.hide_max_speed,
) -> None:
    """Imitation data for `occsim train-planner`: expert rollouts with DAgger-style perturbations."""
    from occsim.suite.splits import BenchmarkError
    from occsim.training.collect import benchmark_jobs
    from occsim.training.collect import collect as run_collect

    if planner != "expert":
        raise fail(f"--planner: only the privileged 'expert' labels data, got {planner!r}")
    weathers = [w for w in (weather or "").split(",") if w and w != "own"]
    for checked in weathers or [None]:
        check_choices([planner, *([driver] if driver else [])], checked, "raster", {})
    if benchmark is not None and scenarios:
        raise fail("give --scenarios or --benchmark, not both")
    if benchmark is None and start:
        raise fail("--start takes a --benchmark")
    if benchmark is None and family:
        raise fail("--family takes a --benchmark")
    if benchmark is None and len(weathers) > 1:
        raise fail("--weather takes one weather without --benchmark")
    try:
        jobs = benchmark_jobs(benchmark, split, start, episodes, weathers, family) if benchmark is not None else None
    except (BenchmarkError, ValueError) as e:
        raise fail(str(e)) from None
    config = CollectConfig(
        out_dir=out_dir,
        weather=None if weather == "own" else (weathers[0] if weathers else COLLECT.weather),
        episodes_per_scenario=episodes or COLLECT.episodes_per_scenario,
        camera_hw=parse_hw(camera_hw),
        image_hw=parse_hw(image_hw, "--image-hw"),
        workers=workers,
        perturbation=Perturbation(probability=perturb),
        driver=driver,
        expert_share=expert_share if driver else COLLECT.expert_share,
        background_seeds=background_seeds,
        zoom=zoom,
        hide=hide,
        hide_steps=hide_steps,
        hide_max_speed=hide_max_speed,
    )
    meta = run_collect([] if jobs else scenario_option(scenarios), config, console=err, jobs=jobs)
    out.print(
        f"{meta['episodes']} episodes, {meta['samples']} samples in {out_dir} ({len(meta['errors'])} failed episodes)"
    )


@app.command()
def dagger(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for every round's data, weights and evaluation.")
    ] = Path("runs/dagger"),
    benchmark: Annotated[
        str, typer.Option(help="Benchmark (name or folder): train split in, val split to score each round.")
    ] = DAGGER.benchmark,
    rounds: Annotated[int, typer.Option(min=1, help="Collect-train-evaluate rounds.")] = DAGGER.rounds,
    episodes: Annotated[
        int, typer.Option(min=1, help="Train instances per family collected each round.")
    ] = DAGGER.episodes_per_round,
    expert_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="DAgger's β in round 1; round k uses β^k.")
    ] = DAGGER.expert_share,
    epochs: Annotated[int, typer.Option(min=1, help="Round 0's epochs.")] = DAGGER.epochs,
    fine_tune_epochs: Annotated[int, typer.Option(min=1, help="Each later round's epochs.")] = DAGGER.fine_tune_epochs,
    batch_size: Annotated[int, typer.Option(min=1)] = DAGGER.batch_size,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = DAGGER.learning_rate,
    init_from: Annotated[Path | None, typer.Option(help="Vision weights round 0 starts from.")] = DAGGER.init_from,
    eval_instances: Annotated[
        int, typer.Option(min=1, help="Val instances per family scored each round.")
    ] = DAGGER.eval_instances,
    eval_weather: Annotated[str, typer.Option(help="Comma-separated weathers of each round's evaluation.")] = ",".join(
        DAGGER.eval_weathers
    ),
    workers: Annotated[int, typer.Option(min=1, help="Processes for collection and evaluation.")] = DAGGER.workers,
    seed: Annotated[int, typer.Option()] = DAGGER.seed,
    object_pos_weight: Annotated[
        float, typer.Option(min=1.0, help="BCE weight of an occupied cell of the BEV objects channel.")
    ] = DAGGER.object_pos_weight,
    zoom: ZoomOption = DAGGER.zoom,
    temporal: Annotated[
        bool, typer.Option("--temporal", help="A network with a BEV memory, learned over windows of --sequence frames.")
    ] = DAGGER.temporal,
    sequence: Annotated[
        int, typer.Option(min=1, help="Frames per truncated-backpropagation window of a temporal network.")
    ] = DAGGER.sequence,
) -> None:
    """Closed-loop DAgger for the vision planner: collect (learner drives, expert labels), train, score held out."""
    from occsim.suite.splits import BenchmarkError
    from occsim.training.dagger import run_dagger

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
        temporal=temporal,
        sequence=sequence,
    )
    try:
        records = run_dagger(config, console=err)
    except (BenchmarkError, ValueError, FileNotFoundError) as e:
        raise fail(str(e)) from None
    table = Table(title=f"held-out score after each round ({DAGGER.eval_split} split slice)")
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


@app.command("choose-guard")
def choose_guard_command(
    weights: Annotated[Path, typer.Argument(help="The vision weights folder whose guard is chosen.")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for the candidates, their runs and guard_choice.json.")
    ] = Path("runs/guard_choice"),
    benchmark: Annotated[str, typer.Option(help="Benchmark (name or folder) whose split the guard is chosen on.")] = (
        DAGGER.benchmark
    ),
    split: Annotated[str, typer.Option(help="train or val; never test, which is for the model card.")] = "val",
    grid: Annotated[
        list[str] | None,
        typer.Option(
            help="SETTING=V1,V2 (repeatable): guard settings to vary from the weights' own guard; every "
            "combination is a candidate, beside the network alone. swerve_offsets=0 never swerves, V swerves V m."
        ),
    ] = None,
    instances: Annotated[int, typer.Option(min=1, help="Instances per family under each weather.")] = 3,
    weather: Annotated[str, typer.Option(help="Comma-separated weathers.")] = "clear,fog,night,rain",
    workers: Annotated[int, typer.Option(min=1, help="Runs in parallel.")] = DAGGER.workers,
    apply: Annotated[
        bool, typer.Option("--apply", help="Write the chosen guard (or none) into WEIGHTS/config.json.")
    ] = False,
) -> None:
    """Choose the vision planner's occupancy guard on a val split: every candidate in closed loop, best val score."""
    from occsim.suite.splits import BenchmarkError
    from occsim.suite.store import SuiteDirError
    from occsim.training.guard_choice import (
        apply_choice,
        base_guard,
        choose_guard,
        difference_text,
        grid_candidates,
        parse_grid,
    )

    try:
        candidates = grid_candidates(base_guard(weights), parse_grid(grid or []))
        result = choose_guard(
            weights,
            out_dir,
            candidates,
            benchmark=benchmark,
            split=split,
            instances=instances,
            weathers=tuple(w for w in weather.split(",") if w),
            workers=workers,
        )
    except (BenchmarkError, SuiteDirError, ValueError, FileNotFoundError) as e:
        raise fail(str(e)) from None
    table = Table(title=f"guard candidates on {result['split']} (val score: mean of NCAP/5 and route completion)")
    for column in ("candidate", "runs", "NCAP", "coll.", "route", "val score", "vs alone ± s.e."):
        table.add_column(column)
    for c in result["candidates"]:
        mark = " (chosen)" if c["name"] == result["chosen"] else ""
        table.add_row(
            c["name"] + mark,
            str(c["runs"]),
            f"{c['ncap']:.2f}",
            f"{c['collision_rate']:.2f}",
            f"{c['route_completion']:.2f}",
            f"{c['val_score']:.3f}",
            difference_text(c),
        )
    out.print(table)
    out.print("s.e.: standard error over instances (one instance's weathers are one cluster)")
    if apply:
        apply_choice(weights, result)
        out.print(f"wrote the chosen guard ({result['chosen']}) into {weights / 'config.json'}")
    out.print(f"guard_choice.json in {out_dir}")


@app.command("train-planner")
def train_planner(
    data_dir: Annotated[Path, typer.Argument(help="A folder written by `occsim collect`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the weights, metrics and model card.")] = Path(
        "weights/vision"
    ),
    epochs: Annotated[int, typer.Option(min=1)] = TRAIN.epochs,
    batch_size: Annotated[int, typer.Option(min=1)] = TRAIN.batch_size,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = TRAIN.learning_rate,
    val_fraction: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Fraction of episodes held out.")
    ] = TRAIN.val_fraction,
    seed: Annotated[int, typer.Option()] = TRAIN.seed,
    threads: Annotated[int | None, typer.Option(min=1, help="torch threads; default all cores.")] = TRAIN.threads,
    more_data: Annotated[
        list[Path] | None,
        typer.Option(help="Another `occsim collect` folder to train on too (repeatable; DAgger's earlier rounds)."),
    ] = None,
    init_from: Annotated[
        Path | None, typer.Option(help="Start from these vision weights (a train-planner --out folder).")
    ] = None,
    augment: Annotated[
        bool, typer.Option("--augment", help="Colour and exposure jitter on the training views.")
    ] = TRAIN.augment,
    object_pos_weight: Annotated[
        float, typer.Option(min=1.0, help="BCE weight of an occupied cell of the BEV objects channel.")
    ] = TRAIN.object_pos_weight,
    hidden_weight: Annotated[
        float,
        typer.Option(min=0.0, help="BEV loss weight of a frame drawn with an actor hidden (collect --hide)."),
    ] = TRAIN.hidden_weight,
    temporal: Annotated[
        bool, typer.Option("--temporal", help="A network with a BEV memory, learned over windows of --sequence frames.")
    ] = TRAIN.temporal,
    sequence: Annotated[
        int, typer.Option(min=1, help="Frames per truncated-backpropagation window of a temporal network.")
    ] = TRAIN.sequence,
) -> None:
    """Train the vision planner on collected data; report VAD's L2 and collision rate at 1/2/3 s."""
    from occsim.training.planner import train, write_model_card

    config = TrainConfig(
        data_dir=data_dir,
        out_dir=out_dir,
        more_data=tuple(more_data or ()),
        init_from=init_from,
        augment=augment,
        object_pos_weight=object_pos_weight,
        hidden_weight=hidden_weight,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        val_fraction=val_fraction,
        seed=seed,
        threads=threads,
        temporal=temporal,
        sequence=sequence,
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


@app.command("eval-planner")
def eval_planner(
    data_dir: Annotated[Path, typer.Argument(help="Held-out episodes from `occsim collect --split test`.")],
    weights: Annotated[list[Path], typer.Option(help="A vision weights folder (repeatable: models side by side).")],
) -> None:
    """Open-loop scores of vision planners on held-out episodes: VAD's L2 and collision at 1/2/3 s, BEV IoU."""
    from occsim.training.planner import evaluate_weights
    from occsim.training.planner_data import load_dataset

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
    guard_choice: Annotated[
        Path | None, typer.Option(help="The `occsim choose-guard` folder the weights' guard was chosen in.")
    ] = None,
    suite: Annotated[
        list[Path] | None,
        typer.Option(
            help="A suite folder (repeatable): runs are pooled and tabled by split or files and by renderer, so "
            "this model and the one it replaces on one split share a table."
        ),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            help="SPEC=NAME (repeatable): a planner's name in the tables. The name follows the last '=': a spec may "
            "hold one, as `choose-guard`'s candidate folders do."
        ),
    ] = None,
    open_loop_data: Annotated[
        Path | None, typer.Option(help="Held-out episodes (`occsim collect --split test`) for L2 and bev.png.")
    ] = None,
    baseline: Annotated[Path | None, typer.Option(help="The weights it replaces, scored open loop beside it.")] = None,
) -> None:
    """Write a vision planner's MODEL_CARD.md and bev.png from its DAgger rounds, suites and held-out episodes."""
    from occsim.training.planner_card import CardInputs, parse_labels, plan_milliseconds, write_planner_card

    try:
        labels = parse_labels(label or ())
    except ValueError as e:
        raise fail(f"--label {e}") from None
    try:
        card = write_planner_card(
            CardInputs(
                weights=weights,
                training=training or weights,
                dagger=dagger,
                guard_choice=guard_choice,
                suites=tuple(suite or ()),
                labels=labels,
                baseline=baseline,
                open_loop_data=open_loop_data,
                plan_ms=plan_milliseconds(weights),
            )
        )
    except (FileNotFoundError, ValueError, KeyError) as e:
        raise fail(str(e)) from None
    out.print(f"wrote {card}")
